package bolt

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// putProvider writes p, requiring that a record exists (or does not).
func (s *Store) putProvider(ctx context.Context, op string, p store.ProviderRecord, mustExist bool) error {
	if p.ID == "" {
		return fmt.Errorf("bolt: %s: the id is required", op)
	}
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketProviders)
		switch exists := bucket.Get([]byte(p.ID)) != nil; {
		case exists && !mustExist:
			return fmt.Errorf("bolt: %s %q: %w", op, p.ID, store.ErrConflict)
		case !exists && mustExist:
			return fmt.Errorf("bolt: %s %q: %w", op, p.ID, store.ErrNotFound)
		}
		return putProvider(bucket, op, p)
	})
}

// CreateProvider stores a new record, or returns store.ErrConflict when
// the ID exists.
func (s *Store) CreateProvider(ctx context.Context, p store.ProviderRecord) error {
	return s.putProvider(ctx, "create provider", p, false)
}

// PutProvider replaces an existing record, or returns store.ErrNotFound
// when missing.
func (s *Store) PutProvider(ctx context.Context, p store.ProviderRecord) error {
	return s.putProvider(ctx, "put provider", p, true)
}

// UpdateProvider replaces record p.ID only if its Sealed is still old:
// store.ErrConflict when it changed, store.ErrNotFound when missing.
func (s *Store) UpdateProvider(ctx context.Context, p store.ProviderRecord, old []byte) error {
	const op = "update provider"
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketProviders)
		v := bucket.Get([]byte(p.ID))
		if v == nil {
			return fmt.Errorf("bolt: %s %q: %w", op, p.ID, store.ErrNotFound)
		}
		cur, err := decode(codec.DecodeProvider, []byte(p.ID), v)
		if err != nil {
			return err
		}
		if !bytes.Equal(cur.Sealed, old) {
			return fmt.Errorf("bolt: %s %q: %w", op, p.ID, store.ErrConflict)
		}
		p.CreatedAt = cur.CreatedAt
		return putProvider(bucket, op, p)
	})
}

// GetProvider returns a record, or store.ErrNotFound when missing.
func (s *Store) GetProvider(ctx context.Context, id string) (store.ProviderRecord, error) {
	var p store.ProviderRecord
	err := s.view(ctx, "get provider", func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketProviders).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("bolt: get provider %q: %w", id, store.ErrNotFound)
		}
		var err error
		p, err = decode(codec.DecodeProvider, []byte(id), v)
		return err
	})
	return p, err
}

// ListProviders returns every record ordered by ID.
func (s *Store) ListProviders(ctx context.Context) ([]store.ProviderRecord, error) {
	var list []store.ProviderRecord
	err := s.view(ctx, "list providers", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketProviders).ForEach(func(k, v []byte) error {
			p, err := decode(codec.DecodeProvider, k, v)
			if err != nil {
				return err
			}
			list = append(list, p)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// DeleteProvider removes a record, or returns store.ErrNotFound when
// missing.
func (s *Store) DeleteProvider(ctx context.Context, id string) error {
	return s.update(ctx, "delete provider", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketProviders)
		if bucket.Get([]byte(id)) == nil {
			return fmt.Errorf("bolt: delete provider %q: %w", id, store.ErrNotFound)
		}
		if err := bucket.Delete([]byte(id)); err != nil {
			return fmt.Errorf("bolt: delete provider %q: %w", id, err)
		}
		return nil
	})
}

// putProvider encodes p and writes it into bucket under its id.
func putProvider(bucket *bbolt.Bucket, op string, p store.ProviderRecord) error {
	if err := bucket.Put([]byte(p.ID), codec.EncodeProvider(p)); err != nil {
		return fmt.Errorf("bolt: %s %q: %w", op, p.ID, err)
	}
	return nil
}
