package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/seal"
)

// tokenSet is the sealed part of a connection.
type tokenSet struct {
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token,omitempty"`
	TokenType    string         `json:"token_type,omitempty"`
	IDToken      string         `json:"id_token,omitempty"`
	Expiry       time.Time      `json:"expiry,omitzero"`
	Extra        map[string]any `json:"extra,omitempty"`
	UserInfo     map[string]any `json:"user_info,omitempty"`
	// Variables are the connection's variables (oauth2.connection_variables),
	// bound to the provider for every request made for it.
	Variables map[string]string `json:"variables,omitempty"`
}

// LogValue keeps tokens out of logs.
func (t tokenSet) LogValue() slog.Value { return slog.StringValue("[REDACTED token set]") }

func (t tokenSet) oauth() *authflow.Token {
	return &authflow.Token{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		TokenType:    t.TokenType,
		IDToken:      t.IDToken,
		Expiry:       t.Expiry,
		Extra:        t.Extra,
	}
}

func tokenSetFrom(t *authflow.Token, userInfo map[string]any) tokenSet {
	return tokenSet{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		TokenType:    t.TokenType,
		IDToken:      t.IDToken,
		Expiry:       t.Expiry,
		Extra:        t.Extra,
		UserInfo:     userInfo,
	}
}

// flowSecrets is the sealed part of a flow.
type flowSecrets struct {
	// Verifier is the PKCE code verifier.
	Verifier string `json:"verifier,omitempty"`
	// Pending holds the exchanged token while user verification waits for
	// the app's confirmation; it is stored as a connection only then.
	Pending *tokenSet `json:"pending,omitempty"`
	// PendingScopes are the scopes granted with Pending.
	PendingScopes []string `json:"pending_scopes,omitempty"`
	// PendingMissing are the scopes asked for and not granted with Pending.
	PendingMissing []string `json:"pending_missing,omitempty"`
	// URL is the authorize URL (it carries the state, so it is sealed).
	URL string `json:"url,omitempty"`
	// Variables are the connection variables the flow was started with.
	Variables map[string]string `json:"variables,omitempty"`
	// Nonce is the OpenID Connect nonce the authorize request carried,
	// for a provider whose user info is the id_token's claims.
	Nonce string `json:"nonce,omitempty"`
}

// LogValue keeps verifiers out of logs.
func (f flowSecrets) LogValue() slog.Value { return slog.StringValue("[REDACTED flow secrets]") }

func connAAD(id string) []byte     { return []byte("conn:" + id) }
func flowAAD(id string) []byte     { return []byte("flow:" + id) }
func providerAAD(id string) []byte { return []byte("provider:" + id) }
func sessionAAD(id string) []byte  { return []byte("session:" + id) }

func (e *Engine) sealJSON(v any, aad []byte) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode sealed record: %w", err)
	}
	sealed, err := e.sealer.Seal(plain, aad)
	if err != nil {
		// A keyring that could not load its data keys yet reports the
		// store being unavailable: retryable.
		return nil, storeErr("seal record", err)
	}
	return sealed, nil
}

func (e *Engine) openJSON(sealed []byte, aad []byte, v any) error {
	plain, err := e.sealer.Open(sealed, aad)
	var mk *seal.MissingKeyError
	switch {
	case errors.As(err, &mk):
		return &KeyMissingError{KeyID: mk.KeyID, Replaced: mk.Replaced}
	case err != nil:
		// A keyring reading a data key it has not seen yet may find the
		// store unavailable: that is retryable, not a broken record.
		return storeErr("open sealed record", err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("decode sealed record: %w", err)
	}
	return nil
}
