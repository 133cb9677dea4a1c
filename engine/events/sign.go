package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts a webhook secret as the Standard Webhooks
// specification writes it: whsec_ and the key in standard base64.
const SecretPrefix = "whsec_"

// Secret is a webhook signing key. It prints redacted.
type Secret []byte

// ParseSecret decodes a whsec_<base64> secret. The key must be 24 to 64
// bytes, as the specification recommends.
func ParseSecret(s string) (Secret, error) {
	raw, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New("a webhook secret starts with " + SecretPrefix + " followed by the key in base64")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, errors.New("the part after " + SecretPrefix + " is not valid base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, errors.New("a webhook secret's key must be 24 to 64 bytes (32 to 88 base64 characters)")
	}
	return Secret(key), nil
}

// String redacts the key.
func (Secret) String() string { return SecretPrefix + "[redacted]" }

// LogValue redacts the key.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Sign returns the webhook-signature header value for a message: "v1," and
// the base64 HMAC-SHA256, under secret, of "<id>.<timestamp>.<body>"
// (timestamp in unix seconds).
func Sign(secret Secret, id string, at time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
