package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/authengine/authengine/config/catalog"
)

const (
	schemaFile       = "../schema/engine.schema.json"
	regenerateSchema = "go run ./cmd/authengine schema > schema/engine.schema.json"
)

func TestJSONSchemaFileIsCurrent(t *testing.T) {
	committed, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("read %s: %v\nregenerate it: %s", schemaFile, err, regenerateSchema)
	}
	if !bytes.Equal(committed, JSONSchema()) {
		t.Fatalf("schema/engine.schema.json is stale (the config types changed); regenerate it:\n\t%s", regenerateSchema)
	}
}

// compileSchema compiles the generated schema, and the schema of one
// provider entry (#/$defs/Provider).
func compileSchema(t *testing.T) (file, provider *jsonschema.Schema) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	file, err = c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("compile the schema: %v", err)
	}
	provider, err = c.Compile(SchemaID + "#/$defs/Provider")
	if err != nil {
		t.Fatalf("compile #/$defs/Provider: %v", err)
	}
	return file, provider
}

// yamlInstance parses YAML into the JSON values the validator takes.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	m, err := yaml.Parser().Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// schemaLineRE finds the line that points editors at the schema.
var schemaLineRE = regexp.MustCompile(`(?m)^# yaml-language-server: \$schema=(\S+)$`)

// engineConfigFiles are the engine.yaml files of the repository: the
// default one, the examples and the deployment ones.
func engineConfigFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"../engine.yaml"}
	for _, pattern := range []string{"../examples/engine*.yaml", "../examples/providers/*.yaml", "../deploy/engine*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	return files
}

func TestEveryEngineConfigMatchesTheSchemaAndNamesIt(t *testing.T) {
	schema, _ := compileSchema(t)
	for _, path := range engineConfigFiles(t) {
		t.Run(filepath.ToSlash(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(yamlInstance(t, data)); err != nil {
				t.Errorf("does not match the schema:\n%v", err)
			}
			m := schemaLineRE.FindSubmatch(data)
			if m == nil {
				t.Fatalf("has no %q line", "# yaml-language-server: $schema=<path to schema/engine.schema.json>")
			}
			target := filepath.Join(filepath.Dir(path), string(m[1]))
			if filepath.Clean(target) != filepath.Clean(schemaFile) {
				t.Errorf("the schema line points at %s, not at schema/engine.schema.json", target)
			}
		})
	}
}

func TestEveryCatalogEntryMatchesTheProviderSchema(t *testing.T) {
	_, provider := compileSchema(t)
	for _, id := range catalog.IDs() {
		tmpl, _ := catalog.Lookup(id)
		if err := provider.Validate(yamlInstance(t, tmpl)); err != nil {
			t.Errorf("catalog entry %s does not match #/$defs/Provider:\n%v", id, err)
		}
	}
}

func TestSchemaRejectsWhatLoadRejectsForItsShape(t *testing.T) {
	schema, _ := compileSchema(t)
	tests := []struct {
		name, yaml string
		ok         bool
	}{
		{"a minimal file", "api: {port: 9099}\n", true},
		{"$schema at the top", "$schema: ./schema/engine.schema.json\n", true},
		{"a port from a reference", "api: {port: $<env:PORT>}\n", true},
		{"a numeric client id", "auth: {providers: [{id: a, client_id: 12345}]}\n", true},
		{"an empty block", "tools:\n", true},
		{"a zero duration", "auth: {flow_ttl: 0}\n", true},
		{"an unknown top-level key", "apii: {port: 9099}\n", false},
		{"an unknown nested key", "auth: {providers: [{id: a, oauth2: {token_requst: {}}}]}\n", false},
		{"a list where a map belongs", "api: [1]\n", false},
		{"a map where a list belongs", "auth: {providers: {id: a}}\n", false},
		{"a map in params", "auth: {providers: [{id: a, oauth2: {token_request: {params: {a: {b: c}}}}}]}\n", false},
		{"a duration as a number other than 0", "auth: {flow_ttl: 30}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := schema.Validate(yamlInstance(t, []byte(tt.yaml)))
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			// The loader agrees on every case here.
			_, _, lerr := parse([]byte(tt.yaml), resolver{lookup: func(n string) (string, bool) { return "9099", n == "PORT" }})
			if lerr != nil && tt.ok && !strings.Contains(lerr.Error(), "required") {
				t.Fatalf("parse = %v, but the schema accepts it", lerr)
			}
			if lerr == nil && !tt.ok {
				t.Fatal("parse accepts what the schema rejects")
			}
		})
	}
}
