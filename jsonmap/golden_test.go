package jsonmap_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authengine/authengine/jsonmap"
)

var update = flag.Bool("update", false, "rewrite testdata/apply/*/want.json from the current output")

// goldenOutput is want.json: the Apply result, and expires_in and scope as
// ExpiresIn and Scopes normalise them (the scope delimiter is " " unless the
// case has a scope_delimiter file).
type goldenOutput struct {
	Values    map[string]typedValue `json:"values"`
	ExpiresIn *int64                `json:"expires_in_seconds"`
	Scopes    []string              `json:"scopes"`
}

// typedValue records a mapped value with its Go type, so a golden file pins
// int64 versus float64 as well as the value.
type typedValue struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// TestGoldenResponseMaps runs every case under testdata/apply: a body
// (body.json is JSON, body.form is a form, body.txt takes its content type
// from the content_type file), a map.json, and either want.json (see
// goldenOutput) or want_error.txt (the exact error).
func TestGoldenResponseMaps(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "apply", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases under testdata/apply")
	}
	for _, dir := range dirs {
		t.Run(strings.ReplaceAll(filepath.Base(dir), "_", " "), func(t *testing.T) {
			body, contentType := readGoldenBody(t, dir)
			var raw map[string]string
			if err := json.Unmarshal(readFile(t, filepath.Join(dir, "map.json")), &raw); err != nil {
				t.Fatalf("map.json: %v", err)
			}
			m, err := jsonmap.Compile(raw)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := applyBody(m, body, contentType)

			wantErrPath := filepath.Join(dir, "want_error.txt")
			if wantErr, readErr := os.ReadFile(wantErrPath); readErr == nil {
				if err == nil {
					t.Fatalf("Apply succeeded with %v, want error %q", got, wantErr)
				}
				if strings.TrimSpace(err.Error()) != strings.TrimSpace(string(wantErr)) {
					t.Fatalf("error\n got: %s\nwant: %s", err, wantErr)
				}
				assertNoBodyValues(t, err, body)
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			out := goldenOutput{Values: make(map[string]typedValue, len(got))}
			for k, v := range got {
				out.Values[k] = typedValue{Type: fmt.Sprintf("%T", v), Value: v}
			}
			if secs, ok, err := jsonmap.ExpiresIn(got["expires_in"]); err != nil {
				t.Fatalf("ExpiresIn: %v", err)
			} else if ok {
				out.ExpiresIn = &secs
			}
			delim := " "
			if b, err := os.ReadFile(filepath.Join(dir, "scope_delimiter")); err == nil {
				delim = strings.TrimRight(string(b), "\n")
			}
			out.Scopes = jsonmap.Scopes(got["scope"], delim)
			gotJSON, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			gotJSON = append(gotJSON, '\n')
			wantPath := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(wantPath, gotJSON, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFile(t, wantPath); !bytes.Equal(gotJSON, want) {
				t.Fatalf("result differs from %s\n got: %s\nwant: %s", wantPath, gotJSON, want)
			}
		})
	}
}

func applyBody(m *jsonmap.ResponseMap, body []byte, contentType string) (map[string]any, error) {
	doc, err := jsonmap.Parse(body, contentType)
	if err != nil {
		return nil, err
	}
	return m.Apply(doc)
}

func readGoldenBody(t *testing.T, dir string) ([]byte, string) {
	t.Helper()
	for _, c := range []struct{ file, contentType string }{
		{"body.json", "application/json"},
		{"body.form", "application/x-www-form-urlencoded"},
		{"body.txt", ""},
	} {
		body, err := os.ReadFile(filepath.Join(dir, c.file))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.contentType == "" {
			c.contentType = strings.TrimSpace(string(readFile(t, filepath.Join(dir, "content_type"))))
		}
		return body, c.contentType
	}
	t.Fatalf("%s has no body.json, body.form or body.txt", dir)
	return nil, ""
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNoBodyValues fails if an error quotes any string value of a body:
// errors name keys, expressions and types, never values (which may be tokens).
func assertNoBodyValues(t *testing.T, err error, body []byte) {
	t.Helper()
	doc, parseErr := jsonmap.Parse(body, "")
	if parseErr != nil {
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if len(v) >= 4 && strings.Contains(err.Error(), v) {
				t.Errorf("error %q contains the body value %q", err, v)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
}
