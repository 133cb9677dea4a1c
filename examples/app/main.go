// Command app is an example app that uses the engine the way an app built
// on Arcade's clients does, with nothing but net/http: it asks the engine
// to authorize a user for a tool, prints the URL the user must open, waits
// for the authorization to complete, then runs the tool and prints its
// output.
//
// Usage:
//
//	AUTHENGINE_API_KEY=... go run ./examples/app [-engine http://localhost:9099] [-user ada@example.com]
//	    [-tool Hooli.WhoAmI] [-input '{}']
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	engineURL := fs.String("engine", envOr(getenv, "AUTHENGINE_URL", "http://localhost:9099"), "the engine's base URL (env AUTHENGINE_URL)")
	key := fs.String("key", getenv("AUTHENGINE_API_KEY"), "API key (env AUTHENGINE_API_KEY)")
	user := fs.String("user", envOr(getenv, "AUTHENGINE_USER_ID", "ada@example.com"), "the user to act for (env AUTHENGINE_USER_ID)")
	tool := fs.String("tool", "Hooli.WhoAmI", "the tool to run")
	rawInput := fs.String("input", "{}", "the tool's input, a JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		return errors.New("no API key: set AUTHENGINE_API_KEY (the engine prints it on first start in development mode) or pass -key")
	}
	var input map[string]any
	if err := json.Unmarshal([]byte(*rawInput), &input); err != nil {
		return fmt.Errorf("-input is not a JSON object: %w", err)
	}
	c := &client{base: strings.TrimRight(*engineURL, "/"), key: *key, http: &http.Client{Timeout: 60 * time.Second}}

	// 1. Ask for the tool's authorization; connect the user if needed.
	var auth authorization
	if err := c.post(ctx, "/v1/tools/authorize", map[string]any{"tool_name": *tool, "user_id": *user}, &auth); err != nil {
		return fmt.Errorf("authorize %s: %w", *tool, err)
	}
	if err := c.waitForCompletion(ctx, auth, out); err != nil {
		return err
	}

	// 2. Run the tool. A 403 means the user must (re)connect: do it once more.
	for attempt := 0; ; attempt++ {
		var res executeResponse
		err := c.post(ctx, "/v1/tools/execute", map[string]any{"tool_name": *tool, "user_id": *user, "input": input}, &res)
		var apiErr *apiError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden && apiErr.Authorization != nil && attempt == 0 {
			if err := c.waitForCompletion(ctx, *apiErr.Authorization, out); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("execute %s: %w", *tool, err)
		}
		return printResult(out, *tool, res)
	}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// authorization is the engine's AuthorizationResponse.
type authorization struct {
	ID         string   `json:"id"`
	Status     string   `json:"status"`
	URL        string   `json:"url"`
	Scopes     []string `json:"scopes"`
	ProviderID string   `json:"provider_id"`
	Reason     string   `json:"reason"`
}

// executeResponse is the engine's ExecuteToolResponse.
type executeResponse struct {
	ExecutionID string  `json:"execution_id"`
	Success     bool    `json:"success"`
	Duration    float64 `json:"duration"`
	Output      struct {
		Value any `json:"value"`
		Error *struct {
			Message string `json:"message"`
			Kind    string `json:"kind"`
		} `json:"error"`
	} `json:"output"`
}

// apiError is the engine's JSON error body.
type apiError struct {
	Status        int            `json:"-"`
	Name          string         `json:"name"`
	Message       string         `json:"message"`
	Authorization *authorization `json:"authorization"`
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Name, e.Message) }

// waitForCompletion prints the URL of a pending authorization and waits
// for it with long polls (GET /v1/auth/status?wait=45), stopping on
// completed, on failed, and on 410 flow_failed.
func (c *client) waitForCompletion(ctx context.Context, a authorization, out io.Writer) error {
	if a.Status == "completed" {
		fmt.Fprintf(out, "Authorization for %s is already complete.\n", a.ProviderID)
		return nil
	}
	if a.Status != "pending" || a.URL == "" {
		return fmt.Errorf("authorization %s is %s: %s", a.ID, a.Status, a.Reason)
	}
	fmt.Fprintf(out, "Open this URL to connect your %s account (scopes %s):\n\n  %s\n\nWaiting for you to finish...\n",
		a.ProviderID, strings.Join(a.Scopes, " "), a.URL)
	for {
		var next authorization
		err := c.get(ctx, "/v1/auth/status?id="+url.QueryEscape(a.ID)+"&wait=45", &next)
		var apiErr *apiError
		switch {
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusGone:
			return fmt.Errorf("authorization failed: %s", apiErr.Message)
		case err != nil:
			return fmt.Errorf("wait for authorization: %w", err)
		}
		switch next.Status {
		case "completed":
			fmt.Fprintf(out, "Connected to %s.\n", next.ProviderID)
			return nil
		case "failed":
			return fmt.Errorf("authorization failed: %s", next.Reason)
		}
	}
}

func printResult(out io.Writer, tool string, res executeResponse) error {
	if !res.Success {
		if res.Output.Error != nil {
			return fmt.Errorf("%s failed (%s): %s", tool, res.Output.Error.Kind, res.Output.Error.Message)
		}
		return fmt.Errorf("%s failed", tool)
	}
	value, err := json.MarshalIndent(res.Output.Value, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s returned (%.1f ms, execution %s):\n%s\n", tool, res.Duration, res.ExecutionID, value)
	return nil
}

// client calls the engine's HTTP API.
type client struct {
	base, key string
	http      *http.Client
}

func (c *client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

func (c *client) post(ctx context.Context, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, raw, out)
}

// do sends one request and decodes a 2xx JSON answer into out; any other
// answer is an *apiError.
func (c *client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(raw, e) != nil || e.Name == "" {
			e.Name, e.Message = "http_error", http.StatusText(resp.StatusCode)
		}
		return e
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}
