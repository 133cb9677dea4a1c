package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// A console session is one key, prefix+"session:{<id>}", with a Redis TTL
// of its ExpiresAt plus flowGrace (garbage collection only: expiry is
// decided by the injected clock). Sessions have no index: Scan finds them
// with SCAN, as it finds flows.

func (s *Store) sessionKey(id string) string { return s.prefix + "session:{" + id + "}" }

// setSession writes sess with SET NX (create) or SET XX (replace).
func (s *Store) setSession(ctx context.Context, op, mode string, sess store.Session) error {
	if sess.ID == "" {
		return fmt.Errorf("redis store: %s: the id is required", op)
	}
	data := codec.EncodeSession(sess)
	err := s.client.SetArgs(ctx, s.sessionKey(sess.ID), data, goredis.SetArgs{Mode: mode, TTL: s.flowTTL(sess.ExpiresAt)}).Err()
	switch {
	case errors.Is(err, goredis.Nil) && mode == "NX":
		return fmt.Errorf("redis store: %s: %w", op, store.ErrConflict)
	case errors.Is(err, goredis.Nil):
		return fmt.Errorf("redis store: %s: %w", op, store.ErrNotFound)
	}
	return s.wrap(op, err)
}

// CreateSession stores a new session (SET NX); store.ErrConflict if the
// id exists.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return s.setSession(ctx, "create session", "NX", sess)
}

// ReplaceSession rewrites an existing session (SET XX); store.ErrNotFound
// when missing.
func (s *Store) ReplaceSession(ctx context.Context, sess store.Session) error {
	return s.setSession(ctx, "replace session", "XX", sess)
}

// GetSession returns a session; store.ErrNotFound when missing or expired.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	raw, err := s.client.Get(ctx, s.sessionKey(id)).Bytes()
	if err != nil {
		return store.Session{}, s.wrap("get session", err)
	}
	sess, err := decode(codec.DecodeSession, raw)
	if err != nil {
		return store.Session{}, err
	}
	if s.expired(sess.ExpiresAt) {
		return store.Session{}, fmt.Errorf("redis store: get session: %w", store.ErrNotFound)
	}
	return sess, nil
}

// DeleteSession removes a session; store.ErrNotFound when missing.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	n, err := s.client.Del(ctx, s.sessionKey(id)).Result()
	if err != nil {
		return s.wrap("delete session", err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: delete session: %w", store.ErrNotFound)
	}
	return nil
}
