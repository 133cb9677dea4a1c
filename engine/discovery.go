package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// DiscoveryCache keeps what authflow/discovery learns from remote servers
// (metadata documents, client registrations) in the store as discovery
// records, sealed with the aad "discovery:"+key, so that a restart finds
// them again and every instance sharing the store uses the same ones. It
// implements discovery.Cache.
type DiscoveryCache struct {
	Store  store.DiscoveryStore
	Sealer Sealer
	// Now is the clock for UpdatedAt. Default time.Now.
	Now func() time.Time
}

// Load returns the value kept under key; store.ErrNotFound when none is.
func (c DiscoveryCache) Load(ctx context.Context, key string) ([]byte, error) {
	rec, err := c.Store.GetDiscovery(ctx, key)
	if err != nil {
		return nil, err
	}
	plain, err := c.Sealer.Open(rec.Sealed, RecordAAD(store.KindDiscovery, key))
	if err != nil {
		return nil, fmt.Errorf("open discovery record %q: %w", key, err)
	}
	return plain, nil
}

// Save keeps value under key, replacing what was there.
func (c DiscoveryCache) Save(ctx context.Context, key string, value []byte) error {
	sealed, err := c.Sealer.Seal(value, RecordAAD(store.KindDiscovery, key))
	if err != nil {
		return fmt.Errorf("seal discovery record %q: %w", key, err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return c.Store.PutDiscovery(ctx, store.DiscoveryRecord{ID: key, Sealed: sealed, UpdatedAt: now().UTC()})
}

// Delete removes what is kept under key; a missing key is not an error.
func (c DiscoveryCache) Delete(ctx context.Context, key string) error {
	if err := c.Store.DeleteDiscovery(ctx, key); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func (e *Engine) resealDiscovery(ctx context.Context, id string) error {
	rec, err := e.store.GetDiscovery(ctx, id)
	if err != nil {
		return err
	}
	if !needsReseal(rec.Sealed) {
		return errSkipReseal
	}
	if rec.Sealed, err = e.reseal(rec.Sealed, RecordAAD(store.KindDiscovery, id)); err != nil {
		return err
	}
	return e.store.PutDiscovery(ctx, rec)
}
