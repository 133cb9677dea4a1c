package codec

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// FuzzDecode: no input makes a decoder panic, and whatever decodes
// re-encodes to a record that decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, r := range goldenRecords {
		f.Add(encode(r))
	}
	for _, g := range goldenJSON {
		f.Add([]byte(g.json))
	}
	f.Add([]byte{FormatVersion, kindConnection, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range goldenRecords {
			r, err := decodeAs(kind, b)
			if err != nil {
				continue
			}
			again, err := decodeAs(kind, encode(r))
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("%T %#v re-encodes to %#v, %v", r, r, again, err)
			}
		}
		_, _ = MatchConnection(b, store.ConnectionFilter{UserID: "u1"})
	})
}

// FuzzConnectionRoundTrip: every connection decodes as it was encoded
// (times in UTC, empty lists nil).
func FuzzConnectionRoundTrip(f *testing.F) {
	f.Add("c1", "u1", "hooli", "connected", "work", "a b", "", int64(1764392889), int64(123456789), uint64(7), []byte("sealed"))
	f.Add("", "", "", "", "", "", "x", int64(-62135596800), int64(0), uint64(0), []byte(nil))
	f.Fuzz(func(t *testing.T, id, user, provider, status, account, scope, declined string, sec, nsec int64, version uint64, sealed []byte) {
		var scopes []string
		if scope != "" {
			scopes = []string{scope, id}
		}
		c := store.Connection{ID: id, UserID: user, ProviderID: provider, Status: store.ConnectionStatus(status), Account: account,
			Scopes: scopes, DeclinedScopes: []string{declined}, ExpiresAt: time.Unix(sec, nsec), CreatedAt: time.Unix(nsec, sec),
			Version: version, Sealed: sealed}
		got, err := DecodeConnection(EncodeConnection(c))
		if err != nil {
			t.Fatal(err)
		}
		if want := normal(c); !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
		}
		if ok, err := MatchConnection(EncodeConnection(c), store.ConnectionFilter{UserID: user, ProviderID: provider, Account: account}); !ok || err != nil {
			t.Fatalf("MatchConnection of its own fields = %v, %v", ok, err)
		}
	})
}

// benchConnection is a connection as the engine writes one: a sealed token
// set of about 1 KB (an access token, a refresh token, an id token's
// claims, the user info), two scopes.
func benchConnection() store.Connection {
	sealed := make([]byte, 1100)
	for i := range sealed {
		sealed[i] = byte(i * 7)
	}
	now := time.Date(2026, 11, 29, 6, 0, 0, 123456789, time.UTC)
	return store.Connection{ID: store.ConnectionID("google", "user-12345"), UserID: "user-12345", ProviderID: "google",
		Status: store.ConnectionConnected, Scopes: []string{"openid", "https://www.googleapis.com/auth/gmail.readonly"},
		ExpiresAt: now.Add(time.Hour), Sealed: sealed, CreatedAt: now.Add(-24 * time.Hour), UpdatedAt: now, Version: 17}
}

func BenchmarkConnection(b *testing.B) {
	c := benchConnection()
	old, err := json.Marshal(jsonConnection{V: 1, ID: c.ID, UserID: c.UserID, ProviderID: c.ProviderID, Status: string(c.Status),
		Scopes: c.Scopes, ExpiresAt: c.ExpiresAt, Sealed: c.Sealed, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version})
	if err != nil {
		b.Fatal(err)
	}
	bin := EncodeConnection(c)
	b.Run("decode/json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(old)))
		for b.Loop() {
			if _, err := DecodeConnection(old); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/binary", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(bin)))
		for b.Loop() {
			if _, err := DecodeConnection(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(jsonConnection{V: 1, ID: c.ID, UserID: c.UserID, ProviderID: c.ProviderID, Status: string(c.Status),
				Scopes: c.Scopes, ExpiresAt: c.ExpiresAt, Sealed: c.Sealed, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			EncodeConnection(c)
		}
	})
	b.Run("match/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := MatchConnection(old, store.ConnectionFilter{ProviderID: "github"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("match/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := MatchConnection(bin, store.ConnectionFilter{ProviderID: "github"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Logf("record size: JSON %d bytes, binary %d bytes", len(old), len(bin))
}
