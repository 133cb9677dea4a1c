package main

import (
	"os"
	"path/filepath"
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
