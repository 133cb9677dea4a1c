package bolt

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// bucketAudit maps an audit entry's id (which sorts by time) to the
// entry. Created by the first append.
var bucketAudit = []byte("audit")

// AppendAudit stores an entry.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if e.ID == "" {
		return fmt.Errorf("bolt: append audit entry: ID is required")
	}
	return s.update(ctx, "append audit entry", func(tx *bbolt.Tx) error {
		bucket, err := tx.CreateBucketIfNotExists(bucketAudit)
		if err != nil {
			return fmt.Errorf("bolt: create bucket %s: %w", bucketAudit, err)
		}
		return bucket.Put([]byte(e.ID), codec.EncodeAudit(e))
	})
}

// ListAudit returns matching entries newest first: it walks the bucket
// backwards and decodes every entry (the log is bounded by retention).
func (s *Store) ListAudit(ctx context.Context, filter store.AuditFilter, offset, limit int) ([]store.AuditEntry, int, error) {
	offset = max(offset, 0)
	var (
		list  []store.AuditEntry
		total int
	)
	err := s.view(ctx, "list audit entries", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketAudit)
		if bucket == nil {
			return nil
		}
		c := bucket.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			e, err := decode(codec.DecodeAudit, k, v)
			if err != nil {
				return err
			}
			if !filter.Matches(e) {
				continue
			}
			if total >= offset && (limit <= 0 || total < offset+limit) {
				list = append(list, e)
			}
			total++
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

// PruneAudit deletes the entries older than before. Ids sort by time, so
// it walks from the oldest and stops at the first kept entry.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.update(ctx, "prune audit entries", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketAudit)
		if bucket == nil {
			return nil
		}
		c := bucket.Cursor()
		for k, v := c.First(); k != nil; k, v = c.First() {
			e, err := decode(codec.DecodeAudit, k, v)
			if err != nil {
				return err
			}
			if !e.Time.Before(before) {
				return nil
			}
			if err := c.Delete(); err != nil {
				return fmt.Errorf("bolt: prune audit entry %q: %w", k, err)
			}
			n++
		}
		return nil
	})
	return n, err
}
