// Package keyring is the engine's envelope encryption. Records are sealed
// (engine/seal, FormatData) with data keys; each data key is kept in the
// store wrapped (sealed, FormatRoot) by a root key from
// security.root_keys. Rotating the root key therefore rewraps a handful of
// data keys (Rotate) instead of rewriting every record, and can run while
// engines are serving: they hold the data keys they use unwrapped in
// memory, and a data key's plaintext never changes.
//
// Records sealed directly by a root key (FormatRoot, the format before
// envelope encryption) still open, with the root key that sealed them.
//
// A Keyring is the engine's Sealer: Seal uses the active data key (the
// newest one wrapped by the first root key, created at Open when there is
// none) and Open finds the data key a blob names in memory, reading and
// unwrapping it from the store only the first time. Blobs whose data key
// is wrapped by a root key that is not configured fail with a
// *seal.MissingKeyError naming that root key.
//
// Errors and logs name key ids, never key material.
package keyring

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
)

// fetchTimeout bounds the store read of a data key this process has not
// seen yet (Open has no context of its own).
const fetchTimeout = 5 * time.Second

// missingRetry is how long a data key found wrapped by a missing root key
// is answered from memory before the store is read again (keys rotate may
// rewrap it under a configured root key meanwhile).
const missingRetry = time.Minute

// Keyring seals with data keys wrapped by root keys. It is safe for
// concurrent use.
type Keyring struct {
	root     *seal.Sealer
	store    store.DataKeyStore
	log      *slog.Logger
	now      func() time.Time
	readOnly bool

	// loadMu serialises loads; loaded is set once one succeeded.
	loadMu sync.Mutex
	loaded atomic.Bool

	mu sync.RWMutex
	// data holds the unwrapped data keys by id.
	data map[string]*seal.Sealer
	// missing holds, by data key id, the missing root key that wraps it
	// and when that was found.
	missing map[string]missingRoot
	active  *seal.Sealer
}

type missingRoot struct {
	err *seal.MissingKeyError
	at  time.Time
}

// Options are the optional settings of Open.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ReadOnly opens without ever writing to the store (for checks): when
	// no data key is wrapped by the first root key, none is created and
	// Seal fails.
	ReadOnly bool
	// Lazy makes a store that does not answer at Open no error: the
	// keyring loads on first use (Seal and Open then fail with the store's
	// error until it answers).
	Lazy bool
}

// Open loads the data keys from st, unwraps the ones whose root key root
// holds, and makes the newest data key wrapped by root's first key the
// active one, creating and storing a new one when there is none. With
// opts.Lazy, a store that does not answer is not an error: the keyring
// loads on first use instead.
func Open(ctx context.Context, root *seal.Sealer, st store.DataKeyStore, opts Options) (*Keyring, error) {
	k := &Keyring{
		root: root, store: st, log: opts.Logger, now: opts.Now, readOnly: opts.ReadOnly,
		data: map[string]*seal.Sealer{}, missing: map[string]missingRoot{},
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.now == nil {
		k.now = time.Now
	}
	err := k.load(ctx)
	if opts.Lazy && errors.Is(err, store.ErrUnavailable) {
		k.log.Warn("keyring: the store does not answer; data keys load on first use", "err", err)
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// load reads and unwraps the stored data keys and picks (or creates) the
// active one. It runs at Open and, after a store outage there, on first
// use.
func (k *Keyring) load(ctx context.Context) error {
	k.loadMu.Lock()
	defer k.loadMu.Unlock()
	if k.loaded.Load() {
		return nil
	}
	keys, err := k.store.ListDataKeys(ctx)
	if err != nil {
		return fmt.Errorf("keyring: list data keys: %w", err)
	}
	var newest store.DataKey
	k.mu.Lock()
	for _, dk := range keys {
		s, err := k.unwrap(dk)
		var mk *seal.MissingKeyError
		switch {
		case errors.As(err, &mk):
			k.missing[dk.ID] = missingRoot{err: mk, at: k.now()}
			continue
		case err != nil:
			// The records it sealed cannot open; the others can. The key
			// inventory and store check report them.
			k.log.Error("a stored data key cannot be unwrapped", "data_key_id", dk.ID, "root_key_id", dk.RootKeyID, "err", err)
			continue
		}
		k.data[dk.ID] = s
		if dk.RootKeyID == k.root.PrimaryID() && (newest.ID == "" || dk.CreatedAt.After(newest.CreatedAt)) {
			newest = dk
		}
	}
	if newest.ID != "" {
		k.active = k.data[newest.ID]
	}
	k.mu.Unlock()
	if newest.ID == "" && !k.readOnly {
		if err := k.create(ctx); err != nil {
			return err
		}
	}
	k.loaded.Store(true)
	return nil
}

// ensure loads the keyring if a store outage kept Open from it.
func (k *Keyring) ensure() error {
	if k.loaded.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	return k.load(ctx)
}

// create makes, stores and activates a new data key wrapped by the first
// root key.
func (k *Keyring) create(ctx context.Context) error {
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return fmt.Errorf("keyring: new data key id: %w", err)
	}
	key, _, err := seal.GenerateKey("dk-" + hex.EncodeToString(id))
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer clear(key.Secret) // NewData and the wrapping keep no reference
	wrapped, err := k.root.Seal(key.Secret, aad(key.ID))
	if err != nil {
		return fmt.Errorf("keyring: wrap data key %q: %w", key.ID, err)
	}
	s, err := seal.NewData(key)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	dk := store.DataKey{ID: key.ID, RootKeyID: k.root.PrimaryID(), Wrapped: wrapped, CreatedAt: k.now()}
	if err := k.store.CreateDataKey(ctx, dk); err != nil {
		return fmt.Errorf("keyring: store new data key %q: %w", key.ID, err)
	}
	k.mu.Lock()
	k.data[key.ID], k.active = s, s
	k.mu.Unlock()
	k.log.Info("created a data key", "data_key_id", key.ID, "root_key_id", dk.RootKeyID)
	return nil
}

// aad binds a wrapped data key to its id.
func aad(dataKeyID string) []byte { return []byte("datakey:" + dataKeyID) }

// unwrap opens a stored data key with the root keys.
func (k *Keyring) unwrap(dk store.DataKey) (*seal.Sealer, error) {
	secret, err := k.root.Open(dk.Wrapped, aad(dk.ID))
	var mk *seal.MissingKeyError
	if err != nil && !errors.As(err, &mk) {
		if _, id, herr := seal.Header(dk.Wrapped); herr == nil && k.root.Has(id) {
			// The wrapping names a configured key that does not open it:
			// a different key under the same id.
			err = &seal.MissingKeyError{KeyID: id, Replaced: true}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("unwrap data key %q: %w", dk.ID, err)
	}
	s, err := seal.NewData(seal.Key{ID: dk.ID, Secret: secret})
	clear(secret)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key %q: %w", dk.ID, err)
	}
	return s, nil
}

// RootKeyID is the id of the first root key, which wraps new data keys.
func (k *Keyring) RootKeyID() string { return k.root.PrimaryID() }

// ActiveID is the id of the data key that seals; empty for a read-only
// keyring without one.
func (k *Keyring) ActiveID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.active == nil {
		return ""
	}
	return k.active.PrimaryID()
}

// Seal seals plaintext with the active data key, bound to aad.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	if err := k.ensure(); err != nil {
		return nil, err
	}
	k.mu.RLock()
	active := k.active
	k.mu.RUnlock()
	if active == nil {
		return nil, errors.New("keyring: opened read-only without a data key wrapped by the first root key")
	}
	return active.Seal(plaintext, aad)
}

// Open opens a blob sealed by any data key in the store (whose root key is
// configured) or, in the format before envelope encryption, by a
// configured root key. Every failure wraps seal.ErrOpen; a missing root key
// is a *seal.MissingKeyError.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	format, id, err := seal.Header(sealed)
	if err != nil {
		return nil, err
	}
	if format == seal.FormatRoot {
		return k.root.Open(sealed, aad)
	}
	if err := k.ensure(); err != nil {
		return nil, err
	}
	s, err := k.dataKey(id)
	if err != nil {
		return nil, err
	}
	return s.Open(sealed, aad)
}

// dataKey returns the unwrapped data key id, reading it from the store
// the first time.
func (k *Keyring) dataKey(id string) (*seal.Sealer, error) {
	k.mu.RLock()
	s, ok := k.data[id]
	miss, isMissing := k.missing[id]
	k.mu.RUnlock()
	if ok {
		return s, nil
	}
	if isMissing && k.now().Sub(miss.at) < missingRetry {
		return nil, miss.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	dk, err := k.store.GetDataKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: sealed with data key %q, which is not in the store", seal.ErrOpen, id)
	}
	if err != nil {
		// Not ErrOpen: the store did not answer, and the caller should
		// see that (a retryable condition) rather than a broken record.
		return nil, fmt.Errorf("keyring: read data key %q: %w", id, err)
	}
	s, err = k.unwrap(dk)
	var mk *seal.MissingKeyError
	if errors.As(err, &mk) {
		k.mu.Lock()
		k.missing[id] = missingRoot{err: mk, at: k.now()}
		k.mu.Unlock()
		return nil, mk
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	k.mu.Lock()
	k.data[id] = s
	delete(k.missing, id)
	k.mu.Unlock()
	return s, nil
}
