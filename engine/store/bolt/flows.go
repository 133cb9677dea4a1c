package bolt

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// liveFlow reads the flow id inside tx. ok is false when the flow is
// missing or expired (an expired flow is garbage the sweep has not reached).
func (s *Store) liveFlow(tx *bbolt.Tx, id string) (f store.Flow, ok bool, err error) {
	v := tx.Bucket(bucketFlows).Get([]byte(id))
	if v == nil {
		return store.Flow{}, false, nil
	}
	if f, err = decode(codec.DecodeFlow, []byte(id), v); err != nil {
		return store.Flow{}, false, err
	}
	return f, !s.expired(f.ExpiresAt), nil
}

// putFlow writes f under its id.
func putFlow(tx *bbolt.Tx, f store.Flow) error {
	if err := tx.Bucket(bucketFlows).Put([]byte(f.ID), codec.EncodeFlow(f)); err != nil {
		return fmt.Errorf("write flow %q: %w", f.ID, err)
	}
	return nil
}

// CreateFlow stores a new flow and indexes its StateHash, or returns
// store.ErrConflict when a live flow already has the ID or the StateHash.
// An expired flow in the way is garbage and is replaced.
func (s *Store) CreateFlow(ctx context.Context, f store.Flow) error {
	if f.ID == "" || f.StateHash == "" {
		return fmt.Errorf("bolt: create flow: the id and the state hash are required")
	}
	return s.update(ctx, "create flow", func(tx *bbolt.Tx) error {
		states := tx.Bucket(bucketStates)
		old, live, err := s.liveFlow(tx, f.ID)
		if err != nil {
			return err
		}
		if live {
			return fmt.Errorf("bolt: create flow %q: id taken: %w", f.ID, store.ErrConflict)
		}
		if old.ID != "" {
			if err := deleteStateOf(states, old.StateHash, old.ID); err != nil {
				return err
			}
		}
		if owner := states.Get([]byte(f.StateHash)); owner != nil {
			if _, live, err := s.liveFlow(tx, string(owner)); err != nil {
				return err
			} else if live {
				return fmt.Errorf("bolt: create flow %q: state hash taken: %w", f.ID, store.ErrConflict)
			}
		}
		if err := states.Put([]byte(f.StateHash), []byte(f.ID)); err != nil {
			return fmt.Errorf("bolt: create flow %q: index state: %w", f.ID, err)
		}
		return putFlow(tx, f)
	})
}

// GetFlow returns a flow, or store.ErrNotFound when missing or expired.
func (s *Store) GetFlow(ctx context.Context, id string) (store.Flow, error) {
	var f store.Flow
	err := s.view(ctx, "get flow", func(tx *bbolt.Tx) error {
		w, live, err := s.liveFlow(tx, id)
		if err != nil {
			return err
		}
		if !live {
			return fmt.Errorf("bolt: get flow %q: %w", id, store.ErrNotFound)
		}
		f = w
		return nil
	})
	return f, err
}

// ConsumeState removes the state index entry and returns its flow, in one
// transaction: of concurrent callers exactly one succeeds. A state whose
// flow has expired is store.ErrNotFound and stays for the sweep.
func (s *Store) ConsumeState(ctx context.Context, stateHash string) (store.Flow, error) {
	var f store.Flow
	err := s.update(ctx, "consume state", func(tx *bbolt.Tx) error {
		states := tx.Bucket(bucketStates)
		owner := states.Get([]byte(stateHash))
		if owner == nil {
			return fmt.Errorf("bolt: consume state: %w", store.ErrNotFound)
		}
		w, live, err := s.liveFlow(tx, string(owner))
		if err != nil {
			return err
		}
		if !live {
			return fmt.Errorf("bolt: consume state: flow expired: %w", store.ErrNotFound)
		}
		if err := states.Delete([]byte(stateHash)); err != nil {
			return fmt.Errorf("bolt: consume state of flow %q: %w", w.ID, err)
		}
		f = w
		return nil
	})
	return f, err
}

// UpdateFlow reads the flow, calls fn and writes its result, all in one
// read-write transaction, so no other write can interleave and fn runs
// exactly once. fn runs while the transaction holds the file's single
// writer lock: it must be fast and do no I/O. An error from fn aborts and
// is returned unchanged; a result with another ID or StateHash is refused.
func (s *Store) UpdateFlow(ctx context.Context, id string, fn func(store.Flow) (store.Flow, error)) (store.Flow, error) {
	return s.UpdateFlowEvents(ctx, id, nil, fn)
}

// UpdateFlowEvents is UpdateFlow that also stores events in the same
// transaction.
func (s *Store) UpdateFlowEvents(ctx context.Context, id string, events []store.Event, fn func(store.Flow) (store.Flow, error)) (store.Flow, error) {
	var out store.Flow
	err := s.update(ctx, "update flow", func(tx *bbolt.Tx) error {
		w, live, err := s.liveFlow(tx, id)
		if err != nil {
			return err
		}
		if !live {
			return fmt.Errorf("bolt: update flow %q: %w", id, store.ErrNotFound)
		}
		next, err := fn(w)
		if err != nil {
			return err
		}
		if next.ID != w.ID || next.StateHash != w.StateHash {
			return fmt.Errorf("bolt: update flow %q: the id and state hash of a flow cannot change", id)
		}
		out = next
		if err := putEvents(tx, events, s.now()); err != nil {
			return err
		}
		return putFlow(tx, next)
	})
	if err != nil {
		return store.Flow{}, err
	}
	return out, nil
}
