package bolt

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// GetConnection returns a connection, or store.ErrNotFound when missing.
// A connection whose access token has expired is still returned: its
// ExpiresAt is the token's, not the record's. The record is decoded inside
// the read transaction (bbolt's value is only valid until it ends; the
// decoder copies what it keeps).
func (s *Store) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	var c store.Connection
	err := s.view(ctx, "get connection", func(tx *bbolt.Tx) error {
		key := []byte(id)
		v := tx.Bucket(bucketConnections).Get(key)
		if v == nil {
			return fmt.Errorf("bolt: get connection %q: %w", id, store.ErrNotFound)
		}
		var err error
		c, err = decode(codec.DecodeConnection, key, v)
		return err
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
			var err error
			if cur, err = decode(codec.DecodeConnection, []byte(id), v); err != nil {
				return err
			}
			exists = true
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
		if err := bucket.Put([]byte(id), codec.EncodeConnection(next)); err != nil {
			return fmt.Errorf("bolt: write connection %q: %w", id, err)
		}
		var was *store.CountKey
		if exists {
			was = statusOf(cur)
		}
		if err := moveConnection(tx, id, was, statusOf(next)); err != nil {
			return err
		}
		if err := putEvents(tx, events, now); err != nil {
			return err
		}
		out = next
		return nil
	})
	// Announced even after an error: a commit that failed late may have
	// reached the file, and a needless announcement costs one re-read.
	s.feed.Changed(id)
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
	err := s.update(ctx, "delete connection", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketConnections)
		v := bucket.Get([]byte(id))
		if v == nil {
			return fmt.Errorf("bolt: delete connection %q: %w", id, store.ErrNotFound)
		}
		// A record that cannot be decoded was never counted: it goes
		// without changing a count.
		if cur, err := decode(codec.DecodeConnection, []byte(id), v); err == nil {
			if err := moveConnection(tx, id, statusOf(cur), nil); err != nil {
				return err
			}
		}
		if err := bucket.Delete([]byte(id)); err != nil {
			return fmt.Errorf("bolt: delete connection %q: %w", id, err)
		}
		return putEvents(tx, events, s.now())
	})
	s.feed.Changed(id) // even after an error, as in UpdateConnectionEvents
	return err
}

// ListConnections returns the connections matching filter, ordered by ID,
// the page [offset, offset+limit) and the number of matches. A negative
// offset counts as 0; a limit of zero or less means no limit. A filter
// naming a provider and/or a status is answered from the index
// (listIndexed). With an empty filter only the page is decoded; with a
// filter on user or account alone, every record is
// checked against it without being copied (codec.MatchConnection, which
// still finds a corrupt record), and only the page's matches are decoded.
func (s *Store) ListConnections(ctx context.Context, filter store.ConnectionFilter, offset, limit int) ([]store.Connection, int, error) {
	if filter.ProviderID != "" || filter.Status != "" {
		return s.listIndexed(ctx, filter, offset, limit)
	}
	unfiltered := filter.Empty()
	page := newConnPage(offset, limit)
	err := s.view(ctx, "list connections", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketConnections).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if !unfiltered {
				ok, err := codec.MatchConnection(v, filter)
				if err != nil {
					return fmt.Errorf("bolt: record %q: %w", k, err)
				}
				if !ok {
					continue
				}
			}
			if err := page.add(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return page.list, page.total, nil
}

// connPage collects the page [offset, offset+limit) of a listing's
// matches, met in order, and counts them all.
type connPage struct {
	offset, limit, total int
	list                 []store.Connection
}

func newConnPage(offset, limit int) *connPage { return &connPage{offset: max(offset, 0), limit: limit} }

// inPage reports whether the next match falls in the page.
func (p *connPage) inPage() bool {
	return p.total >= p.offset && (p.limit <= 0 || p.total < p.offset+p.limit)
}

// add counts the match v (stored under k), decoding it only when it falls
// in the page.
func (p *connPage) add(k, v []byte) error {
	if p.inPage() {
		conn, err := decode(codec.DecodeConnection, k, v)
		if err != nil {
			return err
		}
		p.list = append(p.list, conn)
	}
	p.total++
	return nil
}
