package redis_test

import (
	"reflect"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// TestReadsRecordsWrittenAsJSON: keys written by releases that stored
// JSON records keep opening, and a record is rewritten in the binary form
// by its next write.
func TestReadsRecordsWrittenAsJSON(t *testing.T) {
	ctx := t.Context()
	s, client, prefix := newStore(t, time.Now)
	id := store.AccountConnectionID("hooli", "u1", "work")
	// As the JSON encoder of earlier releases wrote them.
	conn := `{"id":"` + id + `","user_id":"u1","provider_id":"hooli","status":"connected","scopes":["read","write"],"expires_at":"2099-11-29T05:08:09.123456789Z","sealed":"AHNlYWxlZP8=","created_at":"2026-11-29T05:00:00.000000001Z","updated_at":"2026-11-29T05:08:09.123456789Z","version":42,"account":"work"}`
	flow := `{"id":"f1","state_hash":"abc","user_id":"u1","provider_id":"hooli","status":"pending","sealed":"AAEC/w==","expires_at":"2099-11-29T05:08:09Z"}`
	provider := `{"id":"p1","sealed":"Y2Zn","created_at":"2026-11-29T05:08:09.123456789Z"}`
	if err := client.Set(ctx, prefix+"conn:{"+id+"}", conn, 0).Err(); err != nil {
		t.Fatal(err)
	}
	client.ZAdd(ctx, prefix+"conns", goredis.Z{Member: id})
	client.Set(ctx, prefix+"flow:{f1}", flow, 0)
	client.Set(ctx, prefix+"provider:{p1}", provider, 0)
	client.SAdd(ctx, prefix+"providers", "p1")

	want := store.Connection{ID: id, UserID: "u1", ProviderID: "hooli", Status: store.ConnectionConnected,
		Scopes: []string{"read", "write"}, ExpiresAt: time.Date(2099, 11, 29, 5, 8, 9, 123456789, time.UTC),
		Sealed: []byte("\x00sealed\xff"), CreatedAt: time.Date(2026, 11, 29, 5, 0, 0, 1, time.UTC),
		UpdatedAt: time.Date(2026, 11, 29, 5, 8, 9, 123456789, time.UTC), Version: 42, Account: "work"}
	got, err := s.GetConnection(ctx, id)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetConnection of a JSON record = %#v, %v; want %#v", got, err, want)
	}
	if list, n, err := s.ListConnections(ctx, store.ConnectionFilter{ProviderID: "hooli"}, 0, 10); err != nil || n != 1 || !reflect.DeepEqual(list[0], want) {
		t.Fatalf("ListConnections = %v, %d, %v", list, n, err)
	}
	if f, err := s.GetFlow(ctx, "f1"); err != nil || f.StateHash != "abc" || string(f.Sealed) != "\x00\x01\x02\xff" {
		t.Fatalf("GetFlow of a JSON record = %#v, %v", f, err)
	}
	sealed := map[string]string{}
	if err := s.Scan(ctx, func(r store.SealedRecord) error {
		if r.Err != nil {
			t.Errorf("Scan: %s %s: %v", r.Kind, r.ID, r.Err)
		}
		sealed[r.Kind+" "+r.ID] = string(r.Sealed)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if wantSealed := map[string]string{"connection " + id: "\x00sealed\xff", "flow f1": "\x00\x01\x02\xff", "provider p1": "cfg"}; !reflect.DeepEqual(sealed, wantSealed) {
		t.Errorf("Scan found %q, want %q", sealed, wantSealed)
	}

	next, err := s.UpdateConnection(ctx, id, func(c store.Connection, exists bool) (store.Connection, error) {
		if !exists || !reflect.DeepEqual(c, want) {
			t.Errorf("UpdateConnection saw %#v, %v", c, exists)
		}
		c.Status = store.ConnectionNeedsReauth
		return c, nil
	})
	if err != nil || next.Version != 43 {
		t.Fatalf("UpdateConnection = %+v, %v; want version 43", next, err)
	}
	raw, err := client.Get(ctx, prefix+"conn:{"+id+"}").Bytes()
	if err != nil || raw[0] != codec.FormatVersion {
		t.Fatalf("the rewritten record starts with %q, %v; want the binary format", raw[:1], err)
	}
	next.UpdatedAt = next.UpdatedAt.UTC() // the clock's time; stored in UTC
	if got, err := s.GetConnection(ctx, id); err != nil || !reflect.DeepEqual(got, next) {
		t.Errorf("GetConnection after the rewrite = %#v, %v; want %#v", got, err, next)
	}
}
