package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

func (s *Store) dataKeyKey(id string) string { return s.prefix + "datakey:{" + id + "}" }
func (s *Store) dataKeyIndex() string        { return s.prefix + "datakeys" }

// CreateDataKey stores a new data key (SET NX, never expiring);
// store.ErrConflict when the ID exists.
func (s *Store) CreateDataKey(ctx context.Context, k store.DataKey) error {
	data := codec.EncodeDataKey(k)
	if err := s.client.SAdd(ctx, s.dataKeyIndex(), k.ID).Err(); err != nil {
		return s.wrap("create data key", err)
	}
	ok, err := s.setNX(ctx, s.dataKeyKey(k.ID), data, 0)
	if err != nil {
		return s.wrap("create data key", err)
	}
	if !ok {
		return fmt.Errorf("redis store: create data key %q: %w", k.ID, store.ErrConflict)
	}
	return nil
}

// GetDataKey returns a data key; store.ErrNotFound when missing.
func (s *Store) GetDataKey(ctx context.Context, id string) (store.DataKey, error) {
	raw, err := s.client.Get(ctx, s.dataKeyKey(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.DataKey{}, fmt.Errorf("redis store: get data key %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.DataKey{}, s.wrap("get data key", err)
	}
	return decode(codec.DecodeDataKey, raw)
}

// ListDataKeys returns every data key ordered by ID.
func (s *Store) ListDataKeys(ctx context.Context) ([]store.DataKey, error) {
	ids, err := s.client.SMembers(ctx, s.dataKeyIndex()).Result()
	if err != nil {
		return nil, s.wrap("list data keys", err)
	}
	slices.Sort(ids)
	var out []store.DataKey
	err = s.readEach(ctx, "list data keys", ids, s.dataKeyKey, func(_ string, raw []byte) error {
		k, err := decode(codec.DecodeDataKey, raw)
		if err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	return out, err
}

// RewrapDataKey replaces a data key's wrapping if it is still old
// (WATCH/MULTI/EXEC).
func (s *Store) RewrapDataKey(ctx context.Context, k store.DataKey, old []byte) error {
	key := s.dataKeyKey(k.ID)
	var abortErr error
	txf := func(tx *goredis.Tx) error {
		raw, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, goredis.Nil) {
			abortErr = fmt.Errorf("redis store: rewrap data key %q: %w", k.ID, store.ErrNotFound)
			return errAbort
		}
		if err != nil {
			return err
		}
		cur, err := decode(codec.DecodeDataKey, raw)
		if err != nil {
			abortErr = err
			return errAbort
		}
		if !bytes.Equal(cur.Wrapped, old) {
			abortErr = fmt.Errorf("redis store: rewrap data key %q: %w", k.ID, store.ErrConflict)
			return errAbort
		}
		cur.RootKeyID, cur.Wrapped = k.RootKeyID, k.Wrapped
		data := codec.EncodeDataKey(cur)
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, key, data, 0)
			return nil
		})
		return err
	}
	return s.cas(ctx, "rewrap data key", key, txf, &abortErr)
}
