package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// runScan checks that Scan yields every connection, provider, discovery
// record, unexpired flow and unexpired session with its sealed bytes,
// once, and skips expired flows and sessions.
func runScan(t *testing.T, newStore NewStore) {
	t.Run("yields every record once with its sealed bytes and skips expired flows and sessions", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		want := map[string][]byte{}
		for range 3 {
			c := putConnection(t, s, connectionFor(clock, "hooli", uid("user")))
			want[store.KindConnection+"/"+c.ID] = c.Sealed
		}
		p := store.ProviderRecord{ID: uid("prov"), Sealed: randomBytes(48), CreatedAt: clock.Now(), UpdatedAt: clock.Now()}
		if err := s.CreateProvider(t.Context(), p); err != nil {
			t.Fatalf("CreateProvider: %v", err)
		}
		want[store.KindProvider+"/"+p.ID] = p.Sealed
		d := store.DiscoveryRecord{ID: uid("mcp:"), Sealed: randomBytes(48), UpdatedAt: clock.Now()}
		if err := s.PutDiscovery(t.Context(), d); err != nil {
			t.Fatalf("PutDiscovery: %v", err)
		}
		want[store.KindDiscovery+"/"+d.ID] = d.Sealed
		live := newFlow(clock)
		live.ExpiresAt = clock.Now().Add(time.Hour)
		mustCreateFlow(t, s, live)
		want[store.KindFlow+"/"+live.ID] = live.Sealed
		mustCreateFlow(t, s, newFlow(clock)) // expires in 10 minutes
		liveSession := store.Session{ID: uid("sess"), Sealed: randomBytes(40), CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
		deadSession := store.Session{ID: uid("sess"), Sealed: randomBytes(40), CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Minute)}
		for _, sess := range []store.Session{liveSession, deadSession} {
			if err := s.CreateSession(t.Context(), sess); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
		}
		want[store.KindSession+"/"+liveSession.ID] = liveSession.Sealed
		clock.Advance(30 * time.Minute)

		got := map[string][]byte{}
		err := s.Scan(t.Context(), func(r store.SealedRecord) error {
			if r.Err != nil {
				t.Errorf("Scan: record %s %s: %v", r.Kind, r.ID, r.Err)
			}
			k := r.Kind + "/" + r.ID
			if _, dup := got[k]; dup {
				t.Errorf("Scan yielded %s twice", k)
			}
			got[k] = r.Sealed
			return nil
		})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if len(got) != len(want) {
			t.Errorf("Scan yielded %d records, want %d (the expired flow skipped): %v", len(got), len(want), keys(got))
		}
		for k, sealed := range want {
			if !bytes.Equal(got[k], sealed) {
				t.Errorf("Scan: %s: sealed bytes differ or record missing", k)
			}
		}
	})
	t.Run("stops at fn's error and returns it", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		putConnection(t, s, connectionFor(clock, "hooli", uid("user")))
		putConnection(t, s, connectionFor(clock, "hooli", uid("user")))
		calls := 0
		err := s.Scan(t.Context(), func(store.SealedRecord) error { calls++; return errStop })
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("Scan = %v after %d calls, want errStop after 1", err, calls)
		}
	})
}

var errStop = errors.New("stop")

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
