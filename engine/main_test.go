package engine

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

// TestMain fails the package when the tests leave a goroutine running:
// the engine must stop everything it starts (Close).
func TestMain(m *testing.M) { redistest.MainNoLeaks(m) }

// faultyStore is a real store whose connection writes can be made to fail
// as an unreachable store does (store.ErrUnavailable, nothing written),
// and which counts the refresh locks taken through it.
type faultyStore struct {
	store.Store
	failWrites atomic.Bool
	locks      atomic.Int64
	renews     atomic.Int64
	// beforeUpdateProvider, when set, runs before each UpdateProvider.
	beforeUpdateProvider atomic.Pointer[func()]
	// beforeUpdateConnection, when set, runs once before the next
	// connection write (UpdateConnection or UpdateConnectionEvents) and
	// is cleared: another writer that gets there first.
	beforeUpdateConnection atomic.Pointer[func()]
}

// runBeforeUpdateConnection runs and clears the one-shot hook.
func (f *faultyStore) runBeforeUpdateConnection() {
	if hook := f.beforeUpdateConnection.Swap(nil); hook != nil {
		(*hook)()
	}
}

func (f *faultyStore) UpdateProvider(ctx context.Context, p store.ProviderRecord, old []byte) error {
	if hook := f.beforeUpdateProvider.Load(); hook != nil {
		(*hook)()
	}
	return f.Store.UpdateProvider(ctx, p, old)
}

func (f *faultyStore) UpdateConnection(ctx context.Context, id string, fn func(store.Connection, bool) (store.Connection, error)) (store.Connection, error) {
	if f.failWrites.Load() {
		return store.Connection{}, store.ErrUnavailable
	}
	f.runBeforeUpdateConnection()
	return f.Store.UpdateConnection(ctx, id, fn)
}

func (f *faultyStore) UpdateConnectionEvents(ctx context.Context, id string, evs []store.Event, fn func(store.Connection, bool) (store.Connection, error)) (store.Connection, error) {
	if f.failWrites.Load() {
		return store.Connection{}, store.ErrUnavailable
	}
	f.runBeforeUpdateConnection()
	return f.Store.UpdateConnectionEvents(ctx, id, evs, fn)
}

// ConnectionCounts passes the store's kept counts through
// (store.ConnectionCounter), or says that it keeps none.
func (f *faultyStore) ConnectionCounts(ctx context.Context) (store.ConnectionCounts, error) {
	if c, ok := f.Store.(store.ConnectionCounter); ok {
		return c.ConnectionCounts(ctx)
	}
	return nil, store.ErrUnsupported
}

// WatchConnections passes the real store's connection feed through, so
// the engines of these tests keep their connection caches.
func (f *faultyStore) WatchConnections(changed func(id string), up func(bool)) func() {
	feed, ok := f.Store.(store.ConnectionFeed)
	if !ok {
		up(false)
		return func() {}
	}
	return feed.WatchConnections(changed, up)
}

func (f *faultyStore) Renew(ctx context.Context, name, token string, ttl time.Duration) error {
	f.renews.Add(1)
	return f.Store.Renew(ctx, name, token, ttl)
}

func (f *faultyStore) Lock(ctx context.Context, name string, ttl time.Duration) (string, error) {
	f.locks.Add(1)
	return f.Store.Lock(ctx, name, ttl)
}

// rig is one engine over a real store, with the strict stand-in provider
// "hooli" rotating refresh tokens.
type rig struct {
	t     *testing.T
	clock *enginetest.Clock
	idp   *providertest.Provider
	st    *faultyStore
	eng   *Engine
	opts  Options
}

type rigOptions struct {
	lease, timeout, saveBudget time.Duration
	// store opens the store (default: bbolt in a temporary directory).
	store func(t *testing.T, now func() time.Time) store.Store
	// share makes the rig use another rig's store, clock and provider (a
	// second instance).
	share *rig
	// events are the lifecycle event types the engine records.
	events []string
	// revoke gives the provider the stand-in's revocation_request.
	revoke bool
	// service adds "svc", a client-credentials provider at the stand-in.
	service bool
}

const redirect = "https://engine.example.com/oauth/callback"

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	r := &rig{t: t}
	if o.share != nil {
		r.clock, r.idp, r.st = o.share.clock, o.share.idp, o.share.st
	} else {
		r.clock = &enginetest.Clock{}
		r.idp = providertest.New(t, providertest.Options{RedirectURI: redirect, RotateRefreshTokens: true,
			AccessTokenTTL: time.Hour, Now: r.clock.Now})
		var st store.Store
		if o.store != nil {
			st = o.store(t, r.clock.Now)
		} else {
			st = enginetest.BoltStore(t, r.clock.Now)
		}
		r.st = &faultyStore{Store: st}
	}
	pc := r.idp.Config("hooli")
	if o.revoke {
		pc.OAuth2.RevocationRequest = r.idp.RevocationRequest()
	}
	p, err := authflow.Compile(pc, redirect)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{}}
	providers := map[string]*authflow.Provider{"hooli": p}
	if o.service {
		svc, err := authflow.Compile(r.idp.ClientCredentialsConfig("svc"), redirect)
		if err != nil {
			t.Fatal(err)
		}
		providers["svc"] = svc
	}
	r.opts = Options{
		Providers:       providers,
		Store:           r.st,
		Sealer:          enginetest.Sealer(t),
		HTTPClient:      client,
		ProviderTimeout: o.timeout,
		RefreshLease:    o.lease,
		SaveBudget:      o.saveBudget,
		PublicURL:       "https://engine.example.com",
		// The stand-in listens on loopback.
		AllowPrivateEndpoints: true,
		Logger:                slog.New(slog.DiscardHandler),
		Now:                   r.clock.Now,
		Clock:                 r.clock,
		EventTypes:            o.events,
	}
	if o.share != nil {
		r.opts.Sealer = o.share.opts.Sealer
	}
	r.eng = startEngine(t, r.opts)
	t.Cleanup(client.CloseIdleConnections)
	return r
}

// startEngine builds an engine from opts and closes it when the test
// ends, failing the test when Close does.
func startEngine(t *testing.T, opts Options) *Engine {
	t.Helper()
	eng, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := eng.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return eng
}

func redisStore(t *testing.T, now func() time.Time) store.Store {
	return enginetest.RedisStore(t, now)
}

// connect runs a whole authorization of user at the stand-in and returns
// the connection's id.
func (r *rig) connect(user string) string {
	r.t.Helper()
	ctx := context.Background()
	start, err := r.eng.Authorize(ctx, AuthorizeRequest{UserID: user, ProviderID: "hooli"})
	if err != nil || start.Status != StatusPending {
		r.t.Fatalf("authorize: %+v, %v; want pending", start, err)
	}
	if res := r.consent(start); res.Status != store.FlowCompleted {
		r.t.Fatalf("callback: %+v; want completed", res)
	}
	return store.ConnectionID("hooli", user)
}

// authorize asks for user's token.
func (r *rig) authorize(ctx context.Context, user string) (Authorization, error) {
	return r.eng.Authorize(ctx, AuthorizeRequest{UserID: user, ProviderID: "hooli"})
}

// storedRefreshToken opens the connection's stored token set.
func (r *rig) storedToken(id string) tokenSet {
	r.t.Helper()
	conn, err := r.st.GetConnection(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	ts, err := r.eng.openToken(conn)
	if err != nil {
		r.t.Fatal(err)
	}
	return ts
}

func mustComplete(t *testing.T, what string, a Authorization, err error) {
	t.Helper()
	if err != nil || a.Status != StatusCompleted || a.Token == "" {
		t.Fatalf("%s: %+v, %v; want completed with a token", what, a, err)
	}
}
