package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
)

// GetConnection returns a connection, or store.ErrNotFound when missing.
// A connection whose access token has expired is still returned: its
// ExpiresAt is the token's, not the record's.
func (s *Store) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	var c store.Connection
	err := s.view(ctx, "get connection", func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketConnections).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("bolt: get connection %q: %w", id, store.ErrNotFound)
		}
		var w connectionWire
		if err := decode("connection", []byte(id), v, &w); err != nil {
			return err
		}
		c = w.connection()
		return nil
	})
	return c, err
}

// UpdateConnection creates or updates a connection: it reads the record,
// calls fn and writes fn's result in one read-write transaction, so fn
// runs exactly once and no update is lost. fn runs while the transaction
// holds the file's single writer lock: it must be fast and do no I/O. An
// error from fn aborts and is returned unchanged. The store sets Version
// (1 on create, +1 after), UpdatedAt, and CreatedAt (kept from the stored
// record; now on create). A result whose ID is not id, or fails
// store.ValidID, is refused.
func (s *Store) UpdateConnection(ctx context.Context, id string, fn func(c store.Connection, exists bool) (store.Connection, error)) (store.Connection, error) {
	return s.UpdateConnectionEvents(ctx, id, nil, fn)
}

// UpdateConnectionEvents is UpdateConnection that also stores events in
// the same transaction.
func (s *Store) UpdateConnectionEvents(ctx context.Context, id string, events []store.Event, fn func(c store.Connection, exists bool) (store.Connection, error)) (store.Connection, error) {
	var out store.Connection
	err := s.update(ctx, "update connection", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketConnections)
		var (
			cur    store.Connection
			exists bool
		)
		if v := bucket.Get([]byte(id)); v != nil {
			var w connectionWire
			if err := decode("connection", []byte(id), v, &w); err != nil {
				return err
			}
			cur, exists = w.connection(), true
		}
		next, err := fn(cur, exists)
		if err != nil {
			return err
		}
		if next.ID != id {
			return fmt.Errorf("bolt: update connection %q: fn returned a record with id %q", id, next.ID)
		}
		if !store.ValidID(next) {
			return fmt.Errorf("bolt: update connection %q: id does not match its provider and user (or a service token's scopes)", id)
		}
		now := s.now()
		next.UpdatedAt = now
		if exists {
			next.Version, next.CreatedAt = cur.Version+1, cur.CreatedAt
		} else {
			next.Version, next.CreatedAt = 1, now
		}
		b, err := encode("connection", id, connectionToWire(next))
		if err != nil {
			return err
		}
		if err := bucket.Put([]byte(id), b); err != nil {
			return fmt.Errorf("bolt: write connection %q: %w", id, err)
		}
		if err := putEvents(tx, events, now); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return store.Connection{}, err
	}
	return out, nil
}

// DeleteConnection removes a connection, or returns store.ErrNotFound when
// missing.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	return s.DeleteConnectionEvents(ctx, id, nil)
}

// DeleteConnectionEvents is DeleteConnection that also stores events in
// the same transaction.
func (s *Store) DeleteConnectionEvents(ctx context.Context, id string, events []store.Event) error {
	return s.update(ctx, "delete connection", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketConnections)
		if bucket.Get([]byte(id)) == nil {
			return fmt.Errorf("bolt: delete connection %q: %w", id, store.ErrNotFound)
		}
		if err := bucket.Delete([]byte(id)); err != nil {
			return fmt.Errorf("bolt: delete connection %q: %w", id, err)
		}
		return putEvents(tx, events, s.now())
	})
}

// ListConnections returns the connections matching filter, ordered by ID,
// the page [offset, offset+limit) and the number of matches. A negative
// offset counts as 0; a limit of zero or less means no limit. With an
// empty filter only the page is decoded.
func (s *Store) ListConnections(ctx context.Context, filter store.ConnectionFilter, offset, limit int) ([]store.Connection, int, error) {
	offset = max(offset, 0)
	inPage := func(i int) bool { return i >= offset && (limit <= 0 || i < offset+limit) }
	unfiltered := filter.Empty()
	needles, err := filterNeedles(filter)
	if err != nil {
		return nil, 0, err
	}
	var (
		list  []store.Connection
		total int
	)
	err = s.view(ctx, "list connections", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketConnections).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if unfiltered && !inPage(total) {
				total++
				continue
			}
			if !containsAll(v, needles) {
				// Still a corrupt record is an error, as when it is decoded.
				if !json.Valid(v) {
					return decode("connection", k, v, &connectionFilterWire{})
				}
				continue
			}
			if !unfiltered {
				// Only the filtered fields first: most records do not
				// match, and skipping the rest of a record (its sealed
				// tokens, its times) is much cheaper than decoding it.
				var f connectionFilterWire
				if err := decode("connection", k, v, &f); err != nil {
					return err
				}
				if !filter.Match(f.connection()) {
					continue
				}
				if !inPage(total) {
					total++
					continue
				}
			}
			var w connectionWire
			if err := decode("connection", k, v, &w); err != nil {
				return err
			}
			c := w.connection()
			if !filter.Match(c) {
				continue
			}
			if inPage(total) {
				list = append(list, c)
			}
			total++
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

// connectionFilterWire is the part of a connectionWire that
// store.ConnectionFilter looks at.
type connectionFilterWire struct {
	UserID     string `json:"user_id,omitempty"`
	ProviderID string `json:"provider_id"`
	Status     string `json:"status"`
	Account    string `json:"account,omitempty"`
}

func (f connectionFilterWire) connection() store.Connection {
	return store.Connection{UserID: f.UserID, ProviderID: f.ProviderID, Status: store.ConnectionStatus(f.Status), Account: f.Account}
}

// filterNeedles returns, for the user and provider a filter asks for, the
// exact bytes encode writes for that field ("provider_id":"p1"): a record
// that does not contain them cannot match, and is skipped without being
// decoded. The needles cannot occur inside another field's value, since
// encoding/json escapes every quote in a string and the sealed blob is
// base64.
func filterNeedles(f store.ConnectionFilter) ([][]byte, error) {
	var out [][]byte
	for _, field := range []struct{ key, value string }{{"user_id", f.UserID}, {"provider_id", f.ProviderID}} {
		if field.value == "" {
			continue
		}
		b, err := json.Marshal(map[string]string{field.key: field.value})
		if err != nil {
			return nil, fmt.Errorf("bolt: list connections: %w", err)
		}
		out = append(out, b[1:len(b)-1]) // without the braces
	}
	return out, nil
}

func containsAll(v []byte, needles [][]byte) bool {
	for _, n := range needles {
		if !bytes.Contains(v, n) {
			return false
		}
	}
	return true
}
