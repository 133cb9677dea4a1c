package bolt

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

func putDataKey(bucket *bbolt.Bucket, op string, k store.DataKey) error {
	if err := bucket.Put([]byte(k.ID), codec.EncodeDataKey(k)); err != nil {
		return fmt.Errorf("bolt: %s %q: %w", op, k.ID, err)
	}
	return nil
}

// CreateDataKey stores a new data key; store.ErrConflict when the ID exists.
func (s *Store) CreateDataKey(ctx context.Context, k store.DataKey) error {
	if k.ID == "" {
		return fmt.Errorf("bolt: create data key: the id is required")
	}
	return s.update(ctx, "create data key", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketDataKeys)
		if bucket.Get([]byte(k.ID)) != nil {
			return fmt.Errorf("bolt: create data key %q: %w", k.ID, store.ErrConflict)
		}
		return putDataKey(bucket, "create data key", k)
	})
}

// getDataKey reads a data key inside tx.
func getDataKey(tx *bbolt.Tx, op, id string) (store.DataKey, error) {
	v := tx.Bucket(bucketDataKeys).Get([]byte(id))
	if v == nil {
		return store.DataKey{}, fmt.Errorf("bolt: %s %q: %w", op, id, store.ErrNotFound)
	}
	return decode(codec.DecodeDataKey, []byte(id), v)
}

// GetDataKey returns a data key, or store.ErrNotFound when missing.
func (s *Store) GetDataKey(ctx context.Context, id string) (store.DataKey, error) {
	var k store.DataKey
	err := s.view(ctx, "get data key", func(tx *bbolt.Tx) (err error) {
		k, err = getDataKey(tx, "get data key", id)
		return err
	})
	return k, err
}

// ListDataKeys returns every data key ordered by ID.
func (s *Store) ListDataKeys(ctx context.Context) ([]store.DataKey, error) {
	var list []store.DataKey
	err := s.view(ctx, "list data keys", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketDataKeys).ForEach(func(k, v []byte) error {
			key, err := decode(codec.DecodeDataKey, k, v)
			if err != nil {
				return err
			}
			list = append(list, key)
			return nil
		})
	})
	return list, err
}

// RewrapDataKey replaces a data key's wrapping if it is still old.
func (s *Store) RewrapDataKey(ctx context.Context, k store.DataKey, old []byte) error {
	return s.update(ctx, "rewrap data key", func(tx *bbolt.Tx) error {
		cur, err := getDataKey(tx, "rewrap data key", k.ID)
		if err != nil {
			return err
		}
		if !bytes.Equal(cur.Wrapped, old) {
			return fmt.Errorf("bolt: rewrap data key %q: %w", k.ID, store.ErrConflict)
		}
		cur.RootKeyID, cur.Wrapped = k.RootKeyID, k.Wrapped
		return putDataKey(tx.Bucket(bucketDataKeys), "rewrap data key", cur)
	})
}
