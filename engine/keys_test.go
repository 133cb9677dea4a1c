package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/keyring"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/enginetest"
)

// TestResealWaitsForTheRefreshLock: records of the format before envelope
// encryption are resealed under the keyring, except a connection whose
// refresh lock is held (a refresh in flight could otherwise lose its
// write): that one is counted busy, left as it was, and resealed by the
// next run.
func TestResealWaitsForTheRefreshLock(t *testing.T) {
	st := enginetest.BoltStore(t, nil)
	root := enginetest.Sealer(t)
	put := func(user string) store.Connection {
		id := store.ConnectionID("hooli", user)
		sealed, err := root.Seal([]byte(`{"access_token":"at"}`), engine.RecordAAD(store.KindConnection, id))
		if err != nil {
			t.Fatal(err)
		}
		c, err := st.UpdateConnection(t.Context(), id, func(c store.Connection, _ bool) (store.Connection, error) {
			c.ID, c.UserID, c.ProviderID, c.Status, c.Sealed = id, user, "hooli", store.ConnectionConnected, sealed
			return c, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	idle, busy := put("ada"), put("bob")
	owner, err := st.Lock(t.Context(), "refresh:"+busy.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.Open(t.Context(), root, st, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st, Sealer: kr})
	if err != nil {
		t.Fatal(err)
	}
	format := func(id string) byte {
		c, err := st.GetConnection(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		f, _, _ := seal.Header(c.Sealed)
		return f
	}

	res, err := eng.Reseal(t.Context(), nil)
	if err != nil || res.Found != 2 || res.Resealed != 1 || res.Busy != 1 || len(res.Problems) != 0 {
		t.Fatalf("Reseal = %+v, %v; want 1 resealed and 1 busy of 2", res, err)
	}
	if format(idle.ID) != seal.FormatData || format(busy.ID) != seal.FormatRoot {
		t.Errorf("formats after the first run: %d, %d; want the idle one resealed and the locked one untouched", format(idle.ID), format(busy.ID))
	}
	after, _ := st.GetConnection(t.Context(), busy.ID)
	if !bytes.Equal(after.Sealed, busy.Sealed) || after.Version != busy.Version {
		t.Error("the locked connection was rewritten")
	}

	if err := st.Unlock(t.Context(), "refresh:"+busy.ID, owner); err != nil {
		t.Fatal(err)
	}
	res, err = eng.Reseal(t.Context(), nil)
	if err != nil || res.Found != 1 || res.Resealed != 1 || res.Busy != 0 {
		t.Fatalf("second Reseal = %+v, %v; want the remaining one resealed", res, err)
	}
	plain, err := kr.Open(mustGet(t, st, busy.ID).Sealed, engine.RecordAAD(store.KindConnection, busy.ID))
	if err != nil || string(plain) != `{"access_token":"at"}` {
		t.Errorf("the resealed record opens to %q, %v", plain, err)
	}
}

func mustGet(t *testing.T, st store.Store, id string) store.Connection {
	t.Helper()
	c, err := st.GetConnection(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestResealCoversConsoleSessions: a console session sealed directly by a
// root key is resealed under the keyring, keeps its expiry and still opens.
func TestResealCoversConsoleSessions(t *testing.T) {
	st := enginetest.BoltStore(t, nil)
	root := enginetest.Sealer(t)
	now := time.Now()
	put := func(id string) store.Session {
		sealed, err := root.Seal([]byte(`{"csrf":"c"}`), engine.RecordAAD(store.KindSession, id))
		if err != nil {
			t.Fatal(err)
		}
		sess := store.Session{ID: id, Sealed: sealed, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
		return sess
	}
	kept := put("s1")
	kr, err := keyring.Open(t.Context(), root, st, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st, Sealer: kr})
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Reseal(t.Context(), nil)
	if err != nil || res.Found != 1 || res.Resealed != 1 || len(res.Problems) != 0 {
		t.Fatalf("Reseal = %+v, %v; want the one session resealed", res, err)
	}
	got, err := st.GetSession(t.Context(), kept.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f, _, _ := seal.Header(got.Sealed); f != seal.FormatData {
		t.Errorf("the session's format after Reseal is %d, want the keyring's", f)
	}
	if plain, err := kr.Open(got.Sealed, engine.RecordAAD(store.KindSession, kept.ID)); err != nil || string(plain) != `{"csrf":"c"}` {
		t.Errorf("the resealed session opens to %q, %v", plain, err)
	}
	if !got.ExpiresAt.Equal(kept.ExpiresAt) {
		t.Errorf("Reseal changed the session's expiry: %v, want %v", got.ExpiresAt, kept.ExpiresAt)
	}
}
