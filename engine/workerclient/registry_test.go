package workerclient_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/workerclient"
)

func TestRegistryResolvesToolNames(t *testing.T) {
	first := httptest.NewServer(newWorker(t, "Hooli", "1.0.0"))
	defer first.Close()
	second := httptest.NewServer(newWorker(t, "Hooli", "1.0.0")) // same tools: a duplicate
	defer second.Close()
	newer := httptest.NewServer(newWorker(t, "Hooli", "2.0.0"))
	defer newer.Close()
	other := httptest.NewServer(newWorker(t, "Acme", "0.3.0"))
	defer other.Close()

	var logs bytes.Buffer
	workers := []*workerclient.Client{
		workerclient.New(workerclient.Options{ID: "first", URI: first.URL, Secret: secret}),
		workerclient.New(workerclient.Options{ID: "second", URI: second.URL, Secret: secret}),
		workerclient.New(workerclient.Options{ID: "newer", URI: newer.URL, Secret: secret}),
		workerclient.New(workerclient.Options{ID: "other", URI: other.URL, Secret: secret}),
	}
	reg := workerclient.NewRegistry(workerclient.RegistryOptions{Workers: workers, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := reg.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(reg.Tools()); n != 6 {
		t.Fatalf("%d tools, want 6 (the duplicate dropped)", n)
	}
	if !strings.Contains(logs.String(), "several workers") || !strings.Contains(logs.String(), "ignored=second") {
		t.Errorf("the duplicate was not logged: %s", logs.String())
	}

	cases := []struct {
		name, tool, version string
		wantWorker, wantFQN string // empty wantWorker: not found
	}{
		{"a fully qualified name picks that version", "Hooli.WhoAmI@2.0.0", "", "newer", "Hooli.WhoAmI@2.0.0"},
		{"a qualified name picks the first worker", "Hooli.WhoAmI", "", "first", "Hooli.WhoAmI@1.0.0"},
		{"a qualified name with a version picks that version", "Hooli.WhoAmI", "2.0.0", "newer", "Hooli.WhoAmI@2.0.0"},
		{"a bare name picks the first worker", "WhoAmI", "", "first", "Hooli.WhoAmI@1.0.0"},
		{"names compare case-insensitively", "hooli.whoami", "", "first", "Hooli.WhoAmI@1.0.0"},
		{"the underscore form resolves", "Acme_Slow", "", "other", "Acme.Slow@0.3.0"},
		{"a toolkit prefix selects the toolkit", "Acme.WhoAmI", "", "other", "Acme.WhoAmI@0.3.0"},
		{"an unknown tool is not found", "Hooli.Nope", "", "", ""},
		{"an unknown version is not found", "Hooli.WhoAmI", "9.9.9", "", ""},
		{"conflicting versions are not found", "Hooli.WhoAmI@1.0.0", "2.0.0", "", ""},
		{"an empty name is not found", "", "", "", ""},
		{"a toolkit name alone is not found", "Hooli", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reg.Lookup(tc.tool, tc.version)
			if tc.wantWorker == "" {
				if !errors.Is(err, workerclient.ErrToolNotFound) {
					t.Fatalf("Lookup = %v, %v; want ErrToolNotFound", got.Def.FullyQualifiedName, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Worker.ID() != tc.wantWorker || got.Def.FullyQualifiedName != tc.wantFQN {
				t.Fatalf("got %s from %s, want %s from %s", got.Def.FullyQualifiedName, got.Worker.ID(), tc.wantFQN, tc.wantWorker)
			}
		})
	}
}

func TestRegistryKeepsTheLastGoodCatalogOfAFailingWorker(t *testing.T) {
	srv := httptest.NewServer(newWorker(t, "Hooli", "1.0.0"))
	reg := workerclient.NewRegistry(workerclient.RegistryOptions{Workers: []*workerclient.Client{
		workerclient.New(workerclient.Options{ID: "local", URI: srv.URL, Secret: secret}),
	}})
	if err := reg.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	err := reg.Refresh(context.Background())
	if !errors.Is(err, workerclient.ErrUnreachable) {
		t.Fatalf("Refresh = %v, want ErrUnreachable", err)
	}
	if _, err := reg.Lookup("Hooli.WhoAmI", ""); err != nil {
		t.Fatalf("the last good catalog was dropped: %v", err)
	}
}

func TestAnEmptyRegistryFindsNothing(t *testing.T) {
	reg := workerclient.NewRegistry(workerclient.RegistryOptions{})
	if err := reg.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Lookup("Hooli.WhoAmI", ""); !errors.Is(err, workerclient.ErrToolNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestRunRefreshesOnItsInterval(t *testing.T) {
	srv := httptest.NewServer(newWorker(t, "Hooli", "1.0.0"))
	defer srv.Close()
	reg := workerclient.NewRegistry(workerclient.RegistryOptions{
		Workers: []*workerclient.Client{workerclient.New(workerclient.Options{ID: "local", URI: srv.URL, Secret: secret})},
		Refresh: 10 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { reg.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(reg.Tools()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run never refreshed the catalog")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestResolveRefreshesOnAMissAtMostOncePerInterval(t *testing.T) {
	empty := newWorker(t, "Hooli", "1.0.0")
	f := &faulty{next: empty}
	srv := httptest.NewServer(f)
	defer srv.Close()
	now := time.Unix(1_700_000_000, 0)
	reg := workerclient.NewRegistry(workerclient.RegistryOptions{
		Workers:    []*workerclient.Client{workerclient.New(workerclient.Options{ID: "local", URI: srv.URL, Secret: secret})},
		MinRefresh: time.Minute,
		Now:        func() time.Time { return now },
	})
	// No Refresh yet: the first miss fetches the catalog and finds the tool.
	if _, err := reg.Resolve(context.Background(), "Hooli.WhoAmI", ""); err != nil {
		t.Fatalf("first resolve: %v", err)
	}
	if n := f.seen.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	t.Run("a second miss within the interval does not fetch again", func(t *testing.T) {
		if _, err := reg.Resolve(context.Background(), "Hooli.Nope", ""); !errors.Is(err, workerclient.ErrToolNotFound) {
			t.Fatalf("err = %v", err)
		}
		if n := f.seen.Load(); n != 1 {
			t.Fatalf("%d fetches, want 1", n)
		}
	})
	t.Run("a miss after the interval fetches again", func(t *testing.T) {
		now = now.Add(time.Minute)
		if _, err := reg.Resolve(context.Background(), "Hooli.Nope", ""); !errors.Is(err, workerclient.ErrToolNotFound) {
			t.Fatalf("err = %v", err)
		}
		if n := f.seen.Load(); n != 2 {
			t.Fatalf("%d fetches, want 2", n)
		}
	})
	t.Run("a hit never fetches", func(t *testing.T) {
		now = now.Add(time.Hour)
		if _, err := reg.Resolve(context.Background(), "WhoAmI", ""); err != nil {
			t.Fatal(err)
		}
		if n := f.seen.Load(); n != 2 {
			t.Fatalf("%d fetches, want 2", n)
		}
	})
}

// pythonCatalog is GET /worker/tools as Arcade's Python worker renders it
// (Pydantic, nulls included, no qualified_name).
const pythonCatalog = `[{"name":"ListEmails","fully_qualified_name":"Google.ListEmails@1.2.1",
"description":"Lists emails","toolkit":{"name":"Google","description":null,"version":"1.2.1"},
"input":{"parameters":[{"name":"n_emails","required":false,"description":"How many",
"value_schema":{"val_type":"integer","inner_val_type":null,"enum":null,"properties":null,
"inner_properties":null,"description":null},"inferrable":true}]},
"output":{"description":null,"available_modes":["value","error","null"],"value_schema":{"val_type":"json","inner_val_type":null,"enum":null}},
"requirements":{"authorization":{"provider_id":"google","provider_type":"oauth2","id":null,
"oauth2":{"scopes":["https://www.googleapis.com/auth/gmail.readonly"]}},"secrets":null,"metadata":null},
"deprecation_message":null}]`

func TestACatalogFromArcadesPythonWorkerResolves(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(pythonCatalog))
	}))
	defer srv.Close()
	reg := workerclient.NewRegistry(workerclient.RegistryOptions{Workers: []*workerclient.Client{
		workerclient.New(workerclient.Options{ID: "py", URI: srv.URL, Secret: secret}),
	}})
	if err := reg.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := reg.Lookup("Google.ListEmails", "1.2.1")
	if err != nil {
		t.Fatal(err)
	}
	d := got.Def
	if d.QualifiedName != "Google.ListEmails" || d.Input.Parameters[0].ValueSchema.ValType != "integer" ||
		d.Requirements.Authorization.ProviderID != "google" || d.Requirements.Authorization.ID != "" ||
		d.Requirements.Authorization.OAuth2.Scopes[0] != "https://www.googleapis.com/auth/gmail.readonly" {
		t.Fatalf("definition = %+v", d)
	}
}
