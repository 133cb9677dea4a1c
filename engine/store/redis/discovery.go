package redis

import (
	"context"
	"fmt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// Discovery records live under <prefix>discovery:{<id>}, indexed by the
// set <prefix>discoveries so Scan can find them.

func (s *Store) discoveryKey(id string) string { return s.prefix + "discovery:{" + id + "}" }
func (s *Store) discoveryIndex() string        { return s.prefix + "discoveries" }

// PutDiscovery creates or replaces record r.ID. The index entry is added
// first, so a record is never written without one.
func (s *Store) PutDiscovery(ctx context.Context, r store.DiscoveryRecord) error {
	if r.ID == "" {
		return fmt.Errorf("redis store: put discovery record: the id is required")
	}
	data := codec.EncodeDiscovery(r)
	if err := s.client.SAdd(ctx, s.discoveryIndex(), r.ID).Err(); err != nil {
		return s.wrap("put discovery record", err)
	}
	if err := s.client.Set(ctx, s.discoveryKey(r.ID), data, 0).Err(); err != nil {
		return s.wrap("put discovery record", err)
	}
	return nil
}

// GetDiscovery returns a record; store.ErrNotFound when missing.
func (s *Store) GetDiscovery(ctx context.Context, id string) (store.DiscoveryRecord, error) {
	raw, err := s.client.Get(ctx, s.discoveryKey(id)).Bytes()
	if err != nil {
		return store.DiscoveryRecord{}, s.wrap("get discovery record", err)
	}
	return decode(codec.DecodeDiscovery, raw)
}

// DeleteDiscovery removes a record; store.ErrNotFound when missing.
func (s *Store) DeleteDiscovery(ctx context.Context, id string) error {
	n, err := s.client.Del(ctx, s.discoveryKey(id)).Result()
	if err != nil {
		return s.wrap("delete discovery record", err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: delete discovery record: %w", store.ErrNotFound)
	}
	s.unindex(ctx, s.discoveryIndex(), s.discoveryKey(id), id, false)
	return nil
}

// scanDiscovery passes every discovery record to fn.
func (s *Store) scanDiscovery(ctx context.Context, fn func(store.SealedRecord) error) error {
	ids, err := s.client.SMembers(ctx, s.discoveryIndex()).Result()
	if err != nil {
		return s.wrap("scan discovery records", err)
	}
	return s.scanEach(ctx, store.KindDiscovery, ids, s.discoveryKey, func(raw []byte) ([]byte, bool, error) {
		r, err := codec.DecodeDiscovery(raw)
		return r.Sealed, true, err
	}, fn)
}
