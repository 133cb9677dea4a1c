package codec

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

var (
	t1 = time.Date(2026, 11, 29, 5, 8, 9, 123456789, time.UTC)
	t2 = time.Date(2026, 11, 29, 5, 0, 0, 1, time.UTC)
)

// The records the golden JSON below holds, as they decode (UTC times).
var goldenRecords = map[string]any{
	"flow": store.Flow{ID: "f1", StateHash: "abc", UserID: "u1", ProviderID: "hooli", Scopes: []string{"a", "b c"},
		NextURI: "https://x/y?z=1&w=\"2\"", Status: store.FlowFailed, Error: "bad <thing>", ConnectionID: "c1",
		Sealed: []byte{0, 1, 2, 255}, CreatedAt: t1, UpdatedAt: t2, ExpiresAt: t1, ErrorKind: "scope_not_granted",
		MissingScopes: []string{"b c"}, Account: "work"},
	"flow-min": store.Flow{ID: "f2", StateHash: "h", Status: store.FlowPending},
	"connection": store.Connection{ID: "c1", UserID: "u1", ProviderID: "hooli", Status: store.ConnectionConnected,
		Scopes: []string{"read", "write"}, ExpiresAt: t1, Sealed: []byte("\x00sealed\xff"), CreatedAt: t2, UpdatedAt: t1,
		Version: 42, DeclinedScopes: []string{"admin"}, Account: "work"},
	"connection-min": store.Connection{ID: "c2", ProviderID: "svc", Status: store.ConnectionExpired},
	"provider":       store.ProviderRecord{ID: "p1", Sealed: []byte("cfg"), CreatedAt: t1, UpdatedAt: t2},
	"session":        store.Session{ID: "s1", Sealed: []byte("sess"), CreatedAt: t1, ExpiresAt: t2},
	"discovery":      store.DiscoveryRecord{ID: "issuer:abc", Sealed: []byte("doc"), UpdatedAt: t1},
	"datakey":        store.DataKey{ID: "dk1", RootKeyID: "k1", Wrapped: []byte("wrapped"), CreatedAt: t1},
	"event": store.Event{ID: "evt_1", Key: "c1", Type: "connection.created", Payload: []byte(`{"a":1}`),
		Status: store.EventFailed, Attempts: 3, NextAttemptAt: t1, LastError: "http 500", Done: []string{"hook1"},
		CreatedAt: t2, UpdatedAt: t1},
	"audit": store.AuditEntry{ID: "aud_1", Time: t1, Actor: "admin_key:3f2a", Action: "provider.update", Target: "p1",
		Changed: []string{"a.b", "c"}, SecretReentered: true},
}

// goldenJSON is what the JSON encoders of earlier releases wrote for
// goldenRecords: bolt's (with "v": 1, times in the zone they were given)
// and Redis's (times in UTC). These bytes must keep decoding.
var goldenJSON = []struct{ record, backend, json string }{
	{"flow", "bolt", "{\"v\":1,\"id\":\"f1\",\"state_hash\":\"abc\",\"user_id\":\"u1\",\"provider_id\":\"hooli\",\"scopes\":[\"a\",\"b c\"],\"next_uri\":\"https://x/y?z=1\\u0026w=\\\"2\\\"\",\"status\":\"failed\",\"error\":\"bad \\u003cthing\\u003e\",\"connection_id\":\"c1\",\"sealed\":\"AAEC/w==\",\"created_at\":\"2026-11-29T07:08:09.123456789+02:00\",\"updated_at\":\"2026-11-29T05:00:00.000000001Z\",\"expires_at\":\"2026-11-29T07:08:09.123456789+02:00\",\"error_kind\":\"scope_not_granted\",\"missing_scopes\":[\"b c\"],\"account\":\"work\"}"},
	{"flow", "redis", "{\"id\":\"f1\",\"state_hash\":\"abc\",\"user_id\":\"u1\",\"provider_id\":\"hooli\",\"scopes\":[\"a\",\"b c\"],\"next_uri\":\"https://x/y?z=1\\u0026w=\\\"2\\\"\",\"status\":\"failed\",\"error\":\"bad \\u003cthing\\u003e\",\"connection_id\":\"c1\",\"sealed\":\"AAEC/w==\",\"created_at\":\"2026-11-29T05:08:09.123456789Z\",\"updated_at\":\"2026-11-29T05:00:00.000000001Z\",\"expires_at\":\"2026-11-29T05:08:09.123456789Z\",\"error_kind\":\"scope_not_granted\",\"missing_scopes\":[\"b c\"],\"account\":\"work\"}"},
	{"flow-min", "bolt", "{\"v\":1,\"id\":\"f2\",\"state_hash\":\"h\",\"status\":\"pending\"}"},
	{"flow-min", "redis", "{\"id\":\"f2\",\"state_hash\":\"h\",\"status\":\"pending\"}"},
	{"connection", "bolt", "{\"v\":1,\"id\":\"c1\",\"user_id\":\"u1\",\"provider_id\":\"hooli\",\"status\":\"connected\",\"scopes\":[\"read\",\"write\"],\"expires_at\":\"2026-11-29T07:08:09.123456789+02:00\",\"sealed\":\"AHNlYWxlZP8=\",\"created_at\":\"2026-11-29T05:00:00.000000001Z\",\"updated_at\":\"2026-11-29T07:08:09.123456789+02:00\",\"version\":42,\"declined_scopes\":[\"admin\"],\"account\":\"work\"}"},
	{"connection", "redis", "{\"id\":\"c1\",\"user_id\":\"u1\",\"provider_id\":\"hooli\",\"status\":\"connected\",\"scopes\":[\"read\",\"write\"],\"expires_at\":\"2026-11-29T05:08:09.123456789Z\",\"sealed\":\"AHNlYWxlZP8=\",\"created_at\":\"2026-11-29T05:00:00.000000001Z\",\"updated_at\":\"2026-11-29T05:08:09.123456789Z\",\"version\":42,\"declined_scopes\":[\"admin\"],\"account\":\"work\"}"},
	{"connection-min", "bolt", "{\"v\":1,\"id\":\"c2\",\"provider_id\":\"svc\",\"status\":\"expired\",\"version\":0}"},
	{"connection-min", "redis", "{\"id\":\"c2\",\"provider_id\":\"svc\",\"status\":\"expired\",\"version\":0}"},
	{"provider", "bolt", "{\"v\":1,\"id\":\"p1\",\"sealed\":\"Y2Zn\",\"created_at\":\"2026-11-29T07:08:09.123456789+02:00\",\"updated_at\":\"2026-11-29T05:00:00.000000001Z\"}"},
	{"provider", "redis", "{\"id\":\"p1\",\"sealed\":\"Y2Zn\",\"created_at\":\"2026-11-29T05:08:09.123456789Z\",\"updated_at\":\"2026-11-29T05:00:00.000000001Z\"}"},
	{"session", "bolt", "{\"v\":1,\"id\":\"s1\",\"sealed\":\"c2Vzcw==\",\"created_at\":\"2026-11-29T07:08:09.123456789+02:00\",\"expires_at\":\"2026-11-29T05:00:00.000000001Z\"}"},
	{"session", "redis", "{\"id\":\"s1\",\"sealed\":\"c2Vzcw==\",\"created_at\":\"2026-11-29T05:08:09.123456789Z\",\"expires_at\":\"2026-11-29T05:00:00.000000001Z\"}"},
	{"discovery", "bolt", "{\"v\":1,\"id\":\"issuer:abc\",\"sealed\":\"ZG9j\",\"updated_at\":\"2026-11-29T07:08:09.123456789+02:00\"}"},
	{"discovery", "redis", "{\"id\":\"issuer:abc\",\"sealed\":\"ZG9j\",\"updated_at\":\"2026-11-29T05:08:09.123456789Z\"}"},
	{"datakey", "bolt", "{\"v\":1,\"id\":\"dk1\",\"root_key_id\":\"k1\",\"wrapped\":\"d3JhcHBlZA==\",\"created_at\":\"2026-11-29T07:08:09.123456789+02:00\"}"},
	{"datakey", "redis", "{\"id\":\"dk1\",\"root_key_id\":\"k1\",\"wrapped\":\"d3JhcHBlZA==\",\"created_at\":\"2026-11-29T05:08:09.123456789Z\"}"},
	{"event", "bolt", "{\"v\":1,\"id\":\"evt_1\",\"key\":\"c1\",\"type\":\"connection.created\",\"payload\":\"eyJhIjoxfQ==\",\"status\":\"failed\",\"attempts\":3,\"next_attempt_at\":\"2026-11-29T07:08:09.123456789+02:00\",\"last_error\":\"http 500\",\"done\":[\"hook1\"],\"created_at\":\"2026-11-29T05:00:00.000000001Z\",\"updated_at\":\"2026-11-29T07:08:09.123456789+02:00\"}"},
	{"event", "redis", "{\"id\":\"evt_1\",\"key\":\"c1\",\"type\":\"connection.created\",\"payload\":\"eyJhIjoxfQ==\",\"status\":\"failed\",\"attempts\":3,\"next_attempt_at\":\"2026-11-29T05:08:09.123456789Z\",\"last_error\":\"http 500\",\"done\":[\"hook1\"],\"created_at\":\"2026-11-29T05:00:00.000000001Z\",\"updated_at\":\"2026-11-29T05:08:09.123456789Z\"}"},
	{"audit", "bolt", "{\"v\":1,\"id\":\"aud_1\",\"time\":\"2026-11-29T07:08:09.123456789+02:00\",\"actor\":\"admin_key:3f2a\",\"action\":\"provider.update\",\"target\":\"p1\",\"changed\":[\"a.b\",\"c\"],\"secret_reentered\":true}"},
	{"audit", "redis", "{\"id\":\"aud_1\",\"time\":\"2026-11-29T05:08:09.123456789Z\",\"actor\":\"admin_key:3f2a\",\"action\":\"provider.update\",\"target\":\"p1\",\"changed\":[\"a.b\",\"c\"],\"secret_reentered\":true}"},
}

// decodeAs decodes b as the kind of record want is.
func decodeAs(want any, b []byte) (any, error) {
	switch want.(type) {
	case store.Flow:
		return DecodeFlow(b)
	case store.Connection:
		return DecodeConnection(b)
	case store.ProviderRecord:
		return DecodeProvider(b)
	case store.Session:
		return DecodeSession(b)
	case store.DiscoveryRecord:
		return DecodeDiscovery(b)
	case store.DataKey:
		return DecodeDataKey(b)
	case store.Event:
		return DecodeEvent(b)
	case store.AuditEntry:
		return DecodeAudit(b)
	}
	panic("unknown record type")
}

func encode(r any) []byte {
	switch r := r.(type) {
	case store.Flow:
		return EncodeFlow(r)
	case store.Connection:
		return EncodeConnection(r)
	case store.ProviderRecord:
		return EncodeProvider(r)
	case store.Session:
		return EncodeSession(r)
	case store.DiscoveryRecord:
		return EncodeDiscovery(r)
	case store.DataKey:
		return EncodeDataKey(r)
	case store.Event:
		return EncodeEvent(r)
	case store.AuditEntry:
		return EncodeAudit(r)
	}
	panic("unknown record type")
}

func TestReadsTheJSONRecordsOfEarlierReleases(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range goldenJSON {
		want := goldenRecords[g.record]
		got, err := decodeAs(want, []byte(g.json))
		if err != nil {
			t.Errorf("%s (%s): %v", g.record, g.backend, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s (%s):\n got %#v\nwant %#v", g.record, g.backend, got, want)
		}
		seen[g.record] = true
	}
	if len(seen) != len(goldenRecords) {
		t.Errorf("golden JSON covers %d of %d records", len(seen), len(goldenRecords))
	}
}

func TestRoundTrip(t *testing.T) {
	zone := time.FixedZone("X", -5*3600)
	long := strings.Repeat("x", 300) // lengths above one varint byte
	records := []any{
		// Times in another zone come back in UTC, same instant, same ns.
		store.Connection{ID: long, UserID: "ü", ProviderID: "p", Status: store.ConnectionConnected,
			Scopes: []string{"", long}, ExpiresAt: t1.In(zone), Sealed: bytes.Repeat([]byte{0xff}, 1200),
			Version: math.MaxUint64, DeclinedScopes: []string{"d"}},
		store.Flow{ID: "f", Scopes: []string{"a"}, ExpiresAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
			CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), UpdatedAt: time.Unix(-1, 5).UTC()},
		store.Event{ID: "e", Attempts: -3, Done: []string{"a", "b", "c"}, Payload: []byte{}},
		store.AuditEntry{ID: "a", Time: t1, SecretReentered: false},
		store.DataKey{ID: "k", Wrapped: []byte{}},
		store.DataKey{ID: "k"},
	}
	for _, r := range goldenRecords {
		records = append(records, r)
	}
	for _, r := range records {
		got, err := decodeAs(r, encode(r))
		if err != nil {
			t.Errorf("%T: %v", r, err)
			continue
		}
		if want := normal(r); !reflect.DeepEqual(got, want) {
			t.Errorf("%T round trip:\n got %#v\nwant %#v", r, got, want)
		}
	}
}

// normal is r as it decodes: times in UTC, empty lists and empty sealed
// parts nil (a data key keeps an empty Wrapped).
func normal(r any) any {
	switch r := r.(type) {
	case store.Connection:
		r.ExpiresAt, r.CreatedAt, r.UpdatedAt = utc(r.ExpiresAt), utc(r.CreatedAt), utc(r.UpdatedAt)
		r.Scopes, r.DeclinedScopes, r.Sealed = list(r.Scopes), list(r.DeclinedScopes), nilEmpty(r.Sealed)
		return r
	case store.Flow:
		r.ExpiresAt, r.CreatedAt, r.UpdatedAt = utc(r.ExpiresAt), utc(r.CreatedAt), utc(r.UpdatedAt)
		r.Scopes, r.MissingScopes, r.Sealed = list(r.Scopes), list(r.MissingScopes), nilEmpty(r.Sealed)
		return r
	case store.Event:
		r.NextAttemptAt, r.CreatedAt, r.UpdatedAt = utc(r.NextAttemptAt), utc(r.CreatedAt), utc(r.UpdatedAt)
		r.Done, r.Payload = list(r.Done), nilEmpty(r.Payload)
		return r
	case store.AuditEntry:
		r.Time, r.Changed = utc(r.Time), list(r.Changed)
		return r
	case store.DataKey:
		r.CreatedAt = utc(r.CreatedAt)
		return r
	case store.ProviderRecord:
		r.CreatedAt, r.UpdatedAt, r.Sealed = utc(r.CreatedAt), utc(r.UpdatedAt), nilEmpty(r.Sealed)
		return r
	case store.Session:
		r.CreatedAt, r.ExpiresAt, r.Sealed = utc(r.CreatedAt), utc(r.ExpiresAt), nilEmpty(r.Sealed)
		return r
	case store.DiscoveryRecord:
		r.UpdatedAt, r.Sealed = utc(r.UpdatedAt), nilEmpty(r.Sealed)
		return r
	}
	panic("unknown record type")
}

func TestEmptyAndNilAsJSONDid(t *testing.T) {
	c, err := DecodeConnection(EncodeConnection(store.Connection{ID: "c", Scopes: []string{}, DeclinedScopes: nil, Sealed: []byte{}}))
	if err != nil || c.Scopes != nil || c.DeclinedScopes != nil || c.Sealed != nil {
		t.Errorf("empty lists and sealed part: got %#v, %v; want nil each", c, err)
	}
	k, err := DecodeDataKey(EncodeDataKey(store.DataKey{ID: "k", Wrapped: []byte{}}))
	if err != nil || k.Wrapped == nil {
		t.Errorf("a data key's empty Wrapped: got %#v, %v; want empty, not nil", k.Wrapped, err)
	}
}

func TestDecodedRecordsDoNotAliasTheirInput(t *testing.T) {
	want := goldenRecords["connection"].(store.Connection)
	b := EncodeConnection(want)
	c, err := DecodeConnection(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X' // what bbolt's reused pages or a reused buffer would do
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("the decoded connection changed with its input: %#v", c)
	}
	c.Scopes = append(c.Scopes, "more")
	if !reflect.DeepEqual(c.DeclinedScopes, want.DeclinedScopes) {
		t.Errorf("appending to Scopes changed DeclinedScopes: %q", c.DeclinedScopes)
	}
}

func TestCorruptRecordsAreErrorsNamingKindAndProblem(t *testing.T) {
	secret := "secret-token-value"
	c := goldenRecords["connection"].(store.Connection)
	c.ID, c.Sealed = secret, []byte(secret)
	good := EncodeConnection(c)
	with := func(mod func([]byte) []byte) []byte { return mod(bytes.Clone(good)) }
	cases := []struct {
		name, want string
		b          []byte
	}{
		{"empty", "corrupt connection record: empty", nil},
		{"unknown format", "unknown format byte 0x6e", []byte("not-a-record " + secret)},
		{"another kind", "it is a flow record", EncodeFlow(store.Flow{ID: secret})},
		{"unknown kind", "it is a unknown kind 99 record", with(func(b []byte) []byte { b[1] = 99; return b })},
		{"stray bytes", "2 stray bytes after the record", append(bytes.Clone(good), 0, 0)},
		{"bad JSON", "corrupt connection record: bad JSON", []byte(`{"id":"` + secret)},
		{"JSON of the wrong shape", "bad JSON", []byte(`{"version":"` + secret + `"}`)},
		{"strings past the end", "field strings: length", with(func(b []byte) []byte { b[2] = 0x7f; return b[:40] })},
		{"sealed past the end", "field sealed: length", good[:len(good)-1]},
		{"bad time flag", "field expires_at: bad time flag 7", with(func(b []byte) []byte {
			// The byte after the strings section and the version.
			n := int(b[2]) + 3 + 1
			b[n] = 7
			return b
		})},
	}
	for _, tc := range cases {
		_, err := DecodeConnection(tc.b)
		if err == nil {
			t.Errorf("%s: decoded without error", tc.name)
			continue
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "corrupt connection record: ") {
			t.Errorf("%s: error %q, want one wrapping ErrCorrupt that says %q", tc.name, err, tc.want)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q quotes the record", tc.name, err)
		}
		if ok, err := MatchConnection(tc.b, store.ConnectionFilter{}); ok || err == nil {
			t.Errorf("%s: MatchConnection = %v, %v; want an error", tc.name, ok, err)
		}
	}
	// Every truncation of every kind is an error, never a panic.
	for name, r := range goldenRecords {
		b := encode(r)
		for n := range len(b) {
			if _, err := decodeAs(r, b[:n]); err == nil {
				t.Errorf("%s cut to %d of %d bytes decoded without error", name, n, len(b))
			}
		}
	}
}

func TestMatchConnection(t *testing.T) {
	c := goldenRecords["connection"].(store.Connection)
	for _, b := range [][]byte{EncodeConnection(c), []byte(goldenJSON[4].json)} {
		for _, tc := range []struct {
			f    store.ConnectionFilter
			want bool
		}{
			{store.ConnectionFilter{}, true},
			{store.ConnectionFilter{UserID: "u1", ProviderID: "hooli", Status: store.ConnectionConnected, Account: "work"}, true},
			{store.ConnectionFilter{UserID: "u2"}, false},
			{store.ConnectionFilter{ProviderID: "hool"}, false},
			{store.ConnectionFilter{Status: store.ConnectionRevoked}, false},
			{store.ConnectionFilter{Account: "home"}, false},
		} {
			if got, err := MatchConnection(b, tc.f); err != nil || got != tc.want {
				t.Errorf("MatchConnection(%q..., %+v) = %v, %v; want %v", b[:8], tc.f, got, err, tc.want)
			}
		}
	}
}

func TestDecodeConnectionAllocations(t *testing.T) {
	b := EncodeConnection(benchConnection())
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := DecodeConnection(b); err != nil {
			t.Fatal(err)
		}
	})
	// The strings section, the scope lists, the sealed part.
	if allocs > 3 {
		t.Errorf("DecodeConnection: %.0f allocations, want at most 3", allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = MatchConnection(b, store.ConnectionFilter{UserID: "x"}) }); allocs != 0 {
		t.Errorf("MatchConnection: %.0f allocations, want none", allocs)
	}
}

// TestEveryFieldIsStored: a field added to a record type fails here until
// the codec stores it (and the count below is raised with it).
func TestEveryFieldIsStored(t *testing.T) {
	for _, tc := range []struct {
		record any
		fields int
	}{
		{store.Flow{}, 16}, {store.Connection{}, 12}, {store.ProviderRecord{}, 4}, {store.Session{}, 4},
		{store.DiscoveryRecord{}, 3}, {store.DataKey{}, 4}, {store.Event{}, 11}, {store.AuditEntry{}, 7},
	} {
		if n := reflect.TypeOf(tc.record).NumField(); n != tc.fields {
			t.Errorf("%T has %d fields; the codec stores %d: store the new one (engine/store/codec/records.go) and test its round trip", tc.record, n, tc.fields)
		}
	}
}
