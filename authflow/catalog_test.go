package authflow

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/config/catalog"
)

// catalogConfig writes an engine.yaml using every catalog template with
// dummy client credentials, followed by n generated providers, and returns
// its path and the environment its tenant variables need.
func catalogConfig(t testing.TB, n int) (string, func(string) (string, bool)) {
	t.Helper()
	var b strings.Builder
	b.WriteString(generatedConfig(n))
	env := map[string]string{}
	for _, id := range catalog.IDs() {
		fmt.Fprintf(&b, "    - provider_id: %s\n      client_id: dummy-%s-id\n      client_secret: dummy-%s-secret\n", id, id, id)
		for _, v := range catalog.Variables(id) {
			env[v] = catalog.VariableExample(v)
		}
	}
	path := filepath.Join(t.TempDir(), "engine.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, func(name string) (string, bool) { v, ok := env[name]; return v, ok }
}

// TestEveryCatalogEntryCompiles loads every catalog template with dummy
// client credentials and compiles it: templates, placeholders and
// response maps of all of them are valid.
func TestEveryCatalogEntryCompiles(t *testing.T) {
	ids := catalog.IDs()
	if len(ids) < 60 {
		t.Fatalf("the catalog has %d templates, want at least 60", len(ids))
	}
	path, lookup := catalogConfig(t, 0)
	cfg, warnings, err := config.Load(path, config.WithEnvFile(""), config.WithLookupEnv(lookup))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings: %q", warnings)
	}
	ps, err := CompileAll(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		p, ok := ps[id]
		if !ok {
			t.Errorf("%s: not compiled", id)
			continue
		}
		u := p.AuthorizeURL("state", nil, nil, S256Challenge(NewCodeVerifier()))
		if !strings.HasPrefix(u, "https://") || !strings.Contains(u, "dummy-"+id+"-id") {
			t.Errorf("%s: authorize URL %q does not carry the client id", id, u)
		}
		if strings.Contains(u, "dummy-"+id+"-secret") {
			t.Errorf("%s: the authorize URL carries the client secret", id)
		}
	}
}

// BenchmarkCompileCatalogPlus500 loads and compiles the whole catalog
// plus 500 generated providers, as `serve` does at start.
func BenchmarkCompileCatalogPlus500(b *testing.B) {
	path, lookup := catalogConfig(b, 500)
	want := 500 + len(catalog.IDs())
	b.ReportAllocs()
	for b.Loop() {
		cfg, _, err := config.Load(path, config.WithEnvFile(""), config.WithLookupEnv(lookup))
		if err != nil {
			b.Fatal(err)
		}
		ps, err := CompileAll(cfg)
		if err != nil || len(ps) != want {
			b.Fatalf("compiled %d providers: %v", len(ps), err)
		}
	}
}
