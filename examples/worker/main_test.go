package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/workerclient"
	"github.com/authengine/authengine/toolkit"
)

const secret = "example-worker-secret-at-least-32-bytes"

// hooliAPI stands in for Hooli: it answers only the tokens it issued.
func hooliAPI(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/userinfo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer user-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"sub":"u-1","email":"ada@hooli.example"}`))
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer service-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if s := r.URL.Query().Get("service"); s != "" {
			w.Write([]byte(`{"` + s + `":"ok"}`))
			return
		}
		w.Write([]byte(`{"mail":"ok","search":"degraded"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestTheExampleToolsCallHooliWithTheTokenTheyAreGiven(t *testing.T) {
	api := hooliAPI(t)
	w, err := newWorker(secret, api.URL, "hooli", api.Client(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	defer srv.Close()
	c := workerclient.New(workerclient.Options{ID: "example", URI: srv.URL, Secret: secret})

	defs, err := c.Tools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 2 || defs[0].Requirements.Authorization.ID != "hooli" || defs[1].Requirements.Authorization.ID != "hooli-service" {
		t.Fatalf("definitions = %+v", defs)
	}

	cases := []struct {
		name, tool, token string
		inputs            map[string]any
		wantValue         string
		wantKind          toolkit.ErrorKind
	}{
		{"WhoAmI returns the user's profile", "WhoAmI", "user-token", nil, `{"email":"ada@hooli.example","sub":"u-1"}`, ""},
		{"WhoAmI reports a refused token as an upstream auth error", "WhoAmI", "revoked", nil, "", toolkit.KindUpstreamRuntimeAuthError},
		{"ServiceStatus returns every service", "ServiceStatus", "service-token", nil, `{"mail":"ok","search":"degraded"}`, ""},
		{"ServiceStatus filters by service", "ServiceStatus", "service-token", map[string]any{"service": "mail"}, `{"mail":"ok"}`, ""},
		{"ServiceStatus refuses unknown inputs", "ServiceStatus", "service-token", map[string]any{"region": "eu"}, "", toolkit.KindToolRuntimeBadInputValue},
		{"a call without a token is refused before Hooli is called", "WhoAmI", "", nil, "", toolkit.KindToolRequirementsNotMet},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Invoke(context.Background(), toolkit.ToolCallRequest{
				RunID: "r", ExecutionID: "e", CreatedAt: time.Now().UTC().Format(time.RFC3339),
				Tool:    toolkit.ToolReference{Name: tc.tool, Toolkit: "Hooli", Version: "1.0.0"},
				Inputs:  tc.inputs,
				Context: toolkit.ToolContext{Authorization: &toolkit.ToolAuthorizationContext{Token: tc.token}, UserID: "ada"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantKind != "" {
				if resp.Success || resp.Output.Error == nil || resp.Output.Error.Kind != tc.wantKind {
					t.Fatalf("output = %+v, want kind %s", resp.Output, tc.wantKind)
				}
				return
			}
			if !resp.Success {
				t.Fatalf("error %+v", resp.Output.Error)
			}
			got, _ := jsonString(resp.Output.Value)
			if got != tc.wantValue {
				t.Fatalf("value %s, want %s", got, tc.wantValue)
			}
		})
	}
}

func TestRunRefusesToStartWithoutASecret(t *testing.T) {
	env := func(string) string { return "" }
	err := run(context.Background(), nil, env, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "AUTHENGINE_WORKER_SECRET") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunWithDevUsesTheDevSecretAndWarns(t *testing.T) {
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	env := func(string) string { return "" }
	if err := run(ctx, []string{"-dev", "-addr", "127.0.0.1:0"}, env, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "development secret") {
		t.Fatalf("no warning logged: %s", logs.String())
	}
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
