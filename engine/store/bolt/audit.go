package bolt

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
)

// bucketAudit maps an audit entry's id (which sorts by time) to the
// entry. Created by the first append.
var bucketAudit = []byte("audit")

type auditWire struct {
	V               int       `json:"v"`
	ID              string    `json:"id"`
	Time            time.Time `json:"time"`
	Actor           string    `json:"actor"`
	Action          string    `json:"action"`
	Target          string    `json:"target,omitempty"`
	Changed         []string  `json:"changed,omitempty"`
	SecretReentered bool      `json:"secret_reentered,omitempty"`
}

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
		b, err := encode("audit entry", e.ID, auditWire{V: wireVersion, ID: e.ID, Time: e.Time, Actor: e.Actor, Action: e.Action,
			Target: e.Target, Changed: e.Changed, SecretReentered: e.SecretReentered})
		if err != nil {
			return err
		}
		return bucket.Put([]byte(e.ID), b)
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
			var w auditWire
			if err := decode("audit entry", k, v, &w); err != nil {
				return err
			}
			e := store.AuditEntry{ID: w.ID, Time: w.Time, Actor: w.Actor, Action: w.Action, Target: w.Target,
				Changed: w.Changed, SecretReentered: w.SecretReentered}
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
			var w auditWire
			if err := decode("audit entry", k, v, &w); err != nil {
				return err
			}
			if !w.Time.Before(before) {
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
