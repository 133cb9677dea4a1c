package main

import (
	"context"
	"fmt"
	"io"

	"github.com/authengine/authengine/engine/store/bolt"
)

// storeCompact runs `authengine store compact`: it rewrites the embedded
// store's bbolt file without its free pages (the file never shrinks on
// its own) and reports the sizes. The engine must be stopped: it holds
// the file's lock, and Compact refuses with a message saying so. Redis
// frees memory as keys are deleted or expire, so there is nothing to do.
func storeCompact(ctx context.Context, configPath, envPath string, stdout, stderr io.Writer) error {
	l, err := load(configPath, envPath, stderr)
	if err != nil {
		return err
	}
	if l.cfg.Store.Type != "embedded" {
		return fmt.Errorf("store compact applies to the embedded store only; store.type is %q (Redis frees memory as keys are deleted or expire)", l.cfg.Store.Type)
	}
	path := l.cfg.Store.Embedded.Path
	res, err := bolt.Compact(ctx, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: compacted from %s to %s (%d → %d bytes)\n", path, humanBytes(res.Before), humanBytes(res.After), res.Before, res.After)
	return nil
}

// humanBytes renders n bytes with a binary unit (1.5 MiB).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
