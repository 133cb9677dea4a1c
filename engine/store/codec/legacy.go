package codec

import (
	"encoding/json"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// The JSON records of earlier releases, read and never written. Both
// backends wrote the same fields; bolt's records also carry "v": 1, which
// decoding ignores. Sealed parts are base64 (encoding/json's []byte).

type jsonFlow struct {
	ID            string    `json:"id"`
	StateHash     string    `json:"state_hash"`
	UserID        string    `json:"user_id"`
	ProviderID    string    `json:"provider_id"`
	Scopes        []string  `json:"scopes"`
	NextURI       string    `json:"next_uri"`
	Status        string    `json:"status"`
	Error         string    `json:"error"`
	ConnectionID  string    `json:"connection_id"`
	Sealed        []byte    `json:"sealed"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	ErrorKind     string    `json:"error_kind"`
	MissingScopes []string  `json:"missing_scopes"`
	Account       string    `json:"account"`
}

// jsonConnection carries the tags the stores encoded with, so that the
// benchmarks can write the old record beside the new one.
type jsonConnection struct {
	V              int       `json:"v"`
	ID             string    `json:"id"`
	UserID         string    `json:"user_id,omitempty"`
	ProviderID     string    `json:"provider_id"`
	Status         string    `json:"status"`
	Scopes         []string  `json:"scopes,omitempty"`
	ExpiresAt      time.Time `json:"expires_at,omitzero"`
	Sealed         []byte    `json:"sealed,omitempty"`
	CreatedAt      time.Time `json:"created_at,omitzero"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"`
	Version        uint64    `json:"version"`
	DeclinedScopes []string  `json:"declined_scopes,omitempty"`
	Account        string    `json:"account,omitempty"`
}

type jsonProvider struct {
	ID        string    `json:"id"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type jsonSession struct {
	ID        string    `json:"id"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type jsonDiscovery struct {
	ID        string    `json:"id"`
	Sealed    []byte    `json:"sealed"`
	UpdatedAt time.Time `json:"updated_at"`
}

type jsonDataKey struct {
	ID        string    `json:"id"`
	RootKeyID string    `json:"root_key_id"`
	Wrapped   []byte    `json:"wrapped"`
	CreatedAt time.Time `json:"created_at"`
}

type jsonEvent struct {
	ID            string    `json:"id"`
	Key           string    `json:"key"`
	Type          string    `json:"type"`
	Payload       []byte    `json:"payload"`
	Status        string    `json:"status"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error"`
	Done          []string  `json:"done"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

type jsonAudit struct {
	ID              string    `json:"id"`
	Time            time.Time `json:"time"`
	Actor           string    `json:"actor"`
	Action          string    `json:"action"`
	Target          string    `json:"target"`
	Changed         []string  `json:"changed"`
	SecretReentered bool      `json:"secret_reentered"`
}

func unmarshal(kind byte, b []byte, into any) error {
	if err := json.Unmarshal(b, into); err != nil {
		return &Error{Kind: kindName(kind), Problem: "bad JSON", Err: err}
	}
	return nil
}

// utc is t in UTC, as the binary form decodes it.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// list is l with an empty list nil, as the binary form decodes it (JSON
// omitted empty lists, but a record may hold "[]").
func list(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

func nilEmpty(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	return p
}

func legacyFlow(b []byte) (store.Flow, error) {
	var w jsonFlow
	if err := unmarshal(kindFlow, b, &w); err != nil {
		return store.Flow{}, err
	}
	return store.Flow{
		ID: w.ID, StateHash: w.StateHash, UserID: w.UserID, ProviderID: w.ProviderID,
		Scopes: list(w.Scopes), NextURI: w.NextURI, Status: store.FlowStatus(w.Status), Error: w.Error,
		ConnectionID: w.ConnectionID, Sealed: nilEmpty(w.Sealed),
		CreatedAt: utc(w.CreatedAt), UpdatedAt: utc(w.UpdatedAt), ExpiresAt: utc(w.ExpiresAt),
		ErrorKind: w.ErrorKind, MissingScopes: list(w.MissingScopes), Account: w.Account,
	}, nil
}

func legacyConnection(b []byte) (store.Connection, error) {
	var w jsonConnection
	if err := unmarshal(kindConnection, b, &w); err != nil {
		return store.Connection{}, err
	}
	return store.Connection{
		ID: w.ID, UserID: w.UserID, ProviderID: w.ProviderID, Status: store.ConnectionStatus(w.Status),
		Scopes: list(w.Scopes), ExpiresAt: utc(w.ExpiresAt), Sealed: nilEmpty(w.Sealed),
		CreatedAt: utc(w.CreatedAt), UpdatedAt: utc(w.UpdatedAt), Version: w.Version,
		DeclinedScopes: list(w.DeclinedScopes), Account: w.Account,
	}, nil
}

func legacyProvider(b []byte) (store.ProviderRecord, error) {
	var w jsonProvider
	if err := unmarshal(kindProvider, b, &w); err != nil {
		return store.ProviderRecord{}, err
	}
	return store.ProviderRecord{ID: w.ID, Sealed: nilEmpty(w.Sealed), CreatedAt: utc(w.CreatedAt), UpdatedAt: utc(w.UpdatedAt)}, nil
}

func legacySession(b []byte) (store.Session, error) {
	var w jsonSession
	if err := unmarshal(kindSession, b, &w); err != nil {
		return store.Session{}, err
	}
	return store.Session{ID: w.ID, Sealed: nilEmpty(w.Sealed), CreatedAt: utc(w.CreatedAt), ExpiresAt: utc(w.ExpiresAt)}, nil
}

func legacyDiscovery(b []byte) (store.DiscoveryRecord, error) {
	var w jsonDiscovery
	if err := unmarshal(kindDiscovery, b, &w); err != nil {
		return store.DiscoveryRecord{}, err
	}
	return store.DiscoveryRecord{ID: w.ID, Sealed: nilEmpty(w.Sealed), UpdatedAt: utc(w.UpdatedAt)}, nil
}

func legacyDataKey(b []byte) (store.DataKey, error) {
	var w jsonDataKey
	if err := unmarshal(kindDataKey, b, &w); err != nil {
		return store.DataKey{}, err
	}
	return store.DataKey{ID: w.ID, RootKeyID: w.RootKeyID, Wrapped: w.Wrapped, CreatedAt: utc(w.CreatedAt)}, nil
}

func legacyEvent(b []byte) (store.Event, error) {
	var w jsonEvent
	if err := unmarshal(kindEvent, b, &w); err != nil {
		return store.Event{}, err
	}
	return store.Event{
		ID: w.ID, Key: w.Key, Type: w.Type, Payload: nilEmpty(w.Payload), Status: store.EventStatus(w.Status),
		Attempts: w.Attempts, NextAttemptAt: utc(w.NextAttemptAt), LastError: w.LastError, Done: list(w.Done),
		CreatedAt: utc(w.CreatedAt), UpdatedAt: utc(w.UpdatedAt),
	}, nil
}

func legacyAudit(b []byte) (store.AuditEntry, error) {
	var w jsonAudit
	if err := unmarshal(kindAudit, b, &w); err != nil {
		return store.AuditEntry{}, err
	}
	return store.AuditEntry{
		ID: w.ID, Time: utc(w.Time), Actor: w.Actor, Action: w.Action, Target: w.Target,
		Changed: list(w.Changed), SecretReentered: w.SecretReentered,
	}, nil
}
