package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/authengine/authengine/engine/store"
)

// TestStoreCompactFromTheCommandLine: store compact refuses while an engine
// holds the file, then shrinks a file whose records were mostly deleted,
// prints the sizes, and leaves every remaining record readable.
func TestStoreCompactFromTheCommandLine(t *testing.T) {
	f := newKeysFixture(t)
	cfg := f.config(t, "k1")
	st, kr := f.open(t, "k1")
	for i := range 400 {
		putConnection(t, st, kr, fmt.Sprintf("user-%03d-%s", i, strings.Repeat("x", 200)))
	}
	for i := 3; i < 400; i++ {
		if err := st.DeleteConnection(t.Context(), store.ConnectionID("hooli", fmt.Sprintf("user-%03d-%s", i, strings.Repeat("x", 200)))); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut := runCmd(t, "store", "compact", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "stop it first") || !strings.Contains(errOut, f.db) {
		t.Fatalf("compact while the file is in use: exit %d, want 1 naming the file and saying to stop the engine:\n%s", code, errOut)
	}
	st.Close()
	before, err := os.Stat(f.db)
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCmd(t, "store", "compact", "-c", cfg)
	if code != 0 || !strings.Contains(out, "compacted from") || !strings.Contains(out, fmt.Sprintf("(%d → ", before.Size())) {
		t.Fatalf("store compact: exit %d\n%s%s", code, out, errOut)
	}
	after, err := os.Stat(f.db)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() >= before.Size() || !strings.Contains(out, fmt.Sprintf("→ %d bytes)", after.Size())) {
		t.Fatalf("file went from %d to %d bytes; output %q", before.Size(), after.Size(), out)
	}
	if code, out, errOut := runCmd(t, "store", "check", "-c", cfg); code != 0 || !strings.Contains(out, "3 records (3 connections") || !strings.Contains(out, "0 cannot be opened") {
		t.Fatalf("store check after compact: exit %d\n%s%s", code, out, errOut)
	}

	t.Run("on Redis it says there is nothing to compact", func(t *testing.T) {
		raw, _ := os.ReadFile(cfg)
		path := cfg + ".redis.yaml"
		raw = []byte(strings.Replace(string(raw), "store: {type: embedded}", "store: {type: redis, redis: {url: \"redis://127.0.0.1:1/0\"}}", 1))
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCmd(t, "store", "compact", "-c", path)
		if code != 1 || !strings.Contains(errOut, "embedded store only") {
			t.Fatalf("exit %d, want 1 saying it is for the embedded store:\n%s", code, errOut)
		}
	})
	t.Run("an unknown store subcommand names the valid ones", func(t *testing.T) {
		code, _, errOut := runCmd(t, "store", "shrink")
		if code != 2 || !strings.Contains(errOut, "check|compact") {
			t.Fatalf("exit %d:\n%s", code, errOut)
		}
	})
}
