package redis

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// The wire structs are the JSON kept in Redis. They are separate from the
// store records so that renaming a Go field never changes stored data.
// Times are stored in UTC; Sealed is base64.

type flowWire struct {
	ID            string    `json:"id"`
	StateHash     string    `json:"state_hash"`
	UserID        string    `json:"user_id,omitempty"`
	ProviderID    string    `json:"provider_id,omitempty"`
	Scopes        []string  `json:"scopes,omitempty"`
	NextURI       string    `json:"next_uri,omitempty"`
	Status        string    `json:"status"`
	Error         string    `json:"error,omitempty"`
	ConnectionID  string    `json:"connection_id,omitempty"`
	Sealed        []byte    `json:"sealed,omitempty"`
	CreatedAt     time.Time `json:"created_at,omitzero"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
	ErrorKind     string    `json:"error_kind,omitempty"`
	MissingScopes []string  `json:"missing_scopes,omitempty"`
	Account       string    `json:"account,omitempty"`
}

type connectionWire struct {
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

type providerWire struct {
	ID        string    `json:"id"`
	Sealed    []byte    `json:"sealed,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// utc drops the location and monotonic reading so a round trip is exact.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func encodeFlow(f store.Flow) ([]byte, error) {
	b, err := json.Marshal(flowWire{
		ID: f.ID, StateHash: f.StateHash, UserID: f.UserID, ProviderID: f.ProviderID,
		Scopes: f.Scopes, NextURI: f.NextURI, Status: string(f.Status), Error: f.Error,
		ConnectionID: f.ConnectionID, Sealed: f.Sealed,
		CreatedAt: utc(f.CreatedAt), UpdatedAt: utc(f.UpdatedAt), ExpiresAt: utc(f.ExpiresAt),
		ErrorKind: f.ErrorKind, MissingScopes: f.MissingScopes, Account: f.Account,
	})
	if err != nil {
		return nil, fmt.Errorf("redis store: encode flow %q: %w", f.ID, err)
	}
	return b, nil
}

func decodeFlow(raw []byte) (store.Flow, error) {
	var w flowWire
	if err := json.Unmarshal(raw, &w); err != nil {
		return store.Flow{}, fmt.Errorf("redis store: decode flow: %w", err)
	}
	return store.Flow{
		ID: w.ID, StateHash: w.StateHash, UserID: w.UserID, ProviderID: w.ProviderID,
		Scopes: w.Scopes, NextURI: w.NextURI, Status: store.FlowStatus(w.Status), Error: w.Error,
		ConnectionID: w.ConnectionID, Sealed: w.Sealed,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, ExpiresAt: w.ExpiresAt,
		ErrorKind: w.ErrorKind, MissingScopes: w.MissingScopes, Account: w.Account,
	}, nil
}

func encodeConnection(c store.Connection) ([]byte, error) {
	b, err := json.Marshal(connectionWire{
		ID: c.ID, UserID: c.UserID, ProviderID: c.ProviderID, Status: string(c.Status),
		Scopes: c.Scopes, ExpiresAt: utc(c.ExpiresAt), Sealed: c.Sealed,
		CreatedAt: utc(c.CreatedAt), UpdatedAt: utc(c.UpdatedAt), Version: c.Version,
		DeclinedScopes: c.DeclinedScopes, Account: c.Account,
	})
	if err != nil {
		return nil, fmt.Errorf("redis store: encode connection %q: %w", c.ID, err)
	}
	return b, nil
}

func decodeConnection(raw []byte) (store.Connection, error) {
	var w connectionWire
	if err := json.Unmarshal(raw, &w); err != nil {
		return store.Connection{}, fmt.Errorf("redis store: decode connection: %w", err)
	}
	return store.Connection{
		ID: w.ID, UserID: w.UserID, ProviderID: w.ProviderID, Status: store.ConnectionStatus(w.Status),
		Scopes: w.Scopes, ExpiresAt: w.ExpiresAt, Sealed: w.Sealed,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Version: w.Version,
		DeclinedScopes: w.DeclinedScopes, Account: w.Account,
	}, nil
}

func encodeProvider(p store.ProviderRecord) ([]byte, error) {
	b, err := json.Marshal(providerWire{ID: p.ID, Sealed: p.Sealed, CreatedAt: utc(p.CreatedAt), UpdatedAt: utc(p.UpdatedAt)})
	if err != nil {
		return nil, fmt.Errorf("redis store: encode provider %q: %w", p.ID, err)
	}
	return b, nil
}

func decodeProvider(raw []byte) (store.ProviderRecord, error) {
	var w providerWire
	if err := json.Unmarshal(raw, &w); err != nil {
		return store.ProviderRecord{}, fmt.Errorf("redis store: decode provider: %w", err)
	}
	return store.ProviderRecord{ID: w.ID, Sealed: w.Sealed, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}, nil
}
