package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSecret is what every variable and file holds while fuzzing.
const fuzzSecret = "fuzz-secret-value-0123"

// FuzzLoad feeds arbitrary documents through every stage after reading
// the file (YAML, catalog merge, references, decoding, defaults,
// validation). It must never panic; a document it accepts must validate
// again unchanged; no message may carry a substituted value. References
// resolve in memory: the fuzzer never reads real files.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(baseYAML))
	for _, pattern := range []string{"../engine.yaml", "../examples/providers/*.yaml", "catalog/providers/*.yaml"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	for _, seed := range fuzzSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(checkLoad)
}

// checkLoad is the property every document must satisfy.
func checkLoad(t *testing.T, data []byte) {
	rs := resolver{
		lookup:   func(string) (string, bool) { return fuzzSecret, true },
		readFile: func(string) ([]byte, error) { return []byte(fuzzSecret + "\n"), nil },
	}
	c, warnings, err := parse(data, rs)
	if err != nil {
		if c != nil {
			t.Fatal("a config was returned along with an error")
		}
		if !strings.Contains(string(data), fuzzSecret) && strings.Contains(err.Error(), fuzzSecret) {
			t.Fatalf("substituted value in error: %v", err)
		}
		return
	}
	if c == nil {
		t.Fatal("nil config without an error")
	}
	if err := Validate(c); err != nil {
		t.Fatalf("accepted config does not validate again: %v", err)
	}
	for _, w := range warnings {
		if !strings.Contains(string(data), fuzzSecret) && strings.Contains(w, fuzzSecret) {
			t.Fatalf("substituted value in warning: %q", w)
		}
	}
}

// fuzzSeeds are odd documents, including every fuzzer finding (see
// TestFuzzFindings).
var fuzzSeeds = []string{
	"",
	"~",
	"[]",
	"api: {development: true}\nauth: {providers: [~, 1, [], {id: 1}]}\n",
	"api: {development: true, port: 1e100}\n",
	"api: {development: true}\n? [a, b]\n: c\n",
	"auth: {providers: [{provider_id: github, oauth2: {refresh_request: {}, refresh_token_request: ~}}]}\n",
	"api: {development: true, api_keys: [\"$<env:A>$<file:/x>$<bad:y>$<env:>\"]}\n",
	"a: &x [*x]\n",
	"auth:\n providers:\n    - id: $<env:A>",
}

func TestFuzzFindings(t *testing.T) {
	if len(fuzzSeeds) != len(fuzzSeedNames) {
		t.Fatal("every fuzz seed needs a name")
	}
	for i, seed := range fuzzSeeds {
		t.Run(fuzzSeedNames[i], func(t *testing.T) { checkLoad(t, []byte(seed)) })
	}
}

var fuzzSeedNames = []string{
	"an empty document is checked like an empty map",
	"a null document is checked like an empty map",
	"a list document is rejected",
	"providers that are not maps are rejected without a panic",
	"a number too large for a port is rejected",
	"a non-string key becomes its printed form and is reported as unknown",
	"a null refresh_token_request beside the alias does not panic",
	"several references, some invalid, in one string are all reported",
	"a self-referencing anchor is rejected",
	"a provider id taken from the environment is redacted from error paths (fuzz finding)",
}
