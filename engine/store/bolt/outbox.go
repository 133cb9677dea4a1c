package bolt

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// bucketOutbox maps an event id to its record. Event ids sort by creation
// time, so the bucket's key order is the delivery order. The bucket is
// created by the first write that needs it; a file without it holds no
// event.
var bucketOutbox = []byte("outbox")

// putEvents writes new events inside tx; an id already stored is
// store.ErrConflict. CreatedAt and UpdatedAt default to now.
func putEvents(tx *bbolt.Tx, events []store.Event, now time.Time) error {
	if len(events) == 0 {
		return nil
	}
	bucket, err := tx.CreateBucketIfNotExists(bucketOutbox)
	if err != nil {
		return fmt.Errorf("bolt: create bucket %s: %w", bucketOutbox, err)
	}
	for _, ev := range events {
		if err := store.CheckEvent(ev); err != nil {
			return err
		}
		if bucket.Get([]byte(ev.ID)) != nil {
			return fmt.Errorf("bolt: store event %q: %w", ev.ID, store.ErrConflict)
		}
		if ev.CreatedAt.IsZero() {
			ev.CreatedAt = now
		}
		ev.UpdatedAt = now
		if err := bucket.Put([]byte(ev.ID), codec.EncodeEvent(ev)); err != nil {
			return fmt.Errorf("bolt: write event %q: %w", ev.ID, err)
		}
	}
	return nil
}

// AppendEvents stores events in one transaction: all or none.
func (s *Store) AppendEvents(ctx context.Context, events ...store.Event) error {
	return s.update(ctx, "append events", func(tx *bbolt.Tx) error {
		return putEvents(tx, events, s.now())
	})
}

// eachEvent calls fn on every stored event, in id order, until fn returns
// false.
func eachEvent(tx *bbolt.Tx, fn func(store.Event) bool) error {
	bucket := tx.Bucket(bucketOutbox)
	if bucket == nil {
		return nil
	}
	c := bucket.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		ev, err := decode(codec.DecodeEvent, k, v)
		if err != nil {
			return err
		}
		if !fn(ev) {
			return nil
		}
	}
	return nil
}

// DueEvents returns up to limit pending events due at now, oldest first.
// It reads every stored event: the outbox holds only undelivered events.
func (s *Store) DueEvents(ctx context.Context, now time.Time, limit int) ([]store.Event, error) {
	var out []store.Event
	err := s.view(ctx, "due events", func(tx *bbolt.Tx) error {
		return eachEvent(tx, func(ev store.Event) bool {
			if ev.Status == store.EventPending && !ev.NextAttemptAt.After(now) {
				out = append(out, ev)
			}
			return limit <= 0 || len(out) < limit
		})
	})
	return out, err
}

// GetEvent returns an event; store.ErrNotFound when missing.
func (s *Store) GetEvent(ctx context.Context, id string) (store.Event, error) {
	var ev store.Event
	err := s.view(ctx, "get event", func(tx *bbolt.Tx) error {
		var err error
		ev, err = getEvent(tx, id)
		return err
	})
	return ev, err
}

func getEvent(tx *bbolt.Tx, id string) (store.Event, error) {
	var v []byte
	if bucket := tx.Bucket(bucketOutbox); bucket != nil {
		v = bucket.Get([]byte(id))
	}
	if v == nil {
		return store.Event{}, fmt.Errorf("bolt: event %q: %w", id, store.ErrNotFound)
	}
	return decode(codec.DecodeEvent, []byte(id), v)
}

// UpdateEvent reads an event, calls fn and writes its result in one
// transaction. The store sets UpdatedAt.
func (s *Store) UpdateEvent(ctx context.Context, id string, fn func(store.Event) (store.Event, error)) (store.Event, error) {
	var out store.Event
	err := s.update(ctx, "update event", func(tx *bbolt.Tx) error {
		cur, err := getEvent(tx, id)
		if err != nil {
			return err
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if next.ID != cur.ID || next.Key != cur.Key || next.Type != cur.Type || string(next.Payload) != string(cur.Payload) {
			return fmt.Errorf("bolt: update event %q: ID, Key, Type and Payload cannot change", id)
		}
		if err := store.CheckEvent(next); err != nil {
			return err
		}
		next.UpdatedAt = s.now()
		if err := tx.Bucket(bucketOutbox).Put([]byte(id), codec.EncodeEvent(next)); err != nil {
			return fmt.Errorf("bolt: write event %q: %w", id, err)
		}
		out = next
		return nil
	})
	if err != nil {
		return store.Event{}, err
	}
	return out, nil
}

// DeleteEvent removes an event; store.ErrNotFound when missing.
func (s *Store) DeleteEvent(ctx context.Context, id string) error {
	return s.update(ctx, "delete event", func(tx *bbolt.Tx) error {
		bucket := tx.Bucket(bucketOutbox)
		if bucket == nil || bucket.Get([]byte(id)) == nil {
			return fmt.Errorf("bolt: delete event %q: %w", id, store.ErrNotFound)
		}
		return bucket.Delete([]byte(id))
	})
}

// ListEvents returns the events with status (all when empty) in id order,
// the page [offset, offset+limit) and the number of matches.
func (s *Store) ListEvents(ctx context.Context, status store.EventStatus, offset, limit int) ([]store.Event, int, error) {
	offset = max(offset, 0)
	var (
		list  []store.Event
		total int
	)
	err := s.view(ctx, "list events", func(tx *bbolt.Tx) error {
		return eachEvent(tx, func(ev store.Event) bool {
			if status != "" && ev.Status != status {
				return true
			}
			if total >= offset && (limit <= 0 || total < offset+limit) {
				list = append(list, ev)
			}
			total++
			return true
		})
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}
