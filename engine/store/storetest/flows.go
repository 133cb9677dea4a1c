package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// newFlow returns a pending flow with fresh ids that expires in ten minutes.
func newFlow(clock *Clock) store.Flow {
	now := clock.Now()
	return store.Flow{
		ID:         uid("flow"),
		StateHash:  store.HashState(uid("state")),
		UserID:     uid("user"),
		ProviderID: "hooli",
		Scopes:     []string{"read", "write"},
		NextURI:    "https://app.example/next?x=1",
		Status:     store.FlowPending,
		Sealed:     randomBytes(64),
		CreatedAt:  now,
		UpdatedAt:  now,
		ExpiresAt:  now.Add(10 * time.Minute),
	}
}

// mustCreateFlow creates f or fails the test.
func mustCreateFlow(t *testing.T, s store.Store, f store.Flow) {
	t.Helper()
	if err := s.CreateFlow(t.Context(), f); err != nil {
		t.Fatalf("CreateFlow(%s): %v", f.ID, err)
	}
}

// assertFlow fails the test unless got has every field of want.
func assertFlow(t *testing.T, got, want store.Flow) {
	t.Helper()
	if got.ID != want.ID || got.StateHash != want.StateHash || got.UserID != want.UserID ||
		got.ProviderID != want.ProviderID || got.NextURI != want.NextURI || got.Status != want.Status ||
		got.Error != want.Error || got.ConnectionID != want.ConnectionID {
		t.Errorf("flow fields differ:\n got %+v\nwant %+v", got, want)
	}
	if !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("Scopes = %q, want %q", got.Scopes, want.Scopes)
	}
	if !bytes.Equal(got.Sealed, want.Sealed) {
		t.Errorf("Sealed differs: got %d bytes, want %d bytes", len(got.Sealed), len(want.Sealed))
	}
	assertTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	assertTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	assertTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// assertTime compares instants (not locations or monotonic readings).
func assertTime(t *testing.T, name string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

// assertErrIs fails the test unless errors.Is(err, want).
func assertErrIs(t *testing.T, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", op, err, want)
	}
}

func runFlows(t *testing.T, newStore NewStore) {
	t.Run("a created flow reads back with every field intact", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		f.Error, f.ConnectionID = "client-safe reason", "conn-1"
		mustCreateFlow(t, s, f)
		got, err := s.GetFlow(t.Context(), f.ID)
		if err != nil {
			t.Fatalf("GetFlow: %v", err)
		}
		assertFlow(t, got, f)
	})

	t.Run("a flow with no sealed bytes and no scopes reads back empty", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		f.Sealed, f.Scopes = nil, nil
		mustCreateFlow(t, s, f)
		got, err := s.GetFlow(t.Context(), f.ID)
		if err != nil {
			t.Fatalf("GetFlow: %v", err)
		}
		if len(got.Sealed) != 0 || len(got.Scopes) != 0 {
			t.Errorf("got Sealed %d bytes and Scopes %q, want both empty", len(got.Sealed), got.Scopes)
		}
	})

	t.Run("getting a missing flow is ErrNotFound", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		_, err := s.GetFlow(t.Context(), uid("missing"))
		assertErrIs(t, "GetFlow", err, store.ErrNotFound)
	})

	t.Run("creating a flow with a taken id is ErrConflict and keeps the first", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		first := newFlow(clock)
		mustCreateFlow(t, s, first)
		second := newFlow(clock)
		second.ID = first.ID
		err := s.CreateFlow(t.Context(), second)
		assertErrIs(t, "CreateFlow(duplicate id)", err, store.ErrConflict)
		got, err := s.GetFlow(t.Context(), first.ID)
		if err != nil {
			t.Fatalf("GetFlow: %v", err)
		}
		assertFlow(t, got, first)
		_, err = s.ConsumeState(t.Context(), second.StateHash)
		assertErrIs(t, "ConsumeState(state of the refused flow)", err, store.ErrNotFound)
	})

	t.Run("creating a flow with a taken state hash is ErrConflict and stores nothing", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		first := newFlow(clock)
		mustCreateFlow(t, s, first)
		second := newFlow(clock)
		second.StateHash = first.StateHash
		err := s.CreateFlow(t.Context(), second)
		assertErrIs(t, "CreateFlow(duplicate state hash)", err, store.ErrConflict)
		_, err = s.GetFlow(t.Context(), second.ID)
		assertErrIs(t, "GetFlow(refused flow)", err, store.ErrNotFound)
		got, err := s.ConsumeState(t.Context(), first.StateHash)
		if err != nil {
			t.Fatalf("ConsumeState: %v", err)
		}
		if got.ID != first.ID {
			t.Errorf("the state hash now points at %q, want the first flow %q", got.ID, first.ID)
		}
	})

	t.Run("an expired flow reads as ErrNotFound everywhere", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		mustCreateFlow(t, s, f)
		clock.Advance(10*time.Minute - time.Second)
		if _, err := s.GetFlow(t.Context(), f.ID); err != nil {
			t.Fatalf("GetFlow one second before expiry: %v", err)
		}
		clock.Advance(2 * time.Second)
		_, err := s.GetFlow(t.Context(), f.ID)
		assertErrIs(t, "GetFlow(expired)", err, store.ErrNotFound)
		_, err = s.ConsumeState(t.Context(), f.StateHash)
		assertErrIs(t, "ConsumeState(expired)", err, store.ErrNotFound)
		called := false
		_, err = s.UpdateFlow(t.Context(), f.ID, func(f store.Flow) (store.Flow, error) {
			called = true
			return f, nil
		})
		assertErrIs(t, "UpdateFlow(expired)", err, store.ErrNotFound)
		if called {
			t.Error("UpdateFlow called fn for an expired flow")
		}
	})

	t.Run("a consumed state returns its flow once and is ErrNotFound after", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		mustCreateFlow(t, s, f)
		got, err := s.ConsumeState(t.Context(), f.StateHash)
		if err != nil {
			t.Fatalf("first ConsumeState: %v", err)
		}
		assertFlow(t, got, f)
		_, err = s.ConsumeState(t.Context(), f.StateHash)
		assertErrIs(t, "second ConsumeState", err, store.ErrNotFound)
		// The flow itself stays: the callback goes on to update it.
		if _, err := s.GetFlow(t.Context(), f.ID); err != nil {
			t.Fatalf("GetFlow after ConsumeState: %v", err)
		}
	})

	t.Run("consuming an unknown state is ErrNotFound", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		_, err := s.ConsumeState(t.Context(), store.HashState(uid("never-issued")))
		assertErrIs(t, "ConsumeState", err, store.ErrNotFound)
	})

	t.Run("consuming a state returns the flow as last updated", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		mustCreateFlow(t, s, f)
		if _, err := s.UpdateFlow(t.Context(), f.ID, func(f store.Flow) (store.Flow, error) {
			f.NextURI = "https://app.example/changed"
			return f, nil
		}); err != nil {
			t.Fatalf("UpdateFlow: %v", err)
		}
		got, err := s.ConsumeState(t.Context(), f.StateHash)
		if err != nil {
			t.Fatalf("ConsumeState: %v", err)
		}
		if got.NextURI != "https://app.example/changed" {
			t.Errorf("ConsumeState returned NextURI %q, want the updated one", got.NextURI)
		}
	})

	t.Run("updating a flow writes fn's result and returns it", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		mustCreateFlow(t, s, f)
		clock.Advance(time.Minute)
		want := f
		want.Status = store.FlowCompleted
		want.ConnectionID = "conn-42"
		want.Sealed = nil
		want.Scopes = []string{"read"}
		want.UpdatedAt = clock.Now()
		var seen store.Flow
		got, err := s.UpdateFlow(t.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
			seen = cur
			cur.Status, cur.ConnectionID, cur.Sealed, cur.Scopes, cur.UpdatedAt =
				want.Status, want.ConnectionID, want.Sealed, want.Scopes, want.UpdatedAt
			return cur, nil
		})
		if err != nil {
			t.Fatalf("UpdateFlow: %v", err)
		}
		assertFlow(t, seen, f)
		assertFlow(t, got, want)
		read, err := s.GetFlow(t.Context(), f.ID)
		if err != nil {
			t.Fatalf("GetFlow: %v", err)
		}
		assertFlow(t, read, want)
	})

	t.Run("an error from the flow update fn is returned and nothing changes", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		mustCreateFlow(t, s, f)
		errAbort := errors.New("abort this update")
		_, err := s.UpdateFlow(t.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
			cur.Status = store.FlowFailed
			return cur, errAbort
		})
		assertErrIs(t, "UpdateFlow", err, errAbort)
		got, err := s.GetFlow(t.Context(), f.ID)
		if err != nil {
			t.Fatalf("GetFlow: %v", err)
		}
		assertFlow(t, got, f)
	})

	t.Run("updating a missing flow is ErrNotFound without calling fn", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		called := false
		_, err := s.UpdateFlow(t.Context(), uid("missing"), func(f store.Flow) (store.Flow, error) {
			called = true
			return f, nil
		})
		assertErrIs(t, "UpdateFlow", err, store.ErrNotFound)
		if called {
			t.Error("fn was called for a missing flow")
		}
	})

	t.Run("an update cannot change a flow's id or state hash", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		mustCreateFlow(t, s, f)
		otherID, otherHash := uid("flow"), store.HashState(uid("state"))
		_, err := s.UpdateFlow(t.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
			cur.ID, cur.StateHash, cur.NextURI = otherID, otherHash, "https://app.example/moved"
			return cur, nil
		})
		// A backend may refuse the update or ignore the two fields; either
		// way the flow stays under its id and state hash.
		_ = err
		got, err := s.GetFlow(t.Context(), f.ID)
		if err != nil {
			t.Fatalf("GetFlow(original id): %v", err)
		}
		if got.ID != f.ID || got.StateHash != f.StateHash {
			t.Errorf("flow now has id %q and state hash %q, want %q and %q", got.ID, got.StateHash, f.ID, f.StateHash)
		}
		_, err = s.GetFlow(t.Context(), otherID)
		assertErrIs(t, "GetFlow(new id)", err, store.ErrNotFound)
		_, err = s.ConsumeState(t.Context(), otherHash)
		assertErrIs(t, "ConsumeState(new hash)", err, store.ErrNotFound)
		consumed, err := s.ConsumeState(t.Context(), f.StateHash)
		if err != nil {
			t.Fatalf("ConsumeState(original hash): %v", err)
		}
		if consumed.ID != f.ID {
			t.Errorf("original state hash gives flow %q, want %q", consumed.ID, f.ID)
		}
	})

	t.Run("an update can extend a flow's expiry", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		mustCreateFlow(t, s, f)
		if _, err := s.UpdateFlow(t.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
			cur.ExpiresAt = cur.ExpiresAt.Add(time.Hour)
			return cur, nil
		}); err != nil {
			t.Fatalf("UpdateFlow: %v", err)
		}
		clock.Advance(30 * time.Minute)
		if _, err := s.GetFlow(t.Context(), f.ID); err != nil {
			t.Fatalf("GetFlow within the extended expiry: %v", err)
		}
		clock.Advance(time.Hour)
		_, err := s.GetFlow(t.Context(), f.ID)
		assertErrIs(t, "GetFlow after the extended expiry", err, store.ErrNotFound)
	})

	t.Run("flows are independent of each other", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		a, b := newFlow(clock), newFlow(clock)
		mustCreateFlow(t, s, a)
		mustCreateFlow(t, s, b)
		if _, err := s.ConsumeState(t.Context(), a.StateHash); err != nil {
			t.Fatalf("ConsumeState(a): %v", err)
		}
		got, err := s.ConsumeState(t.Context(), b.StateHash)
		if err != nil {
			t.Fatalf("ConsumeState(b) after consuming a: %v", err)
		}
		assertFlow(t, got, b)
	})
}
