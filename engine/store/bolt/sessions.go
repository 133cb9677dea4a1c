package bolt

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// bucketSessions maps a console session's id to its record. It is created
// by the first session written; a file without it holds no session.
var bucketSessions = []byte("sessions")

// putSession writes sess, requiring that an unexpired record exists (or
// that none does).
func (s *Store) putSession(ctx context.Context, op string, sess store.Session, mustExist bool) error {
	if sess.ID == "" {
		return fmt.Errorf("bolt: %s: the id is required", op)
	}
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		bucket, err := tx.CreateBucketIfNotExists(bucketSessions)
		if err != nil {
			return fmt.Errorf("bolt: create bucket %s: %w", bucketSessions, err)
		}
		exists := false
		if v := bucket.Get([]byte(sess.ID)); v != nil {
			cur, err := codec.DecodeSession(v)
			exists = err != nil || !s.expired(cur.ExpiresAt)
		}
		switch {
		case exists && !mustExist:
			return fmt.Errorf("bolt: %s: %w", op, store.ErrConflict)
		case !exists && mustExist:
			return fmt.Errorf("bolt: %s: %w", op, store.ErrNotFound)
		}
		// The id (the hash of a live cookie) stays out of the error, as in GetSession.
		if err := bucket.Put([]byte(sess.ID), codec.EncodeSession(sess)); err != nil {
			return fmt.Errorf("bolt: %s: %w", op, err)
		}
		return nil
	})
}

// CreateSession stores a new session; store.ErrConflict if the id exists.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return s.putSession(ctx, "create session", sess, false)
}

// ReplaceSession rewrites an existing, unexpired session;
// store.ErrNotFound when missing.
func (s *Store) ReplaceSession(ctx context.Context, sess store.Session) error {
	return s.putSession(ctx, "replace session", sess, true)
}

// GetSession returns a session; store.ErrNotFound when missing or expired.
// Errors never name the id: it is the hash of a live cookie.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	var out store.Session
	err := s.view(ctx, "get session", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketSessions)
		var v []byte
		if bucket != nil {
			v = bucket.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("bolt: get session: %w", store.ErrNotFound)
		}
		sess, err := codec.DecodeSession(v)
		if err != nil {
			return fmt.Errorf("bolt: get session: %w", err)
		}
		if s.expired(sess.ExpiresAt) {
			return fmt.Errorf("bolt: get session: %w", store.ErrNotFound)
		}
		out = sess
		return nil
	})
	return out, err
}

// DeleteSession removes a session; store.ErrNotFound when missing.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.update(ctx, "delete session", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketSessions)
		if bucket == nil || bucket.Get([]byte(id)) == nil {
			return fmt.Errorf("bolt: delete session: %w", store.ErrNotFound)
		}
		return bucket.Delete([]byte(id))
	})
}

// sweepSessions deletes the expired sessions inside tx and returns how
// many it deleted; a record that cannot be decoded stays for
// `authengine store check`.
func (s *Store) sweepSessions(tx *bbolt.Tx) (int, error) {
	bucket := tx.Bucket(bucketSessions)
	if bucket == nil {
		return 0, nil
	}
	var dead [][]byte
	err := bucket.ForEach(func(k, v []byte) error {
		if sess, err := codec.DecodeSession(v); err == nil && s.expired(sess.ExpiresAt) {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range dead {
		if err := bucket.Delete(k); err != nil {
			return 0, fmt.Errorf("delete expired session: %w", err)
		}
	}
	return len(dead), nil
}
