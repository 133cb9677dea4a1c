package bolt

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// wireVersion is written into every record so that a later layout change
// can be recognised and migrated.
const wireVersion = 1

// flowWire is a store.Flow as written to the file.
type flowWire struct {
	V             int       `json:"v"`
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

func flowToWire(f store.Flow) flowWire {
	return flowWire{
		V: wireVersion, ID: f.ID, StateHash: f.StateHash, UserID: f.UserID, ProviderID: f.ProviderID,
		Scopes: f.Scopes, NextURI: f.NextURI, Status: string(f.Status), Error: f.Error,
		ConnectionID: f.ConnectionID, Sealed: f.Sealed,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, ExpiresAt: f.ExpiresAt,
		ErrorKind: f.ErrorKind, MissingScopes: f.MissingScopes, Account: f.Account,
	}
}

func (w flowWire) flow() store.Flow {
	return store.Flow{
		ID: w.ID, StateHash: w.StateHash, UserID: w.UserID, ProviderID: w.ProviderID,
		Scopes: w.Scopes, NextURI: w.NextURI, Status: store.FlowStatus(w.Status), Error: w.Error,
		ConnectionID: w.ConnectionID, Sealed: w.Sealed,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, ExpiresAt: w.ExpiresAt,
		ErrorKind: w.ErrorKind, MissingScopes: w.MissingScopes, Account: w.Account,
	}
}

// connectionWire is a store.Connection as written to the file.
type connectionWire struct {
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

func connectionToWire(c store.Connection) connectionWire {
	return connectionWire{
		V: wireVersion, ID: c.ID, UserID: c.UserID, ProviderID: c.ProviderID, Status: string(c.Status),
		Scopes: c.Scopes, ExpiresAt: c.ExpiresAt, Sealed: c.Sealed,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
		DeclinedScopes: c.DeclinedScopes, Account: c.Account,
	}
}

func (w connectionWire) connection() store.Connection {
	return store.Connection{
		ID: w.ID, UserID: w.UserID, ProviderID: w.ProviderID, Status: store.ConnectionStatus(w.Status),
		Scopes: w.Scopes, ExpiresAt: w.ExpiresAt, Sealed: w.Sealed,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Version: w.Version,
		DeclinedScopes: w.DeclinedScopes, Account: w.Account,
	}
}

// providerWire is a store.ProviderRecord as written to the file.
type providerWire struct {
	V         int       `json:"v"`
	ID        string    `json:"id"`
	Sealed    []byte    `json:"sealed,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

func providerToWire(p store.ProviderRecord) providerWire {
	return providerWire{V: wireVersion, ID: p.ID, Sealed: p.Sealed, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func (w providerWire) provider() store.ProviderRecord {
	return store.ProviderRecord{ID: w.ID, Sealed: w.Sealed, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// decode unmarshals one record. The caller's value bytes belong to bbolt
// and are only valid inside the transaction; json.Unmarshal copies what it
// keeps, so the result outlives it. The error names the record kind and id,
// never its content.
func decode(kind string, key, value []byte, into any) error {
	if err := json.Unmarshal(value, into); err != nil {
		return fmt.Errorf("bolt: decode %s %q: corrupt record: %w", kind, key, err)
	}
	return nil
}

// encode marshals one record.
func encode(kind, id string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("bolt: encode %s %q: %w", kind, id, err)
	}
	return b, nil
}
