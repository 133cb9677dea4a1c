package bolt

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// TestReadsRecordsWrittenAsJSON: a file written by releases that stored
// JSON records keeps opening, passes Check, and a record is rewritten in
// the binary form by its next write.
func TestReadsRecordsWrittenAsJSON(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "authengine.db")
	s := mustOpen(t, path, Options{})
	id := store.AccountConnectionID("hooli", "u1", "work")
	// As the JSON encoder of earlier releases wrote them: "v": 1, times
	// in the zone they were given.
	records := map[string]map[string]string{
		string(bucketConnections): {id: `{"v":1,"id":"` + id + `","user_id":"u1","provider_id":"hooli","status":"connected","scopes":["read","write"],"expires_at":"2099-11-29T07:08:09.123456789+02:00","sealed":"AHNlYWxlZP8=","created_at":"2026-11-29T05:00:00.000000001Z","updated_at":"2026-11-29T07:08:09.123456789+02:00","version":42,"account":"work"}`},
		string(bucketFlows):       {"f1": `{"v":1,"id":"f1","state_hash":"abc","status":"pending","sealed":"AAEC/w==","expires_at":"2099-11-29T05:08:09Z"}`},
		string(bucketProviders):   {"p1": `{"v":1,"id":"p1","sealed":"Y2Zn","created_at":"2026-11-29T07:08:09.123456789+02:00"}`},
		string(bucketSessions):    {"s1": `{"v":1,"id":"s1","sealed":"c2Vzcw==","expires_at":"2099-11-29T05:00:00.000000001Z"}`},
		string(bucketDiscovery):   {"issuer:x": `{"v":1,"id":"issuer:x","sealed":"ZG9j","updated_at":"2026-11-29T07:08:09.123456789+02:00"}`},
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		// Those releases kept no connection counts either.
		for _, name := range [][]byte{bucketConnCounts, bucketConnIndex} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		for bucket, recs := range records {
			b, err := tx.CreateBucketIfNotExists([]byte(bucket))
			if err != nil {
				return err
			}
			for k, v := range recs {
				if err := b.Put([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path, Options{})

	want := store.Connection{ID: id, UserID: "u1", ProviderID: "hooli", Status: store.ConnectionConnected,
		Scopes: []string{"read", "write"}, ExpiresAt: time.Date(2099, 11, 29, 5, 8, 9, 123456789, time.UTC),
		Sealed: []byte("\x00sealed\xff"), CreatedAt: time.Date(2026, 11, 29, 5, 0, 0, 1, time.UTC),
		UpdatedAt: time.Date(2026, 11, 29, 5, 8, 9, 123456789, time.UTC), Version: 42, Account: "work"}
	if got, err := s.GetConnection(ctx, id); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetConnection of a JSON record = %#v, %v; want %#v", got, err, want)
	}
	if list, n, err := s.ListConnections(ctx, store.ConnectionFilter{ProviderID: "hooli", Account: "work"}, 0, 10); err != nil || n != 1 || !reflect.DeepEqual(list[0], want) {
		t.Fatalf("ListConnections = %v, %d, %v", list, n, err)
	}
	sealed := map[string]string{}
	if err := s.Scan(ctx, func(r store.SealedRecord) error {
		if r.Err != nil {
			t.Errorf("Scan: %s: %v", r.Kind, r.Err)
		}
		sealed[r.Kind] = string(r.Sealed)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantSealed := map[string]string{store.KindConnection: "\x00sealed\xff", store.KindFlow: "\x00\x01\x02\xff",
		store.KindProvider: "cfg", store.KindSession: "sess", store.KindDiscovery: "doc"}
	if !reflect.DeepEqual(sealed, wantSealed) {
		t.Errorf("Scan found %q, want %q", sealed, wantSealed)
	}

	next, err := s.UpdateConnection(ctx, id, func(c store.Connection, exists bool) (store.Connection, error) {
		c.Status = store.ConnectionNeedsReauth
		return c, nil
	})
	if err != nil || next.Version != 43 {
		t.Fatalf("UpdateConnection = %+v, %v; want version 43", next, err)
	}
	if err := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketConnections).Get([]byte(id)); v[0] != codec.FormatVersion {
			t.Errorf("the rewritten record starts with %q; want the binary format", v[:1])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if problems, err := Check(ctx, path); err != nil || len(problems) != 0 {
		t.Errorf("Check of a file holding JSON and binary records = %q, %v; want no problems", problems, err)
	}
}

func TestCheckNamesADamagedBinaryRecord(t *testing.T) {
	path := filledFile(t, 5)
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret := "secret-sealed-token"
	rec := codec.EncodeConnection(store.Connection{ID: "c-cut", ProviderID: "hooli", Sealed: []byte(secret)})
	err = db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketConnections).Put([]byte("c-cut"), rec[:len(rec)-3])
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := Check(t.Context(), path)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], `"c-cut": corrupt connection record: field sealed: length`) || strings.Contains(problems[0], "secret") {
		t.Errorf("Check = %q, %v; want one problem naming c-cut, its kind and its cut sealed field, without its content", problems, err)
	}
}
