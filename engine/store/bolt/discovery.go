package bolt

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// bucketDiscovery holds discovery records by id.
var bucketDiscovery = []byte("discovery")

// PutDiscovery creates or replaces record r.ID.
func (s *Store) PutDiscovery(ctx context.Context, r store.DiscoveryRecord) error {
	const op = "put discovery record"
	if r.ID == "" {
		return fmt.Errorf("bolt: %s: the id is required", op)
	}
	b := codec.EncodeDiscovery(r)
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		bucket, err := tx.CreateBucketIfNotExists(bucketDiscovery)
		if err != nil {
			return fmt.Errorf("bolt: %s %q: %w", op, r.ID, err)
		}
		if err := bucket.Put([]byte(r.ID), b); err != nil {
			return fmt.Errorf("bolt: %s %q: %w", op, r.ID, err)
		}
		return nil
	})
}

// GetDiscovery returns a record, or store.ErrNotFound when missing.
func (s *Store) GetDiscovery(ctx context.Context, id string) (store.DiscoveryRecord, error) {
	var r store.DiscoveryRecord
	err := s.view(ctx, "get discovery record", func(tx *bbolt.Tx) error {
		var v []byte
		if bucket := tx.Bucket(bucketDiscovery); bucket != nil {
			v = bucket.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("bolt: get discovery record %q: %w", id, store.ErrNotFound)
		}
		var err error
		r, err = decode(codec.DecodeDiscovery, []byte(id), v)
		return err
	})
	return r, err
}

// DeleteDiscovery removes a record, or returns store.ErrNotFound when
// missing.
func (s *Store) DeleteDiscovery(ctx context.Context, id string) error {
	return s.update(ctx, "delete discovery record", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketDiscovery)
		if bucket == nil || bucket.Get([]byte(id)) == nil {
			return fmt.Errorf("bolt: delete discovery record %q: %w", id, store.ErrNotFound)
		}
		if err := bucket.Delete([]byte(id)); err != nil {
			return fmt.Errorf("bolt: delete discovery record %q: %w", id, err)
		}
		return nil
	})
}
