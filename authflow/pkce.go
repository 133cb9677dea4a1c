package authflow

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// NewCodeVerifier returns a fresh RFC 7636 code verifier: 32 random bytes,
// base64url without padding (43 characters).
func NewCodeVerifier() string { return randomString(32) }

// S256Challenge returns the RFC 7636 S256 code challenge for verifier:
// base64url(SHA-256(verifier)) without padding.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewState returns a fresh OAuth state value: 192 random bits, base64url
// without padding, so it is safe in a URL as is.
func NewState() string { return randomString(24) }

// randomString returns n bytes from crypto/rand, base64url encoded.
// crypto/rand.Read never fails on supported platforms (it panics instead
// when the kernel source is broken), so there is no error to return.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
