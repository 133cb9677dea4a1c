package keyring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
)

// RotateResult counts what Rotate did with the stored data keys.
type RotateResult struct {
	// Total is the number of data keys in the store.
	Total int
	// Rewrapped were rewrapped under the first root key by this call.
	Rewrapped int
	// Current were already wrapped by the first root key (by an earlier
	// or concurrent run).
	Current int
	// Failed lists the data keys left as they were, each with why (a root
	// key that is not configured, a damaged wrapping).
	Failed []string
}

// Progress is called after each data key with how many of total are done.
type Progress func(done, total int)

// Rotate rewraps every stored data key that is not wrapped by the first
// root key under it. Each rewrap is a compare-and-swap on the stored
// wrapping, so concurrent runs and running engines are safe, and a run
// that stops half-way is resumed by running it again (keys already
// rewrapped are counted as current). Once Failed is empty, and no record
// of the format before envelope encryption names an old root key (see
// Inventory), old root keys can be removed from the configuration.
func (k *Keyring) Rotate(ctx context.Context, progress Progress) (RotateResult, error) {
	keys, err := k.store.ListDataKeys(ctx)
	if err != nil {
		return RotateResult{}, fmt.Errorf("keyring: rotate: list data keys: %w", err)
	}
	res := RotateResult{Total: len(keys)}
	primary := k.root.PrimaryID()
	for i, dk := range keys {
		switch err := k.rewrap(ctx, dk, primary); {
		case err == nil:
			res.Rewrapped++
		case errors.Is(err, errCurrent):
			res.Current++
		case errors.Is(err, seal.ErrOpen):
			res.Failed = append(res.Failed, err.Error())
		default:
			return res, fmt.Errorf("keyring: rotate: %w", err)
		}
		if progress != nil {
			progress(i+1, len(keys))
		}
	}
	return res, nil
}

// errCurrent: the data key is already wrapped by the first root key.
var errCurrent = errors.New("already current")

// rewrap moves one data key under the primary root key, re-reading it when
// a concurrent rewrap got there first.
func (k *Keyring) rewrap(ctx context.Context, dk store.DataKey, primary string) error {
	for range 3 {
		if dk.RootKeyID == primary {
			if format, id, err := seal.Header(dk.Wrapped); err == nil && format == seal.FormatRoot && id == primary {
				return errCurrent
			}
		}
		secret, err := k.root.Open(dk.Wrapped, aad(dk.ID))
		if err != nil {
			return fmt.Errorf("data key %q (wrapped by root key %q): %w", dk.ID, dk.RootKeyID, err)
		}
		wrapped, err := k.root.Seal(secret, aad(dk.ID))
		clear(secret)
		if err != nil {
			return fmt.Errorf("wrap data key %q: %w", dk.ID, err)
		}
		err = k.store.RewrapDataKey(ctx, store.DataKey{ID: dk.ID, RootKeyID: primary, Wrapped: wrapped}, dk.Wrapped)
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				return fmt.Errorf("store rewrapped data key %q: %w", dk.ID, err)
			}
			return nil
		}
		id := dk.ID
		if dk, err = k.store.GetDataKey(ctx, id); err != nil {
			return fmt.Errorf("re-read data key %q: %w", id, err)
		}
	}
	return fmt.Errorf("data key %q: rewrapped concurrently three times in a row: %w", dk.ID, store.ErrConflict)
}

// KeyCount is how many records one root key seals, directly or through
// data keys.
type KeyCount struct {
	// RootKeyID is the root key's id; empty for records whose data key is
	// not in the store.
	RootKeyID string
	// Configured says whether the root key is in the configuration (and,
	// for records sealed through data keys, opens them).
	Configured bool
	// Replaced: a key is configured under RootKeyID, but a different one
	// (regenerated under the same id): it does not unwrap the data keys.
	Replaced bool
	// Records sealed through a data key the root key wraps, and Direct
	// ones sealed by the root key itself (the format before envelope
	// encryption), by record kind.
	Records map[string]int
	Direct  map[string]int
	// DataKeys are the ids of the data keys it wraps that seal records.
	DataKeys []string
}

// Total is the number of records the root key seals.
func (c KeyCount) Total() int {
	n := 0
	for _, v := range c.Records {
		n += v
	}
	for _, v := range c.Direct {
		n += v
	}
	return n
}

// Inventory counts the records of sc by the root key that seals them, in
// order of root key id. Records that cannot be decoded or whose sealed part
// has no valid header are counted in unreadable; it does not open any
// record.
func (k *Keyring) Inventory(ctx context.Context, sc store.Scanner) (counts []KeyCount, unreadable int, err error) {
	keys, err := k.store.ListDataKeys(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("keyring: inventory: list data keys: %w", err)
	}
	rootOf := make(map[string]string, len(keys))
	for _, dk := range keys {
		rootOf[dk.ID] = dk.RootKeyID
	}
	byRoot := map[string]*KeyCount{}
	entry := func(root string, replaced bool) *KeyCount {
		key := root
		if replaced {
			key += "\x00replaced"
		}
		c, ok := byRoot[key]
		if !ok {
			c = &KeyCount{RootKeyID: root, Configured: root != "" && k.root.Has(root) && !replaced, Replaced: replaced, Records: map[string]int{}, Direct: map[string]int{}}
			byRoot[key] = c
		}
		return c
	}
	err = sc.Scan(ctx, func(r store.SealedRecord) error {
		if r.Err != nil {
			unreadable++
			return nil
		}
		if len(r.Sealed) == 0 {
			return nil
		}
		format, id, err := seal.Header(r.Sealed)
		switch {
		case err != nil:
			unreadable++
		case format == seal.FormatRoot:
			entry(id, false).Direct[r.Kind]++
		default:
			k.mu.RLock()
			miss, missing := k.missing[id]
			k.mu.RUnlock()
			c := entry(rootOf[id], missing && miss.err.Replaced)
			c.Records[r.Kind]++
			if !slices.Contains(c.DataKeys, id) {
				c.DataKeys = append(c.DataKeys, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("keyring: inventory: %w", err)
	}
	for _, c := range byRoot {
		slices.Sort(c.DataKeys)
		counts = append(counts, *c)
	}
	slices.SortFunc(counts, func(a, b KeyCount) int {
		if c := strings.Compare(a.RootKeyID, b.RootKeyID); c != 0 {
			return c
		}
		return cmp.Compare(boolInt(a.Replaced), boolInt(b.Replaced))
	})
	return counts, unreadable, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
