package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// testKey returns a key whose secret is 32 copies of b.
func testKey(id string, b byte) Key {
	return Key{ID: id, Secret: bytes.Repeat([]byte{b}, KeySize)}
}

// mustNew builds a Sealer or fails the test.
func mustNew(t testing.TB, keys ...Key) *Sealer {
	t.Helper()
	s, err := New(keys)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// mustSeal seals or fails the test.
func mustSeal(t testing.TB, s *Sealer, plaintext, aad []byte) []byte {
	t.Helper()
	sealed, err := s.Seal(plaintext, aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

// assertOpenFails checks that Open fails with ErrOpen and an error that
// reveals neither the plaintext nor any key secret.
func assertOpenFails(t *testing.T, s *Sealer, sealed, aad, plaintext []byte, keys ...Key) {
	t.Helper()
	got, err := s.Open(sealed, aad)
	if err == nil {
		t.Fatalf("Open succeeded and returned %d bytes", len(got))
	}
	if !errors.Is(err, ErrOpen) {
		t.Errorf("error %v does not wrap ErrOpen", err)
	}
	assertNoSecret(t, err.Error(), plaintext, keys...)
}

// assertNoSecret fails the test if text contains the plaintext or a key's
// secret (raw, hex-ish via %x, or base64).
func assertNoSecret(t *testing.T, text string, plaintext []byte, keys ...Key) {
	t.Helper()
	if len(plaintext) > 0 && strings.Contains(text, string(plaintext)) {
		t.Errorf("%q contains the plaintext", text)
	}
	for _, k := range keys {
		for _, form := range []string{string(k.Secret), fmt.Sprintf("%x", k.Secret), fmt.Sprint(k.Secret), base64.StdEncoding.EncodeToString(k.Secret), base64.RawURLEncoding.EncodeToString(k.Secret)} {
			if strings.Contains(text, form) {
				t.Errorf("%q contains key %q's secret", text, k.ID)
			}
		}
	}
}

func TestSealThenOpenRoundTrips(t *testing.T) {
	s := mustNew(t, testKey("k1", 1))
	tests := []struct {
		name           string
		plaintext, aad []byte
	}{
		{"an empty plaintext", nil, []byte("conn:1")},
		{"a one-byte plaintext", []byte{0}, []byte("conn:1")},
		{"a token set", []byte(`{"access_token":"gho_secret","refresh_token":"r1"}`), []byte("conn:abc")},
		{"a 64 KiB plaintext", bytes.Repeat([]byte{0xAB, 0x00}, 32<<10), []byte("flow:f")},
		{"no aad at all", []byte("verifier"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name+" round-trips", func(t *testing.T) {
			sealed := mustSeal(t, s, tt.plaintext, tt.aad)
			if want := 2 + len("k1") + nonceSize + len(tt.plaintext) + tagSize; len(sealed) != want {
				t.Errorf("sealed length = %d, want %d", len(sealed), want)
			}
			got, err := s.Open(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open returned %d bytes that differ from the %d sealed", len(got), len(tt.plaintext))
			}
		})
	}
}

func TestSealedLayout(t *testing.T) {
	s := mustNew(t, testKey("2026-01", 7))
	plaintext := []byte("plaintext that must not show")
	a, b := mustSeal(t, s, plaintext, nil), mustSeal(t, s, plaintext, nil)

	t.Run("it starts with the version byte and the key id", func(t *testing.T) {
		if a[0] != FormatRoot || a[1] != byte(len("2026-01")) || string(a[2:9]) != "2026-01" {
			t.Errorf("header = %q, want version 1, length 7, id 2026-01", a[:9])
		}
	})
	t.Run("sealing the same plaintext twice uses fresh nonces", func(t *testing.T) {
		if bytes.Equal(a[9:9+nonceSize], b[9:9+nonceSize]) || bytes.Equal(a, b) {
			t.Error("two seals of one plaintext share a nonce")
		}
	})
	t.Run("the plaintext does not appear in the blob", func(t *testing.T) {
		if bytes.Contains(a, plaintext) {
			t.Error("the sealed blob contains the plaintext")
		}
	})
}

func TestRotation(t *testing.T) {
	oldKey, newKey := testKey("old", 1), testKey("new", 2)
	before := mustNew(t, oldKey)
	aad := []byte("conn:c1")
	plaintext := []byte("refresh-token-value")
	oldBlob := mustSeal(t, before, plaintext, aad)
	after := mustNew(t, newKey, oldKey)

	t.Run("a blob sealed with the old key opens after a new primary is added", func(t *testing.T) {
		got, err := after.Open(oldBlob, aad)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("Open(old blob) = %q, %v", got, err)
		}
	})
	t.Run("the old blob is stale and a fresh one is not", func(t *testing.T) {
		if !after.Stale(oldBlob) {
			t.Error("Stale(old blob) = false under a new primary")
		}
		if before.Stale(oldBlob) {
			t.Error("Stale(old blob) = true under its own primary")
		}
	})
	t.Run("re-sealing uses the new primary key", func(t *testing.T) {
		resealed := mustSeal(t, after, plaintext, aad)
		if after.Stale(resealed) {
			t.Error("the re-sealed blob is stale")
		}
		if _, id, err := Header(resealed); err != nil || id != "new" {
			t.Errorf("re-sealed with key %q (%v), want new", id, err)
		}
		// The old configuration lacks the new key, so it cannot open it.
		assertOpenFails(t, before, resealed, aad, plaintext, oldKey, newKey)
	})
	t.Run("the new primary is reported", func(t *testing.T) {
		if after.PrimaryID() != "new" {
			t.Errorf("PrimaryID = %q, want new", after.PrimaryID())
		}
	})
	t.Run("malformed data is not stale", func(t *testing.T) {
		for _, blob := range [][]byte{nil, {1}, {9, 3, 'o', 'l', 'd'}} {
			if after.Stale(blob) {
				t.Errorf("Stale(%x) = true", blob)
			}
		}
	})
}

func TestOpenRefusesTamperedData(t *testing.T) {
	key := testKey("k1", 3)
	s := mustNew(t, key)
	aad := []byte("conn:c1")
	plaintext := []byte("access-token-secret")
	sealed := mustSeal(t, s, plaintext, aad)
	for i := range sealed {
		for _, flip := range []byte{0x01, 0x80} {
			t.Run(fmt.Sprintf("flipping bit %#02x of byte %d fails", flip, i), func(t *testing.T) {
				tampered := bytes.Clone(sealed)
				tampered[i] ^= flip
				assertOpenFails(t, s, tampered, aad, plaintext, key)
			})
		}
	}
	t.Run("every truncation fails", func(t *testing.T) {
		for n := range len(sealed) {
			assertOpenFails(t, s, sealed[:n], aad, plaintext, key)
		}
	})
	t.Run("an appended byte fails", func(t *testing.T) {
		assertOpenFails(t, s, append(bytes.Clone(sealed), 0), aad, plaintext, key)
	})
}

func TestOpenRefusesTheWrongRecordOrKey(t *testing.T) {
	k1, k2 := testKey("k1", 1), testKey("k2", 2)
	s := mustNew(t, k1)
	plaintext := []byte("pkce-verifier")
	sealed := mustSeal(t, s, plaintext, []byte("flow:a"))

	t.Run("a blob moved to another record fails", func(t *testing.T) {
		assertOpenFails(t, s, sealed, []byte("flow:b"), plaintext, k1)
	})
	t.Run("a blob opened without its aad fails", func(t *testing.T) {
		assertOpenFails(t, s, sealed, nil, plaintext, k1)
	})
	t.Run("an unknown key id fails and names the id", func(t *testing.T) {
		other := mustNew(t, k2)
		_, err := other.Open(sealed, []byte("flow:a"))
		assertOpenFails(t, other, sealed, []byte("flow:a"), plaintext, k1, k2)
		if !strings.Contains(err.Error(), `"k1"`) {
			t.Errorf("error %q does not name the unknown key id", err)
		}
	})
	t.Run("a different secret under the same id fails", func(t *testing.T) {
		imposter := mustNew(t, testKey("k1", 9))
		assertOpenFails(t, imposter, sealed, []byte("flow:a"), plaintext, k1)
	})
	t.Run("an unsupported format fails", func(t *testing.T) {
		v9 := bytes.Clone(sealed)
		v9[0] = 9
		_, err := s.Open(v9, []byte("flow:a"))
		if !errors.Is(err, ErrOpen) || !strings.Contains(err.Error(), "format 9") {
			t.Errorf("Open(format 9) = %v, want ErrOpen naming the format", err)
		}
	})
	t.Run("a root-key blob relabelled as a data-key blob fails", func(t *testing.T) {
		relabelled := bytes.Clone(sealed)
		relabelled[0] = FormatData
		data, err := NewData(k1)
		if err != nil {
			t.Fatal(err)
		}
		assertOpenFails(t, data, relabelled, []byte("flow:a"), plaintext, k1)
		assertOpenFails(t, s, relabelled, []byte("flow:a"), plaintext, k1)
	})
	t.Run("a missing root key is a MissingKeyError naming it", func(t *testing.T) {
		_, err := mustNew(t, k2).Open(sealed, []byte("flow:a"))
		var mk *MissingKeyError
		if !errors.As(err, &mk) || mk.KeyID != "k1" || !errors.Is(err, ErrOpen) {
			t.Errorf("Open = %v, want a MissingKeyError for k1 wrapping ErrOpen", err)
		}
	})
}

func TestDataSealer(t *testing.T) {
	dk := testKey("dk-1", 3)
	data, err := NewData(dk)
	if err != nil {
		t.Fatal(err)
	}
	blob := mustSeal(t, data, []byte("token"), []byte("conn:a"))
	if format, id, err := Header(blob); err != nil || format != FormatData || id != "dk-1" {
		t.Errorf("Header = %d, %q, %v; want FormatData, dk-1", format, id, err)
	}
	if got, err := data.Open(blob, []byte("conn:a")); err != nil || string(got) != "token" {
		t.Errorf("Open = %q, %v", got, err)
	}
	// A root sealer holding the same secret under the same id must not
	// open a data-key blob: the format byte is authenticated.
	assertOpenFails(t, mustNew(t, dk), blob, []byte("conn:a"), []byte("token"), dk)
}

func TestNewRefusesBadKeys(t *testing.T) {
	secret := bytes.Repeat([]byte{0x5A}, KeySize)
	tests := []struct {
		name string
		keys []Key
		want string
	}{
		{"no keys", nil, "at least one key"},
		{"an empty id", []Key{{ID: "", Secret: secret}}, "empty key id"},
		{"an id longer than 255 bytes", []Key{{ID: strings.Repeat("k", 256), Secret: secret}}, "at most 255"},
		{"a duplicate id", []Key{{ID: "k", Secret: secret}, {ID: "k", Secret: secret}}, "duplicate"},
		{"an empty secret", []Key{{ID: "k"}}, "0 bytes, want 32"},
		{"a 16-byte secret", []Key{{ID: "k", Secret: secret[:16]}}, "16 bytes, want 32"},
		{"a 31-byte secret", []Key{{ID: "k", Secret: secret[:31]}}, "31 bytes, want 32"},
		{"a 33-byte secret", []Key{{ID: "k", Secret: append(bytes.Clone(secret), 1)}}, "33 bytes, want 32"},
		{"a bad second key", []Key{{ID: "a", Secret: secret}, {ID: "b", Secret: secret[:5]}}, `"b": secret is 5 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			_, err := New(tt.keys)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			assertNoSecret(t, err.Error(), nil, Key{ID: "k", Secret: secret[:16]})
		})
	}
	t.Run("a 255-byte id is accepted", func(t *testing.T) {
		s := mustNew(t, Key{ID: strings.Repeat("k", 255), Secret: secret})
		sealed := mustSeal(t, s, []byte("x"), nil)
		if got, err := s.Open(sealed, nil); err != nil || string(got) != "x" {
			t.Errorf("Open = %q, %v", got, err)
		}
	})
	t.Run("the caller's secret can be wiped after New", func(t *testing.T) {
		own := bytes.Clone(secret)
		s := mustNew(t, Key{ID: "k", Secret: own})
		sealed := mustSeal(t, s, []byte("x"), nil)
		clear(own)
		if _, err := s.Open(sealed, nil); err != nil {
			t.Errorf("Open after wiping the caller's copy: %v", err)
		}
	})
}

func TestParseKey(t *testing.T) {
	// 0xFB 0xFF... encodes to '+' and '/' in standard base64 and '-' and
	// '_' in URL base64, so each alphabet is really exercised.
	secret := bytes.Repeat([]byte{0xFB, 0xFF}, KeySize/2)
	valid := []struct {
		name, value string
	}{
		{"standard base64 with padding", base64.StdEncoding.EncodeToString(secret)},
		{"standard base64 without padding", base64.RawStdEncoding.EncodeToString(secret)},
		{"URL base64 with padding", base64.URLEncoding.EncodeToString(secret)},
		{"URL base64 without padding", base64.RawURLEncoding.EncodeToString(secret)},
		{"a value with a trailing newline", base64.StdEncoding.EncodeToString(secret) + "\n"},
	}
	for _, tt := range valid {
		t.Run(tt.name+" is accepted", func(t *testing.T) {
			k, err := ParseKey("root", tt.value)
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if k.ID != "root" || !bytes.Equal(k.Secret, secret) {
				t.Errorf("ParseKey = %v with a different secret", k)
			}
		})
	}

	invalid := []struct {
		name, id, value, want string
	}{
		{"a 16-byte key", "root", base64.StdEncoding.EncodeToString(secret[:16]), "decodes to 16 bytes, want 32"},
		{"a 33-byte key", "root", base64.StdEncoding.EncodeToString(append(bytes.Clone(secret), 7)), "decodes to 33 bytes, want 32"},
		{"a value that is not base64", "root", "this is not base64 at all!", "not valid base64"},
		{"an empty value", "root", "  ", "empty value"},
		{"an empty id", "", base64.StdEncoding.EncodeToString(secret), "empty key id"},
	}
	for _, tt := range invalid {
		t.Run(tt.name+" is refused without echoing the value", func(t *testing.T) {
			_, err := ParseKey(tt.id, tt.value)
			if err == nil {
				t.Fatal("ParseKey succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if v := strings.TrimSpace(tt.value); v != "" && strings.Contains(err.Error(), v) {
				t.Errorf("error %q echoes the key value", err)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	a, encoded, err := GenerateKey("dev")
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	b, _, err := GenerateKey("dev")
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	t.Run("it makes a 32-byte key with the given id", func(t *testing.T) {
		if a.ID != "dev" || len(a.Secret) != KeySize {
			t.Errorf("GenerateKey = id %q, %d bytes", a.ID, len(a.Secret))
		}
	})
	t.Run("its encoding parses back to the same key", func(t *testing.T) {
		parsed, err := ParseKey("dev", encoded)
		if err != nil || !bytes.Equal(parsed.Secret, a.Secret) {
			t.Errorf("ParseKey(GenerateKey's encoding) = %v, %v", parsed, err)
		}
	})
	t.Run("two keys differ", func(t *testing.T) {
		if bytes.Equal(a.Secret, b.Secret) {
			t.Error("two generated keys are equal")
		}
	})
	t.Run("an empty id is refused", func(t *testing.T) {
		if _, _, err := GenerateKey(""); err == nil {
			t.Error("GenerateKey(\"\") succeeded")
		}
	})
}

func TestSecretsAreRedacted(t *testing.T) {
	key := testKey("root-1", 0x41) // "AAAA…" is easy to spot
	s := mustNew(t, key)
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("keys", "key", key, "sealer", s)
	outputs := map[string]string{
		"%v of a key":      fmt.Sprintf("%v", key),
		"%+v of a key":     fmt.Sprintf("%+v", key),
		"%#v of a key":     fmt.Sprintf("%#v", key),
		"%s of a key":      fmt.Sprintf("%s", key),
		"%v of key list":   fmt.Sprintf("%v", []Key{key}),
		"%v of a sealer":   fmt.Sprintf("%v", s),
		"%+v of a sealer":  fmt.Sprintf("%+v", s),
		"a slog JSON line": logged.String(),
	}
	for name, out := range outputs {
		t.Run(name+" shows the id but not the secret", func(t *testing.T) {
			assertNoSecret(t, out, nil, key)
			if strings.Contains(out, "AAAAAAAA") {
				t.Errorf("%q contains the secret", out)
			}
			if !strings.Contains(out, "root-1") {
				t.Errorf("%q does not name the key", out)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	s := mustNew(t, testKey("k", 4), testKey("old", 5))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				msg := fmt.Appendf(nil, "%d-%d", i, j)
				sealed, err := s.Seal(msg, msg)
				if err != nil {
					t.Errorf("Seal: %v", err)
					return
				}
				if got, err := s.Open(sealed, msg); err != nil || !bytes.Equal(got, msg) {
					t.Errorf("Open = %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzOpen(f *testing.F) {
	s := mustNew(f, testKey("k1", 1))
	f.Add(mustSeal(f, s, []byte("token"), []byte("conn:1")), []byte("conn:1"))
	f.Add([]byte{1, 2, 'k', '1'}, []byte(nil))
	f.Add([]byte{}, []byte("x"))
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		got, err := s.Open(sealed, aad)
		if err != nil {
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("error %v does not wrap ErrOpen", err)
			}
			return
		}
		// Only a genuine blob opens; re-sealing what it held must open too.
		again, err := s.Open(mustSeal(t, s, got, aad), aad)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("re-sealed blob did not round-trip: %v", err)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	s := mustNew(b, testKey("k1", 1))
	plaintext, aad := bytes.Repeat([]byte{'x'}, 1024), []byte("conn:0123456789abcdef")
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(plaintext, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s := mustNew(b, testKey("k1", 1))
	plaintext, aad := bytes.Repeat([]byte{'x'}, 1024), []byte("conn:0123456789abcdef")
	sealed := mustSeal(b, s, plaintext, aad)
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(sealed, aad); err != nil {
			b.Fatal(err)
		}
	}
}
