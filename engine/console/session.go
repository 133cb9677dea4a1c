package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/store"
)

// Cookie names. Both are HttpOnly, SameSite=Strict, Path=/console, and
// Secure when the public URL is https.
const (
	sessionCookie = "authengine_console"
	// signInCookie carries the CSRF token of the sign-in form (a
	// double-submit token: there is no session yet to hold it).
	signInCookie = "authengine_console_signin"
)

// session is a signed-in console session as the handlers see it.
type session struct {
	id      string // hash of the cookie value (store.HashState)
	secrets sessionSecrets
	record  store.Session
}

// sessionSecrets is the sealed part of a session record.
type sessionSecrets struct {
	CSRF string `json:"csrf"`
	// Actor names the admin key that signed in (kind and the first 12
	// hex digits of its SHA-256), for audit records.
	Actor string `json:"actor"`
	// NotAfter is the absolute end of the session.
	NotAfter time.Time `json:"not_after"`
}

// LogValue keeps the CSRF token out of logs.
func (sessionSecrets) LogValue() slog.Value { return slog.StringValue("[REDACTED console session]") }

func sessionAAD(id string) []byte { return engine.RecordAAD(store.KindSession, id) }

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// startSession creates a session for actor and returns the cookie value.
func (c *Console) startSession(ctx context.Context, actor string) (string, error) {
	value := randomToken()
	now := c.now().UTC()
	sec := sessionSecrets{CSRF: randomToken(), Actor: actor, NotAfter: now.Add(c.maxAge)}
	id := store.HashState(value)
	sealed, err := c.seal(id, sec)
	if err != nil {
		return "", err
	}
	rec := store.Session{ID: id, Sealed: sealed, CreatedAt: now, ExpiresAt: minTime(now.Add(c.idle), sec.NotAfter)}
	if err := c.sessions.CreateSession(ctx, rec); err != nil {
		return "", fmt.Errorf("store console session: %w", err)
	}
	return value, nil
}

func (c *Console) seal(id string, sec sessionSecrets) ([]byte, error) {
	plain, err := json.Marshal(sec)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	sealed, err := c.sealer.Seal(plain, sessionAAD(id))
	if err != nil {
		return nil, fmt.Errorf("seal console session: %w", err)
	}
	return sealed, nil
}

// errNoSession: the request carries no live session.
var errNoSession = errors.New("not signed in")

// loadSession finds the request's session, extending its idle expiry when
// a good part of it has passed (so that reads do not write on every
// request). errNoSession when there is none or it ended.
func (c *Console) loadSession(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, errNoSession
	}
	id := store.HashState(ck.Value)
	rec, err := c.sessions.GetSession(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("read console session: %w", err)
	}
	plain, err := c.sealer.Open(rec.Sealed, sessionAAD(id))
	if err != nil {
		// A session sealed under a root key no longer configured: sign in again.
		c.log.Warn("console session cannot be opened; signing it out", "err", err)
		return nil, errNoSession
	}
	defer clear(plain)
	var sec sessionSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return nil, errNoSession
	}
	now := c.now()
	if !now.Before(sec.NotAfter) {
		return nil, errNoSession
	}
	if next := minTime(now.Add(c.idle), sec.NotAfter); next.Sub(rec.ExpiresAt) > c.idle/10 {
		rec.ExpiresAt = next.UTC()
		if err := c.sessions.ReplaceSession(r.Context(), rec); errors.Is(err, store.ErrNotFound) {
			return nil, errNoSession
		} else if err != nil {
			return nil, fmt.Errorf("extend console session: %w", err)
		}
	}
	return &session{id: id, secrets: sec, record: rec}, nil
}

// endSession deletes the request's session, if any.
func (c *Console) endSession(r *http.Request) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return
	}
	if err := c.sessions.DeleteSession(r.Context(), store.HashState(ck.Value)); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.log.Warn("console sign-out: delete session", "err", err)
	}
}

func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/console", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode}
}

// validCSRF compares a submitted token with the expected one in constant
// time; an empty expected token never matches.
func validCSRF(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
