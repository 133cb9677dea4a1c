// Command worker is an example tool worker built with toolkit. It serves two
// tools of the Hooli toolkit over Arcade's worker protocol:
//
//   - Hooli.WhoAmI needs a user's token from an authorization-code provider
//     and calls Hooli's user-info endpoint with it;
//   - Hooli.ServiceStatus needs a service token from a client-credentials
//     provider and reads Hooli's status endpoint.
//
// The engine fetches the tokens and passes them in each call's context; the
// tools never see a client secret or a refresh token.
//
// Usage:
//
//	AUTHENGINE_WORKER_SECRET=... HOOLI_API_URL=https://hooli.example go run ./examples/worker [-addr 127.0.0.1:8002] [-dev]
//	    [-user-provider hooli]
//
// With `-user-provider demo` and HOOLI_API_URL=http://localhost:9099/demo,
// WhoAmI uses the engine's built-in demo provider (development mode), so
// the worker can be tried with the engine alone.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/authengine/authengine/toolkit"
)

const (
	defaultAddr   = "127.0.0.1:8002"
	defaultAPIURL = "https://hooli.example"
	maxUpstream   = 1 << 20
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], os.Getenv, logger); err != nil {
		logger.Error("worker stopped", "error", err.Error())
		os.Exit(1)
	}
}

// run parses flags and the environment and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	addr := fs.String("addr", defaultAddr, "address to listen on")
	dev := fs.Bool("dev", false, `development mode: use the secret "dev" when AUTHENGINE_WORKER_SECRET is unset`)
	userProvider := fs.String("user-provider", "hooli", "the engine's provider id WhoAmI needs a user token from (demo: the engine's built-in demo provider)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := getenv("AUTHENGINE_WORKER_SECRET")
	if secret == "" {
		if !*dev {
			return errors.New("AUTHENGINE_WORKER_SECRET is not set (pass -dev to use the development secret)")
		}
		logger.Warn(`AUTHENGINE_WORKER_SECRET is not set: using the development secret "dev"; never do this in production`)
		secret = "dev"
	}
	apiURL := getenv("HOOLI_API_URL")
	if apiURL == "" {
		apiURL = defaultAPIURL
	}
	w, err := newWorker(secret, apiURL, *userProvider, &http.Client{Timeout: 10 * time.Second}, logger)
	if err != nil {
		return err
	}
	return w.ListenAndServe(ctx, *addr)
}

// newWorker builds the worker and its tools. apiURL is Hooli's base URL;
// userProvider the provider id WhoAmI requires.
func newWorker(secret, apiURL, userProvider string, hc *http.Client, logger *slog.Logger) (*toolkit.Worker, error) {
	w, err := toolkit.NewWorker(toolkit.WorkerOptions{
		Toolkit: toolkit.ToolkitDefinition{Name: "Hooli", Description: "Tools for the Hooli API", Version: "1.0.0"},
		Secret:  secret,
		Logger:  logger,
	})
	if err != nil {
		return nil, err
	}
	h := &hooli{base: strings.TrimRight(apiURL, "/"), http: hc}
	err = w.Register(
		toolkit.New(toolkit.Definition{
			Name:              "WhoAmI",
			Description:       "Returns the Hooli profile of the current user.",
			OutputDescription: "The user's Hooli profile",
			// userProvider ("hooli" by default) is an auth.providers[].id in
			// engine.yaml, an authorization_code provider.
			RequiresAuth: &toolkit.OAuth2{ID: userProvider, Scopes: []string{"profile", "email"}},
		}, h.whoAmI),
		toolkit.New(toolkit.Definition{
			Name:              "ServiceStatus",
			Description:       "Reports the status of Hooli's services.",
			OutputDescription: "The status of each service",
			// "hooli-service" is a client_credentials provider: the token is the service's own.
			RequiresAuth: &toolkit.OAuth2{ID: "hooli-service", Scopes: []string{"status:read"}},
		}, h.serviceStatus),
	)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// hooli calls Hooli's API with the token the engine passed.
type hooli struct {
	base string
	http *http.Client
}

type whoAmIIn struct{}

func (h *hooli) whoAmI(ctx context.Context, tc toolkit.Context, _ whoAmIIn) (any, error) {
	return h.get(ctx, tc.Authorization.Token, "/oauth/userinfo")
}

type serviceStatusIn struct {
	Service string `json:"service,omitempty" desc:"Only this service (all services when empty)"`
}

func (h *hooli) serviceStatus(ctx context.Context, tc toolkit.Context, in serviceStatusIn) (any, error) {
	path := "/api/status"
	if in.Service != "" {
		path += "?service=" + url.QueryEscape(in.Service)
	}
	return h.get(ctx, tc.Authorization.Token, path)
}

// get calls Hooli with a bearer token and decodes the JSON answer, mapping
// failures to toolkit's typed errors.
func (h *hooli) get(ctx context.Context, token, path string) (any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("build Hooli request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, &toolkit.Error{Kind: toolkit.KindNetworkTransportRuntimeUnreachable,
			Message: "Hooli is unreachable", CanRetry: true, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstream))
	if err != nil {
		return nil, &toolkit.RetryableError{Message: "reading Hooli's answer failed", Err: err}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, &toolkit.UpstreamAuthError{Message: "Hooli refused the token"}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &toolkit.UpstreamError{StatusCode: resp.StatusCode,
			Message: fmt.Sprintf("Hooli answered HTTP %d", resp.StatusCode)}
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, &toolkit.UpstreamError{StatusCode: resp.StatusCode, Message: "Hooli's answer is not JSON"}
	}
	return v, nil
}
