package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
)

// RecordAAD is the additional data that binds a record's sealed part to
// the record: kind is store.KindFlow, KindConnection, KindProvider or
// KindSession (a console session, sealed by engine/console) or
// KindDiscovery ("discovery:"+id).
func RecordAAD(kind, id string) []byte {
	switch kind {
	case store.KindFlow:
		return flowAAD(id)
	case store.KindConnection:
		return connAAD(id)
	case store.KindProvider:
		return providerAAD(id)
	case store.KindSession:
		return sessionAAD(id)
	}
	return []byte(kind + ":" + id)
}

// ResealResult counts what Reseal did.
type ResealResult struct {
	// Found is the number of records sealed directly by a root key.
	Found int
	// Resealed were rewritten with the engine's sealer.
	Resealed int
	// Busy connections were being refreshed; the next run takes them.
	Busy int
	// Problems name the records that could not be resealed and why (a
	// missing root key, a damaged record), by kind and id.
	Problems []string
}

// errSkipReseal: the record changed since the scan and needs no reseal.
var errSkipReseal = errors.New("no longer needs resealing")

// Reseal rewrites the connections, runtime providers, console sessions and
// discovery records sealed in the format before envelope encryption
// (directly by a root key) with the engine's sealer, so the root key that sealed them can be removed. A
// connection is resealed under its refresh lock, so a refresh in flight on
// any instance never loses its write; a connection whose lock is held is
// counted Busy and left for the next run. Records rewritten meanwhile are
// left alone. Flows are not resealed: they expire within the flow TTL.
// progress, when set, is called after each record with the number done.
func (e *Engine) Reseal(ctx context.Context, progress func(done, total int)) (ResealResult, error) {
	type ref struct{ kind, id string }
	var todo []ref
	err := e.store.Scan(ctx, func(r store.SealedRecord) error {
		if r.Err != nil || r.Kind == store.KindFlow {
			return nil
		}
		if format, _, err := seal.Header(r.Sealed); err == nil && format == seal.FormatRoot {
			todo = append(todo, ref{r.Kind, r.ID})
		}
		return nil
	})
	if err != nil {
		return ResealResult{}, storeErr("scan records", err)
	}
	res := ResealResult{Found: len(todo)}
	for i, r := range todo {
		var err error
		switch r.kind {
		case store.KindConnection:
			err = e.resealConnection(ctx, r.id)
		case store.KindSession:
			err = e.resealSession(ctx, r.id)
		case store.KindDiscovery:
			err = e.resealDiscovery(ctx, r.id)
		default:
			err = e.resealProvider(ctx, r.id)
		}
		switch {
		case err == nil:
			res.Resealed++
		case errors.Is(err, errSkipReseal), errors.Is(err, store.ErrNotFound):
		case errors.Is(err, store.ErrLockHeld):
			res.Busy++
		case errors.Is(err, store.ErrUnavailable), errors.Is(err, ErrStoreUnavailable), ctx.Err() != nil:
			return res, fmt.Errorf("reseal %s %q: %w", r.kind, r.id, err)
		default:
			res.Problems = append(res.Problems, fmt.Sprintf("%s %q: %v", r.kind, r.id, err))
		}
		if progress != nil {
			progress(i+1, len(todo))
		}
	}
	return res, nil
}

// needsReseal reports whether sealed is in the format before envelopes.
func needsReseal(sealed []byte) bool {
	format, _, err := seal.Header(sealed)
	return err == nil && format == seal.FormatRoot
}

// reseal opens a sealed part and seals it again with the engine's sealer.
func (e *Engine) reseal(sealed, aad []byte) ([]byte, error) {
	plain, err := e.sealer.Open(sealed, aad)
	var mk *seal.MissingKeyError
	if errors.As(err, &mk) {
		return nil, &KeyMissingError{KeyID: mk.KeyID, Replaced: mk.Replaced}
	}
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return e.sealer.Seal(plain, aad)
}

func (e *Engine) resealConnection(ctx context.Context, id string) error {
	lock := "refresh:" + id
	owner, err := e.store.Lock(ctx, lock, e.lease)
	if err != nil {
		return err
	}
	defer func() {
		if err := e.store.Unlock(context.WithoutCancel(ctx), lock, owner); err != nil {
			e.log.WarnContext(ctx, "release refresh lock after reseal", "connection_id", id, "err", err)
		}
	}()
	_, err = e.store.UpdateConnection(ctx, id, func(c store.Connection, exists bool) (store.Connection, error) {
		if !exists || !needsReseal(c.Sealed) {
			return c, errSkipReseal
		}
		sealed, err := e.reseal(c.Sealed, connAAD(id))
		if err != nil {
			return c, err
		}
		c.Sealed = sealed
		return c, nil
	})
	e.connWritten(id)
	if err == nil {
		e.notifyConn(ctx, id)
	}
	return err
}

func (e *Engine) resealProvider(ctx context.Context, id string) error {
	rec, err := e.store.GetProvider(ctx, id)
	if err != nil {
		return err
	}
	if !needsReseal(rec.Sealed) {
		return errSkipReseal
	}
	if rec.Sealed, err = e.reseal(rec.Sealed, providerAAD(id)); err != nil {
		return err
	}
	return e.store.PutProvider(ctx, rec)
}

// resealSession rewrites a console session; one deleted meanwhile (signed
// out) stays deleted (ReplaceSession never creates).
func (e *Engine) resealSession(ctx context.Context, id string) error {
	sess, err := e.store.GetSession(ctx, id)
	if err != nil {
		return err
	}
	if !needsReseal(sess.Sealed) {
		return errSkipReseal
	}
	if sess.Sealed, err = e.reseal(sess.Sealed, sessionAAD(id)); err != nil {
		return err
	}
	return e.store.ReplaceSession(ctx, sess)
}
