package engine

import (
	"context"
	"errors"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/store"
)

// SweepPolicy says which connections the background refresh (package
// engine/sweeper) refreshes: those whose access token expires within
// Window, and, when IdleAfter is set, those not refreshed or re-authorized
// for IdleAfter (providers expire refresh tokens that go unused).
type SweepPolicy struct {
	Window    time.Duration
	IdleAfter time.Duration
}

// due reports whether c is one the policy refreshes now.
func (e *Engine) due(c store.Connection, pol SweepPolicy) bool {
	if c.UserID == "" || !usable(c) {
		return false // service tokens are fetched when asked for
	}
	now := e.now()
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(now.Add(pol.Window)) {
		return true
	}
	return pol.IdleAfter > 0 && c.UpdatedAt.Before(now.Add(-pol.IdleAfter))
}

// DueForRefresh lists the ids of at most limit connections the policy
// refreshes now, in id order. It reads every connection record once.
func (e *Engine) DueForRefresh(ctx context.Context, pol SweepPolicy, limit int) ([]string, error) {
	list, _, err := e.store.ListConnections(ctx, store.ConnectionFilter{Status: store.ConnectionConnected}, 0, 0)
	if err != nil {
		return nil, storeErr("list connections", err)
	}
	var ids []string
	for _, c := range list {
		if len(ids) == limit {
			break
		}
		if e.due(c, pol) {
			ids = append(ids, c.ID)
		}
	}
	return ids, nil
}

// SweepRefresh refreshes connection id if the policy still says it is
// due (a caller may have refreshed it since it was listed), through the
// same single flight and store lock as every refresh. It reports whether
// a refresh was made. A connection with nothing to refresh with is left
// alone until its token expires (then it is marked expired).
func (e *Engine) SweepRefresh(ctx context.Context, id string, pol SweepPolicy) (bool, error) {
	conn, err := e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeErr("read connection", err)
	}
	if !e.due(conn, pol) {
		return false, nil
	}
	p, err := e.provider(conn.ProviderID)
	if err != nil || p.GrantType() != config.GrantAuthorizationCode {
		return false, nil // provider removed or disabled: nothing to refresh with
	}
	_, err = e.renewForced(ctx, p, id, nil, conn.Version)
	if errors.Is(err, errCannotRefresh) {
		return false, nil
	}
	return err == nil, err
}
