package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

func newSession(clock *Clock, ttl time.Duration) store.Session {
	return store.Session{ID: uid("sess"), Sealed: randomBytes(64), CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(ttl)}
}

func mustCreateSession(t *testing.T, s store.Store, sess store.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
}

// runSessions covers the console's session records: create, read back
// byte for byte, replace only while present, logical expiry by the
// injected clock, delete.
func runSessions(t *testing.T, newStore NewStore) {
	t.Run("a created session reads back byte for byte", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		sess := newSession(clock, time.Hour)
		mustCreateSession(t, s, sess)
		got, err := s.GetSession(t.Context(), sess.ID)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		if got.ID != sess.ID || !bytes.Equal(got.Sealed, sess.Sealed) || !got.CreatedAt.Equal(sess.CreatedAt) || !got.ExpiresAt.Equal(sess.ExpiresAt) {
			t.Errorf("GetSession = %+v, want %+v", got, sess)
		}
	})
	t.Run("creating an existing id is a conflict and keeps the first", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		sess := newSession(clock, time.Hour)
		mustCreateSession(t, s, sess)
		other := sess
		other.Sealed = randomBytes(64)
		if err := s.CreateSession(t.Context(), other); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second CreateSession = %v, want ErrConflict", err)
		}
		got, err := s.GetSession(t.Context(), sess.ID)
		if err != nil || !bytes.Equal(got.Sealed, sess.Sealed) {
			t.Errorf("GetSession after the conflict = %v, %v: the first record must stay", got.Sealed, err)
		}
	})
	t.Run("a missing session is not found on get, replace and delete", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		sess := newSession(clock, time.Hour)
		if _, err := s.GetSession(t.Context(), sess.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession = %v, want ErrNotFound", err)
		}
		if err := s.ReplaceSession(t.Context(), sess); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ReplaceSession = %v, want ErrNotFound", err)
		}
		if err := s.DeleteSession(t.Context(), sess.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteSession = %v, want ErrNotFound", err)
		}
		if _, err := s.GetSession(t.Context(), sess.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession after a refused replace = %v, want ErrNotFound: replace must not create", err)
		}
	})
	t.Run("replace extends the expiry and rewrites the sealed part", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		sess := newSession(clock, 10*time.Minute)
		mustCreateSession(t, s, sess)
		clock.Advance(8 * time.Minute)
		sess.ExpiresAt = clock.Now().Add(10 * time.Minute)
		sess.Sealed = randomBytes(64)
		if err := s.ReplaceSession(t.Context(), sess); err != nil {
			t.Fatalf("ReplaceSession: %v", err)
		}
		clock.Advance(8 * time.Minute) // past the first expiry, before the second
		got, err := s.GetSession(t.Context(), sess.ID)
		if err != nil {
			t.Fatalf("GetSession after the extended expiry: %v", err)
		}
		if !bytes.Equal(got.Sealed, sess.Sealed) {
			t.Error("GetSession: the sealed part was not rewritten")
		}
	})
	t.Run("a session past its expiry reads as not found", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		sess := newSession(clock, 10*time.Minute)
		mustCreateSession(t, s, sess)
		clock.Advance(10 * time.Minute)
		if _, err := s.GetSession(t.Context(), sess.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession at its expiry = %v, want ErrNotFound", err)
		}
	})
	t.Run("a deleted session is gone", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		sess := newSession(clock, time.Hour)
		mustCreateSession(t, s, sess)
		if err := s.DeleteSession(t.Context(), sess.ID); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		if _, err := s.GetSession(t.Context(), sess.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession after delete = %v, want ErrNotFound", err)
		}
		if err := s.ReplaceSession(t.Context(), sess); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ReplaceSession after delete = %v, want ErrNotFound: a signed-out session must not come back", err)
		}
	})
}
