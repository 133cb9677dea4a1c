// Package seal encrypts the secrets the engine stores (tokens, PKCE
// verifiers, runtime provider configurations) with AES-256-GCM before they
// reach a store backend, and opens them again.
//
// A sealed blob names the key that sealed it, so keys can rotate: the first
// key of a Sealer seals, every key opens, and Stale tells the engine which
// blobs to re-seal when it next writes them. The additional data (AAD) binds
// a blob to its record ("conn:"+id, "flow:"+id, "provider:"+id), so a blob
// copied into another record does not open.
//
// Layout of a sealed blob:
//
//	format (1 byte) | key id length (1 byte) | key id | nonce (12 bytes) | ciphertext and GCM tag (16 bytes)
//
// The format byte says what kind of key the id names: FormatRoot (1, the
// original format) a root key, FormatData (2) a data key of envelope
// encryption (engine/keyring), whose sealers New makes with NewData. The
// format byte and key id are authenticated along with the AAD, so a blob
// cannot be passed off as the other format. The package knows nothing of
// stores, records or configuration files; errors and String/LogValue never
// reveal key material or plaintext.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// KeySize is the length of a key's secret: 32 bytes, for AES-256.
const KeySize = 32

// MaxKeyIDLen is the longest key id: its length is stored in one byte.
const MaxKeyIDLen = 255

// Blob formats: the first byte of every sealed blob.
const (
	// FormatRoot blobs are sealed directly by a root key.
	FormatRoot byte = 1
	// FormatData blobs are sealed by a data key that a root key wraps.
	FormatData byte = 2
)

const (
	nonceSize = 12
	tagSize   = 16
)

// ErrOpen is wrapped by every failure to open a sealed blob: malformed or
// truncated data, an unknown key id, a wrong AAD or tampering. The wrapping
// error says which, without key material or plaintext.
var ErrOpen = errors.New("seal: cannot open sealed data")

// MissingKeyError is the failure to open a blob sealed (or, through a data
// key, wrapped) by a root key that is not configured. It wraps ErrOpen.
type MissingKeyError struct {
	// KeyID is the id of the missing root key.
	KeyID string
	// Replaced: a key with this id is configured, but it is a different
	// key (regenerated under the same id, as a lost development keys file
	// is). engine/keyring can tell, as a wrapped data key's AAD is known.
	Replaced bool
}

func (e *MissingKeyError) Error() string {
	if e.Replaced {
		return fmt.Sprintf("%v: sealed with root key %q, and the key configured under that id is a different one (regenerated?): configure the original key", ErrOpen, e.KeyID)
	}
	return fmt.Sprintf("%v: sealed with root key %q, which is not configured (add it back to security.root_keys)", ErrOpen, e.KeyID)
}

// Unwrap returns ErrOpen.
func (e *MissingKeyError) Unwrap() error { return ErrOpen }

// Key is one AES-256 key and the id stored with the data it seals. String,
// GoString and LogValue redact Secret.
type Key struct {
	ID     string
	Secret []byte
}

// String names the key without revealing its secret.
func (k Key) String() string { return fmt.Sprintf("seal.Key{ID: %q, Secret: [REDACTED]}", k.ID) }

// GoString is String, so that %#v redacts too.
func (k Key) GoString() string { return k.String() }

// LogValue logs the key's id only.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("secret", "[REDACTED]"))
}

// Sealer seals with its primary key and opens with any of its keys. It is
// safe for concurrent use.
type Sealer struct {
	format    byte
	primaryID string
	primary   cipher.AEAD
	keys      map[string]cipher.AEAD
}

// New returns a Sealer whose keys[0] seals and whose keys all open. Every
// key needs a non-empty, unique id of at most MaxKeyIDLen bytes and a
// KeySize-byte secret. New keeps no reference to the secrets. Its blobs are
// FormatRoot: the keys are root keys.
func New(keys []Key) (*Sealer, error) { return newSealer(FormatRoot, keys) }

// NewData returns a Sealer for one data key: its blobs are FormatData and
// it opens only FormatData blobs.
func NewData(key Key) (*Sealer, error) { return newSealer(FormatData, []Key{key}) }

func newSealer(format byte, keys []Key) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: at least one key is required")
	}
	s := &Sealer{format: format, keys: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if err := checkID(k.ID); err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i, err)
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("seal: key %q: secret is %d bytes, want %d", k.ID, len(k.Secret), KeySize)
		}
		if _, dup := s.keys[k.ID]; dup {
			return nil, fmt.Errorf("seal: key %q: duplicate key id", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %q: %w", k.ID, err)
		}
		s.keys[k.ID] = aead
	}
	s.primaryID = keys[0].ID
	s.primary = s.keys[s.primaryID]
	return s, nil
}

// checkID validates a key id.
func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("empty key id")
	case len(id) > MaxKeyIDLen:
		return fmt.Errorf("key id is %d bytes, at most %d allowed", len(id), MaxKeyIDLen)
	}
	return nil
}

// Has reports whether the sealer holds the key id.
func (s *Sealer) Has(id string) bool {
	_, ok := s.keys[id]
	return ok
}

// PrimaryID is the id of the key that seals.
func (s *Sealer) PrimaryID() string { return s.primaryID }

// String describes the sealer by key ids only.
func (s *Sealer) String() string {
	return fmt.Sprintf("seal.Sealer{primary: %q, keys: %d}", s.primaryID, len(s.keys))
}

// LogValue logs the primary key id and the number of keys.
func (s *Sealer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("primary_key_id", s.primaryID), slog.Int("keys", len(s.keys)))
}

// Seal encrypts plaintext with the primary key and a fresh random nonce,
// binding it to aad.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	hlen := 2 + len(s.primaryID)
	out := make([]byte, hlen+nonceSize, hlen+nonceSize+len(plaintext)+tagSize)
	out[0], out[1] = s.format, byte(len(s.primaryID))
	copy(out[2:], s.primaryID)
	nonce := out[hlen : hlen+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: read random nonce: %w", err)
	}
	return s.primary.Seal(out, nonce, plaintext, additional(out[:hlen], aad)), nil
}

// Open decrypts a blob sealed by any of the sealer's keys with the same
// aad. Every failure wraps ErrOpen.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	format, id, err := Header(sealed)
	if err != nil {
		return nil, err
	}
	if format != s.format {
		return nil, fmt.Errorf("%w: format %d, this sealer opens format %d", ErrOpen, format, s.format)
	}
	hlen := 2 + len(id)
	aead, ok := s.keys[id]
	if !ok {
		if s.format == FormatRoot {
			return nil, &MissingKeyError{KeyID: id}
		}
		return nil, fmt.Errorf("%w: sealed with data key %q, not this one", ErrOpen, id)
	}
	if len(sealed) < hlen+nonceSize+tagSize {
		return nil, fmt.Errorf("%w: truncated: %d bytes", ErrOpen, len(sealed))
	}
	nonce, body := sealed[hlen:hlen+nonceSize], sealed[hlen+nonceSize:]
	plaintext, err := aead.Open(nil, nonce, body, additional(sealed[:hlen], aad))
	if err != nil {
		// crypto/cipher's error says only "message authentication failed".
		return nil, fmt.Errorf("%w: authentication failed (wrong record, or data altered)", ErrOpen)
	}
	return plaintext, nil
}

// Stale reports whether sealed names a key other than the primary one, so
// the engine re-seals it on its next write. Malformed data is not stale:
// Open reports it.
func (s *Sealer) Stale(sealed []byte) bool {
	format, id, err := Header(sealed)
	return err == nil && (format != s.format || id != s.primaryID)
}

// Header returns a sealed blob's format (FormatRoot or FormatData) and the
// id of the key that sealed it, without opening it.
func Header(sealed []byte) (format byte, keyID string, err error) {
	if len(sealed) < 2 {
		return 0, "", fmt.Errorf("%w: truncated: %d bytes", ErrOpen, len(sealed))
	}
	if sealed[0] != FormatRoot && sealed[0] != FormatData {
		return 0, "", fmt.Errorf("%w: unsupported format %d", ErrOpen, sealed[0])
	}
	hlen := 2 + int(sealed[1])
	if sealed[1] == 0 || len(sealed) < hlen {
		return 0, "", fmt.Errorf("%w: truncated or malformed key id", ErrOpen)
	}
	return sealed[0], string(sealed[2:hlen]), nil
}

// additional is the data GCM authenticates: the blob's header, then the
// caller's aad.
func additional(header, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	return append(append(ad, header...), aad...)
}

// ParseKey decodes a key from base64: standard or URL alphabet, with or
// without padding, surrounding spaces ignored. The decoded secret must be
// exactly KeySize bytes. Errors give the id and the decoded length, never
// the value.
func ParseKey(id, value string) (Key, error) {
	if err := checkID(id); err != nil {
		return Key{}, fmt.Errorf("seal: parse key: %w", err)
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return Key{}, fmt.Errorf("seal: parse key %q: empty value", id)
	}
	var secret []byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(value); err == nil {
			secret = b
			break
		}
	}
	if secret == nil {
		return Key{}, fmt.Errorf("seal: parse key %q: not valid base64 (standard or URL alphabet)", id)
	}
	if len(secret) != KeySize {
		return Key{}, fmt.Errorf("seal: parse key %q: decodes to %d bytes, want %d (generate one with: openssl rand -base64 32)", id, len(secret), KeySize)
	}
	return Key{ID: id, Secret: secret}, nil
}

// GenerateKey returns a new random key and its standard base64 encoding,
// for development mode, which writes it to the data directory.
func GenerateKey(id string) (Key, string, error) {
	if err := checkID(id); err != nil {
		return Key{}, "", fmt.Errorf("seal: generate key: %w", err)
	}
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, "", fmt.Errorf("seal: generate key %q: %w", id, err)
	}
	return Key{ID: id, Secret: secret}, base64.StdEncoding.EncodeToString(secret), nil
}
