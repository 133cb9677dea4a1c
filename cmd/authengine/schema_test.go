package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authengine/authengine/config"
)

// TestSchemaCommandPrintsTheCommittedSchema checks that `authengine schema`
// prints what config.JSONSchema derives, which is the committed file
// (config's TestJSONSchemaFileIsCurrent keeps that one current).
func TestSchemaCommandPrintsTheCommittedSchema(t *testing.T) {
	code, out, errOut := runCmd(t, "schema")
	if code != 0 || errOut != "" {
		t.Fatalf("schema: exit %d, stderr %q", code, errOut)
	}
	if out != string(config.JSONSchema()) {
		t.Fatal("schema printed something other than config.JSONSchema()")
	}
	committed, err := os.ReadFile(filepath.Join(repoRoot(t), "schema", "engine.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(committed) {
		t.Fatal("schema differs from schema/engine.schema.json; regenerate it: go run ./cmd/authengine schema > schema/engine.schema.json")
	}
}

// TestProvidersDocIsCurrent: docs/providers.md is what `authengine catalog
// --format markdown` prints, so it lists every template as shipped.
func TestProvidersDocIsCurrent(t *testing.T) {
	code, out, errOut := runCmd(t, "catalog", "--format", "markdown")
	if code != 0 {
		t.Fatalf("catalog --format markdown: exit %d: %s", code, errOut)
	}
	committed, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "providers.md"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(committed) {
		t.Fatalf("docs/providers.md is stale (config/catalog changed); regenerate it:\n\t%s", regenerateProviders)
	}
}

func TestCatalogCommand(t *testing.T) {
	code, out, _ := runCmd(t, "catalog")
	if code != 0 {
		t.Fatalf("catalog: exit %d", code)
	}
	for _, want := range []string{
		"okta ", "OKTA_DOMAIN", "https://developer.okta.com/",
		"x ", "S256  client_secret_basic",
		"built-in providers; use one with `provider_id: <ID>`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("catalog output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := runCmd(t, "catalog", "--format", "yaml"); code == 0 || !strings.Contains(errOut, "--format must be text or markdown") {
		t.Errorf("a bad format: exit %d, %q", code, errOut)
	}
}

// TestCheckNamesTheGuideOfCatalogProviders: check prints the guide of
// every provider that uses a built-in template, and none for others.
func TestCheckNamesTheGuideOfCatalogProviders(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "engine.yaml")
	if err := os.WriteFile(path, []byte(`
data_dir: `+dir+`
api: {development: true}
auth:
  providers:
    - {provider_id: spotify, client_id: i, client_secret: s}
    - id: own
      client_id: i
      client_secret: s
      oauth2:
        authorize_request: {endpoint: "https://id.example.com/authorize", params: {client_id: "<<client_id>>"}}
        token_request: {endpoint: "https://id.example.com/token"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "check", "-c", path, "-e", "")
	if code != 0 {
		t.Fatalf("check: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "create the OAuth app as its guide says: https://developer.spotify.com/") {
		t.Errorf("check does not name spotify's guide:\n%s", out)
	}
	if strings.Count(out, "guide says") != 1 {
		t.Errorf("check names a guide for a provider without a template:\n%s", out)
	}
}
