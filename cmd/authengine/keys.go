package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/keyring"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/bolt"
)

// openStore opens the configured store backend.
func openStore(cfg *config.Config, log *slog.Logger) (store.Store, error) {
	open, ok := storeOpeners[cfg.Store.Type]
	if !ok {
		return nil, fmt.Errorf("store.type %q is not supported (embedded, redis)", cfg.Store.Type)
	}
	st, err := open(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", cfg.Store.Type, err)
	}
	return st, nil
}

// keyInventory counts the stored records by the root key that seals them
// and refuses to start when some root key is not configured (with
// allowMissing, it warns instead): those records cannot be opened, and
// their users would have to authorize again.
func keyInventory(ctx context.Context, kr *keyring.Keyring, st store.Store, allowMissing bool, log *slog.Logger) error {
	counts, unreadable, err := kr.Inventory(ctx, st)
	if errors.Is(err, store.ErrUnavailable) {
		log.Warn("key inventory skipped: the store does not answer; records sealed with a root key that is not configured answer root_key_missing", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("key inventory: %w", err)
	}
	var missing []string
	for _, c := range counts {
		log.Info("key inventory", "root_key_id", c.RootKeyID, "configured", c.Configured, "records", c.Total(), "data_keys", len(c.DataKeys))
		if !c.Configured {
			missing = append(missing, describeCount(c))
		}
	}
	if unreadable > 0 {
		log.Warn("key inventory: records that cannot be decoded; run `authengine store check`", "records", unreadable)
	}
	if len(missing) == 0 {
		return nil
	}
	msg := "records are sealed with root keys that are not configured in security.root_keys: " + strings.Join(missing, "; ")
	if allowMissing {
		log.Warn(msg + "; starting anyway (--allow-missing-keys): those connections need re-authorization")
		return nil
	}
	return errors.New(msg + ". Add the keys back to security.root_keys, or start with --allow-missing-keys to let those users authorize again")
}

// describeCount names a root key and how many records of each kind it seals.
func describeCount(c keyring.KeyCount) string {
	name := fmt.Sprintf("root key %q", c.RootKeyID)
	if c.Replaced {
		name = fmt.Sprintf("root key %q (the key configured under that id is a different one: was it regenerated?)", c.RootKeyID)
	}
	if c.RootKeyID == "" {
		name = fmt.Sprintf("data keys %s, missing from the store,", strings.Join(c.DataKeys, ", "))
	}
	var parts []string
	for _, kind := range []string{store.KindConnection, store.KindProvider, store.KindFlow, store.KindSession} {
		if n := c.Records[kind] + c.Direct[kind]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, plural(kind, n)))
		}
	}
	return name + " seals " + strings.Join(parts, ", ")
}

func plural(kind string, n int) string {
	if n == 1 {
		return kind
	}
	return kind + "s"
}

// withKeyring loads the configuration, opens the store and the keyring,
// and runs fn; the store is closed after.
func withKeyring(ctx context.Context, configPath, envPath string, readOnly bool, stderr io.Writer, fn func(cfg *loaded, st store.Store, kr *keyring.Keyring, log *slog.Logger) error) error {
	l, err := load(configPath, envPath, stderr)
	if err != nil {
		return err
	}
	log := newLogger(l.cfg.Telemetry.Log, stderr)
	root, _, _, err := resolveKeys(l.cfg, log, io.Discard, true)
	if err != nil {
		return err
	}
	st, err := openStore(l.cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	kr, err := keyring.Open(ctx, root, st, keyring.Options{Logger: log, ReadOnly: readOnly})
	if err != nil {
		return err
	}
	return fn(l, st, kr, log)
}

// storeCheck runs `authengine store check`: for the embedded store bbolt's
// consistency check of the file (the engine must be stopped), then, for
// every backend, a scan that opens every record, and on Redis a comparison
// of the connection counts and listing indexes with the records. Problems
// name the record kind and id and the key id involved, never content.
func storeCheck(ctx context.Context, configPath, envPath string, stdout, stderr io.Writer) error {
	l, err := load(configPath, envPath, stderr)
	if err != nil {
		return err
	}
	if l.cfg.Store.Type == "embedded" {
		path := l.cfg.Store.Embedded.Path
		problems, err := bolt.Check(ctx, path)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(stdout, "damaged:", p)
			}
			fmt.Fprintf(stdout, "%s: %d problems; restore the file from a backup\n", path, len(problems))
			return errReported
		}
		fmt.Fprintf(stdout, "%s: bbolt consistency check passed\n", path)
	}
	return withKeyring(ctx, configPath, envPath, true, stderr, func(l *loaded, st store.Store, kr *keyring.Keyring, _ *slog.Logger) error {
		var total, bad int
		counts := map[string]int{}
		err := st.Scan(ctx, func(r store.SealedRecord) error {
			total++
			counts[r.Kind]++
			if r.Err != nil {
				bad++
				fmt.Fprintf(stdout, "unreadable: %s %q: %v\n", r.Kind, r.ID, r.Err)
				return nil
			}
			if len(r.Sealed) == 0 {
				return nil
			}
			if _, err := kr.Open(r.Sealed, engine.RecordAAD(r.Kind, r.ID)); err != nil {
				bad++
				fmt.Fprintf(stdout, "cannot open: %s %q: %s\n", r.Kind, r.ID, openProblem(r.Sealed, err))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("scan the %s store: %w", l.cfg.Store.Type, err)
		}
		fmt.Fprintf(stdout, "%s store: %d records (%d connections, %d providers, %d flows, %d console sessions), %d cannot be opened\n",
			l.cfg.Store.Type, total, counts[store.KindConnection], counts[store.KindProvider], counts[store.KindFlow], counts[store.KindSession], bad)
		wrong, err := checkCounts(ctx, st, l.cfg.Store.Type, stdout)
		if err != nil {
			return err
		}
		if bad > 0 || wrong {
			return errReported
		}
		return nil
	})
}

// checkCounts prints what a store that keeps its connection counts and
// listing indexes in a shared server (store.CountsChecker: Redis) finds
// when it compares them with the records, and reports whether it found
// something wrong. Other stores have nothing to compare here.
func checkCounts(ctx context.Context, st store.Store, kind string, stdout io.Writer) (wrong bool, err error) {
	cc, ok := st.(store.CountsChecker)
	if !ok {
		return false, nil
	}
	problems, err := cc.CheckCounts(ctx)
	switch {
	case errors.Is(err, store.ErrUnsupported):
		fmt.Fprintf(stdout, "%s store: connection counts not compared: %v\n", kind, err)
		return false, nil
	case err != nil:
		return false, err
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, "wrong:", p)
	}
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "%s store: connection counts and listing indexes agree with the records\n", kind)
	}
	return len(problems) > 0, nil
}

// openProblem says why a record does not open, by key id: a missing root
// key, or the key that sealed it and that the data does not authenticate.
func openProblem(sealed []byte, err error) string {
	var mk *seal.MissingKeyError
	if errors.As(err, &mk) && mk.Replaced {
		return fmt.Sprintf("sealed with root key %q, and the key configured under that id is a different one", mk.KeyID)
	}
	if errors.As(err, &mk) {
		return fmt.Sprintf("sealed with root key %q, which is not configured", mk.KeyID)
	}
	if format, id, herr := seal.Header(sealed); herr == nil {
		kind := "root key"
		if format == seal.FormatData {
			kind = "data key"
		}
		return fmt.Sprintf("sealed with %s %q: %v", kind, id, err)
	}
	return err.Error()
}

// keysRotate runs `authengine keys rotate`: it rewraps every data key under
// the first root key, then reseals the records of the format before
// envelope encryption, printing progress. It is safe while engines run on
// a Redis store (the embedded store's file is locked by its engine: stop
// it first), and resumable: run it again after an interruption.
func keysRotate(ctx context.Context, configPath, envPath string, stdout, stderr io.Writer) error {
	return withKeyring(ctx, configPath, envPath, false, stderr, func(l *loaded, st store.Store, kr *keyring.Keyring, log *slog.Logger) error {
		res, err := kr.Rotate(ctx, func(done, total int) {
			fmt.Fprintf(stdout, "data keys: %d/%d\n", done, total)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "data keys: %d rewrapped under root key %q, %d already were, %d failed\n", res.Rewrapped, kr.RootKeyID(), res.Current, len(res.Failed))
		for _, f := range res.Failed {
			fmt.Fprintln(stdout, "  failed:", f)
		}
		eng, err := engine.New(engine.Options{Store: st, Sealer: kr, Logger: log})
		if err != nil {
			return err
		}
		rs, err := eng.Reseal(ctx, func(done, total int) {
			if done%100 == 0 || done == total {
				fmt.Fprintf(stdout, "records of the old format: %d/%d\n", done, total)
			}
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "records of the old format: %d resealed, %d busy (refreshing: run again), %d failed\n", rs.Resealed, rs.Busy, len(rs.Problems))
		for _, p := range rs.Problems {
			fmt.Fprintln(stdout, "  failed:", p)
		}
		if len(res.Failed) > 0 || len(rs.Problems) > 0 || rs.Busy > 0 {
			fmt.Fprintln(stdout, "not done: keep the old root keys configured and run keys rotate again")
			return errReported
		}
		fmt.Fprintln(stdout, "done: root keys other than the first can be removed once every engine runs with the first one (authorization flows started before now still need them for up to auth.flow_ttl)")
		return nil
	})
}
