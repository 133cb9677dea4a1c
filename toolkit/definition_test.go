package toolkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authengine/authengine/toolkit"
)

type Page struct {
	Cursor string `json:"cursor,omitempty" desc:"Opaque cursor from the last page"`
}

type listReposIn struct {
	Org        string            `json:"org" desc:"The organisation"`
	Visibility string            `json:"visibility,omitempty" desc:"Which repositories" enum:"all,public,private"`
	Limit      int               `json:"limit,omitempty" desc:"At most this many"`
	Archived   *bool             `json:"archived" desc:"Include archived ones"`
	MinStars   float64           `json:"min_stars,omitempty"`
	Topics     []string          `json:"topics,omitempty" desc:"Topics to match"`
	Since      time.Time         `json:"since,omitempty" desc:"Pushed after" inferrable:"false"`
	Labels     map[string]string `json:"labels,omitempty"`
	Owner      struct {
		Login string `json:"login" desc:"Login name"`
		ID    int64  `json:"id,omitempty"`
	} `json:"owner,omitempty" desc:"Owner filter"`
	Teams []struct {
		Slug string `json:"slug"`
	} `json:"teams,omitempty"`
	Extra  any    `json:"extra,omitempty"`
	Hidden string `json:"-"`
	secret string
	Page
}

func TestDefinitionsMatchGoldenFiles(t *testing.T) {
	noop := func(context.Context, toolkit.Context, struct{}) (any, error) { return nil, nil }
	cases := []struct {
		name string // golden file testdata/definitions/<name>.json
		tool *toolkit.Tool
	}{
		{"struct_fields_become_parameters", toolkit.New(toolkit.Definition{
			Name:              "ListRepos",
			Description:       "Lists the organisation's repositories.",
			OutputDescription: "The repositories",
			RequiresAuth:      &toolkit.OAuth2{ProviderID: "github", Scopes: []string{"repo", "read:org"}},
		}, func(context.Context, toolkit.Context, listReposIn) (any, error) { return nil, nil })},
		{"custom_provider_secrets_and_metadata", toolkit.New(toolkit.Definition{
			Name:         "WhoAmI",
			Description:  "Who the user is at Hooli.",
			RequiresAuth: &toolkit.OAuth2{ID: "hooli"},
			Secrets:      []string{"HOOLI_API_KEY"},
			Metadata:     []string{"client_id"},
			Deprecation:  "Use Hooli.Me instead.",
		}, noop)},
		{"no_inputs_no_requirements", toolkit.New(toolkit.Definition{Name: "Ping", Description: "Pings."}, noop)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := toolkit.NewWorker(toolkit.WorkerOptions{
				Toolkit: toolkit.ToolkitDefinition{Name: "Demo", Description: "Demo tools", Version: "1.2.1"},
				Secret:  testSecret,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Register(tc.tool); err != nil {
				t.Fatal(err)
			}
			rec := do(t, w, http.MethodGet, "/worker/tools", "Bearer "+mint(t, testSecret, validClaims()), nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var got bytes.Buffer
			if err := json.Indent(&got, rec.Body.Bytes(), "", "  "); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "definitions", tc.name+".json")
			if os.Getenv("AUTHENGINE_UPDATE_GOLDEN") == "1" {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with AUTHENGINE_UPDATE_GOLDEN=1 to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("GET /worker/tools differs from %s:\n%s", path, got.String())
			}
		})
	}
}
