package engine

import (
	"context"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/enginetest"
)

// providerView returns the listed view of provider id (ok false when it
// is not listed), and fails t if it is listed twice.
func providerView(t *testing.T, e *Engine, id string) (ProviderInfo, bool) {
	t.Helper()
	infos, err := e.ListProviders(context.Background())
	if err != nil {
		t.Fatalf("ListProviders: %v", err)
	}
	var found []ProviderInfo
	for _, in := range infos {
		if in.Provider.ID == id {
			found = append(found, in)
		}
	}
	if len(found) > 1 {
		t.Fatalf("provider %q listed %d times", id, len(found))
	}
	if len(found) == 0 {
		return ProviderInfo{}, false
	}
	return found[0], true
}

// eventually waits up to 5 s (the bolt store's notifier signals at once)
// for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProviderViewsFollowEveryWrite: ListProviders describes loaded
// providers from their last load instead of opening and compiling each
// record per call, and still shows every write at once on the writing
// engine, on a second engine sharing the store once its watch has
// reloaded (and served from that reload), and after an engine.yaml
// reload that shadows a runtime provider.
func TestProviderViewsFollowEveryWrite(t *testing.T) {
	a := newRig(t, rigOptions{})
	b := newRig(t, rigOptions{share: a})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, r := range []*rig{a, b} {
		if err := r.eng.LoadRuntimeProviders(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c := a.idp.Config("acme")
	doc := map[string]any{
		"id": "acme", "description": "v1", "client_id": c.ClientID, "client_secret": c.ClientSecret,
		"oauth2": map[string]any{
			"authorize_request": map[string]any{"endpoint": c.OAuth2.AuthorizeRequest.Endpoint},
			"token_request":     map[string]any{"endpoint": c.OAuth2.TokenRequest.Endpoint, "auth_method": "client_secret_basic"},
		},
	}
	describedBy := func(r *rig, want string) func() bool {
		return func() bool {
			in, ok := providerView(t, r.eng, "acme")
			return ok && in.Provider.Description == want && in.Source == SourceAdmin && in.Problem == ""
		}
	}
	servedFromLoad := func(r *rig) func() bool {
		return func() bool {
			rec, err := a.st.GetProvider(context.Background(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			_, ok := r.eng.runtime.cachedInfo(rec)
			return ok
		}
	}

	if _, err := a.eng.CreateProvider(ctx, doc); err != nil {
		t.Fatalf("CreateProvider: %v", err)
	}
	if !describedBy(a, "v1")() || !servedFromLoad(a)() {
		t.Fatal("created provider not listed from this engine's load right after the create")
	}
	eventually(t, "the create on the second engine's watch", servedFromLoad(b))
	if !describedBy(b, "v1")() {
		t.Fatal("second engine lists the created provider wrongly")
	}

	if _, err := a.eng.PatchProvider(ctx, "acme", map[string]any{"description": "v2"}); err != nil {
		t.Fatalf("PatchProvider: %v", err)
	}
	if !describedBy(a, "v2")() {
		t.Fatal("patched description not listed right after the patch")
	}
	// A write shows on the other engine even before its watch reloads
	// (the store is read on every call; only unchanged records reuse
	// their load), and is served from its load once it has.
	if !describedBy(b, "v2")() {
		t.Fatal("second engine lists the old description after the patch")
	}
	eventually(t, "the patch on the second engine's watch", servedFromLoad(b))
	if in, _ := providerView(t, a.eng, "acme"); in.Provider.ClientSecret != "" || in.SecretHint == "" {
		t.Fatalf("listed view: secret %q hint %q; want no secret and a hint", in.Provider.ClientSecret, in.SecretHint)
	}

	// An engine.yaml reload declaring the same id shadows the stored one.
	p, err := authflow.Compile(c, redirect)
	if err != nil {
		t.Fatal(err)
	}
	a.eng.SetProviders(map[string]*authflow.Provider{"hooli": a.eng.declared.Load().providers["hooli"], "acme": p}, nil, nil)
	if in, ok := providerView(t, a.eng, "acme"); !ok || in.Source != SourceConfig {
		t.Fatalf("after an engine.yaml reload declaring acme: %+v listed %v, want the engine.yaml provider once", in, ok)
	}
	a.eng.SetProviders(map[string]*authflow.Provider{"hooli": a.eng.declared.Load().providers["hooli"]}, nil, nil)
	if !describedBy(a, "v2")() {
		t.Fatal("after the engine.yaml provider is removed again the stored one is not listed")
	}

	if err := a.eng.DeleteProvider(ctx, "acme"); err != nil {
		t.Fatalf("DeleteProvider: %v", err)
	}
	for _, r := range []*rig{a, b} {
		if _, ok := providerView(t, r.eng, "acme"); ok {
			t.Fatal("deleted provider still listed")
		}
	}
}

// countOf returns a count function over r's engine: the provider's
// connections in one status.
func countOf(t *testing.T, r *rig) func(store.ConnectionStatus) int {
	return func(status store.ConnectionStatus) int {
		t.Helper()
		m, err := r.eng.ConnectionCounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return m[store.CountKey{ProviderID: "hooli", Status: status}]
	}
}

// TestConnectionCountsAreTheStoresOwn: on a store that keeps counts, every
// connection write shows at once, whichever instance made it.
func TestConnectionCountsAreTheStoresOwn(t *testing.T) {
	for name, open := range map[string]func(*testing.T, func() time.Time) store.Store{
		"bolt":  func(t *testing.T, now func() time.Time) store.Store { return enginetest.BoltStore(t, now) },
		"redis": func(t *testing.T, now func() time.Time) store.Store { return enginetest.RedisStore(t, now) },
	} {
		t.Run(name, func(t *testing.T) {
			a := newRig(t, rigOptions{store: open})
			b := newRig(t, rigOptions{share: a})
			count := countOf(t, a)
			id := a.connect("ada")
			b.connect("grace")
			if n := count(store.ConnectionConnected); n != 2 {
				t.Fatalf("connected after a connect on each instance = %d, want 2", n)
			}
			conn, err := a.st.GetConnection(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			_ = b.eng.markStatus(t.Context(), conn, store.ConnectionNeedsReauth, "test", "invalid_grant")
			if c, r := count(store.ConnectionConnected), count(store.ConnectionNeedsReauth); c != 1 || r != 1 {
				t.Fatalf("after another instance's status change: connected %d, needs_reauth %d; want 1, 1", c, r)
			}
			if err := b.eng.Disconnect(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			if r := count(store.ConnectionNeedsReauth); r != 0 {
				t.Fatalf("needs_reauth after another instance's disconnect = %d, want 0", r)
			}
		})
	}
}

// TestConnectionCountsFromAListingShowLocalWritesAtOnce: on a store that
// keeps no counts (Redis Cluster), the count made from a listing is
// dropped by every connection write of this engine (a connect, a status
// change, a disconnect), and another instance's writes show once it is
// 30 s old.
func TestConnectionCountsFromAListingShowLocalWritesAtOnce(t *testing.T) {
	a := newRig(t, rigOptions{store: func(t *testing.T, now func() time.Time) store.Store {
		return struct{ store.Store }{enginetest.BoltStore(t, now)} // its counts hidden
	}})
	b := newRig(t, rigOptions{share: a})
	ctx := context.Background()
	count := countOf(t, a)
	if n := count(store.ConnectionConnected); n != 0 {
		t.Fatalf("connected before any connection = %d", n)
	}
	id := a.connect("ada")
	if n := count(store.ConnectionConnected); n != 1 {
		t.Fatalf("connected right after a connect = %d, want 1", n)
	}
	conn, err := a.st.GetConnection(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_ = a.eng.markStatus(ctx, conn, store.ConnectionNeedsReauth, "test", "invalid_grant")
	if c, r := count(store.ConnectionConnected), count(store.ConnectionNeedsReauth); c != 0 || r != 1 {
		t.Fatalf("right after a status change: connected %d, needs_reauth %d; want 0, 1", c, r)
	}
	if err := a.eng.Disconnect(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := count(store.ConnectionNeedsReauth); r != 0 {
		t.Fatalf("needs_reauth right after a disconnect = %d, want 0", r)
	}

	b.connect("grace")
	if n := count(store.ConnectionConnected); n != 0 {
		t.Fatalf("another instance's connect counted before the kept count aged: %d (the count is not kept)", n)
	}
	a.clock.Advance(connectionCountTTL)
	if n := count(store.ConnectionConnected); n != 1 {
		t.Fatalf("another instance's connect after %s = %d, want 1", connectionCountTTL, n)
	}
}
