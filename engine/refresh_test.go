package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

func TestStale(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e := &Engine{margin: time.Minute, now: func() time.Time { return now }}
	for _, tc := range []struct {
		name             string
		updated, expires time.Time
		want             bool
	}{
		{"no expiry is never stale", now.Add(-time.Hour), time.Time{}, false},
		{"an hour left", now, now.Add(time.Hour), false},
		{"just outside the margin", now.Add(-time.Hour), now.Add(61 * time.Second), false},
		{"exactly at the margin", now.Add(-time.Hour), now.Add(time.Minute), true},
		{"inside the margin", now.Add(-time.Hour), now.Add(30 * time.Second), true},
		{"expired", now.Add(-time.Hour), now.Add(-time.Second), true},
		// A token living no longer than the margin: the margin is half its life.
		{"short-lived, fresh", now, now.Add(40 * time.Second), false},
		{"short-lived, past half", now.Add(-25 * time.Second), now.Add(15 * time.Second), true},
		{"short-lived, before half", now.Add(-15 * time.Second), now.Add(25 * time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := store.Connection{UpdatedAt: tc.updated, ExpiresAt: tc.expires}
			if got := e.stale(c); got != tc.want {
				t.Errorf("stale = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		held, want []string
		ok         bool
	}{
		{"nothing asked", []string{"a"}, nil, true},
		{"nothing held, nothing asked", nil, nil, true},
		{"nothing held", nil, []string{"a"}, false},
		{"same", []string{"a", "b"}, []string{"b", "a"}, true},
		{"subset", []string{"a", "b", "c"}, []string{"c"}, true},
		{"one missing", []string{"a", "b"}, []string{"a", "x"}, false},
		{"prefix is not a scope", []string{"read:user"}, []string{"read"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := covers(tc.held, tc.want); got != tc.ok {
				t.Errorf("covers(%q, %q) = %v, want %v", tc.held, tc.want, got, tc.ok)
			}
		})
	}
}

func TestSatisfied(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e := &Engine{margin: time.Minute, now: func() time.Time { return now }}
	fresh := store.Connection{Status: store.ConnectionConnected, Scopes: []string{"a"}, Version: 3, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	stale := fresh
	stale.ExpiresAt = now.Add(30 * time.Second)
	stale.UpdatedAt = now.Add(-time.Hour)
	expired := stale
	expired.ExpiresAt = now.Add(-time.Second)
	reauth := fresh
	reauth.Status = store.ConnectionNeedsReauth
	for _, tc := range []struct {
		name   string
		conn   store.Connection
		scopes []string
		seen   uint64
		want   bool
	}{
		{"fresh and covering", fresh, []string{"a"}, 3, true},
		{"fresh but missing a scope", fresh, []string{"b"}, 3, false},
		{"needs reauth", reauth, nil, 3, false},
		{"stale, not rewritten since read", stale, nil, 3, false},
		{"stale, rewritten by another caller", stale, nil, 2, true},
		{"stale, never read", stale, nil, 0, false},
		{"rewritten but expired", expired, nil, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.satisfied(tc.conn, tc.scopes, tc.seen, false); got != tc.want {
				t.Errorf("satisfied = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestConcurrentCallersShareOneRefresh: callers of one instance that find
// the same stale token share one refresh attempt: one provider call and
// one refresh lock taken, and every caller gets the same token.
func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.connect("ada")
	r.clock.Advance(2 * time.Hour)
	r.idp.SetDelay(500 * time.Millisecond)
	locksBefore := r.st.locks.Load()

	const callers = 20
	tokens := make([]string, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			a, err := r.authorize(context.Background(), "ada")
			if err != nil || a.Status != StatusCompleted {
				t.Errorf("caller %d: %+v, %v", i, a, err)
			}
			tokens[i] = a.Token
		})
	}
	wg.Wait()
	if c := r.idp.Counts(); c.Refreshes != 1 || c.Replays != 0 {
		t.Errorf("provider saw %d refreshes and %d replays, want 1 and 0", c.Refreshes, c.Replays)
	}
	if n := r.st.locks.Load() - locksBefore; n != 1 {
		t.Errorf("%d refresh locks taken for %d concurrent callers, want 1 (one shared attempt)", n, callers)
	}
	for i, tok := range tokens {
		if tok != tokens[0] || !r.idp.ValidAccessToken(tok) {
			t.Fatalf("caller %d got a different or invalid token", i)
		}
	}
}

// TestWaiterHonoursItsContext: a caller waiting for a refresh another
// caller started stops waiting when its own context ends; the refresh goes
// on and lands for everyone else.
func TestWaiterHonoursItsContext(t *testing.T) {
	r := newRig(t, rigOptions{})
	id := r.connect("ada")
	r.clock.Advance(2 * time.Hour)
	r.idp.SetDelay(2 * time.Second)

	first := make(chan error, 1)
	go func() {
		_, err := r.authorize(context.Background(), "ada")
		first <- err
	}()
	time.Sleep(200 * time.Millisecond) // the first caller's refresh is at the provider
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.authorize(ctx, "ada")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a waiter whose context ended: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("the waiter returned after %v; its context ended after 200ms", d)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first caller: %v", err)
	}
	a, err := r.authorize(context.Background(), "ada")
	mustComplete(t, "after the refresh", a, err)
	if c := r.idp.Counts(); c.Refreshes != 1 || c.Replays != 0 {
		t.Errorf("provider saw %d refreshes and %d replays, want 1 and 0", c.Refreshes, c.Replays)
	}
	if ts := r.storedToken(id); ts.AccessToken != a.Token {
		t.Error("the stored token is not the one handed out")
	}
}

// TestUnsavedTokenKeepsTheLease: the provider rotated the refresh token
// but the store does not take the new one. The refresh lease stays held
// (renewed beyond its lifetime) until the token is stored, so no other
// instance refreshes with the used refresh token; once the store is back
// the token lands and the lease is released.
func TestUnsavedTokenKeepsTheLease(t *testing.T) {
	const lease = 600 * time.Millisecond
	a := newRig(t, rigOptions{lease: lease, saveBudget: 300 * time.Millisecond, timeout: 5 * time.Second})
	b := newRig(t, rigOptions{lease: lease, saveBudget: 300 * time.Millisecond, timeout: 5 * time.Second, share: a})
	id := a.connect("ada")
	a.clock.Advance(2 * time.Hour)

	a.st.failWrites.Store(true)
	if _, err := a.authorize(context.Background(), "ada"); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("refresh whose token cannot be stored: %v, want ErrStoreUnavailable", err)
	}
	if c := a.idp.Counts(); c.Refreshes != 1 {
		t.Fatalf("provider saw %d refreshes, want 1", c.Refreshes)
	}
	time.Sleep(3 * lease) // the lease would have run out unless renewed
	if _, err := a.st.Lock(context.Background(), "refresh:"+id, time.Minute); !errors.Is(err, store.ErrLockHeld) {
		t.Fatalf("refresh lock while the rotated token is unsaved: %v, want ErrLockHeld", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*lease)
	_, err := b.authorize(ctx, "ada")
	cancel()
	if err == nil {
		t.Fatal("another instance got a token while the rotated one was unsaved")
	}
	if c := a.idp.Counts(); c.Refreshes != 1 || c.Replays != 0 {
		t.Fatalf("provider saw %d refreshes and %d replays while the token was unsaved, want 1 and 0", c.Refreshes, c.Replays)
	}

	a.st.failWrites.Store(false)
	deadline := time.Now().Add(15 * time.Second)
	for !a.idp.ValidRefreshToken(a.storedToken(id).RefreshToken) {
		if time.Now().After(deadline) {
			t.Fatal("the kept token was not stored after the store came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := b.authorize(context.Background(), "ada")
	mustComplete(t, "the other instance after the token landed", got, err)
	if c := a.idp.Counts(); c.Refreshes != 1 || c.Replays != 0 {
		t.Fatalf("provider saw %d refreshes and %d replays, want 1 and 0", c.Refreshes, c.Replays)
	}
	// The lease is released right after the kept token is written, by the
	// goroutine that wrote it: on a loaded machine that may trail the
	// write a little, so allow a few lease periods, not a whole minute.
	deadline = time.Now().Add(5 * lease)
	for {
		token, err := a.st.Lock(context.Background(), "refresh:"+id, time.Minute)
		if err == nil {
			_ = a.st.Unlock(context.Background(), "refresh:"+id, token)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refresh lock %s after the token landed: %v, want it released", 5*lease, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stores runs a test on bbolt and on Redis.
var stores = []struct {
	name string
	open func(t *testing.T, now func() time.Time) store.Store
}{
	{"bolt", nil},
	{"redis", redisStore},
}

// TestCrashedOwnerBlocksOneLease: a refresh lock whose owner died (kill -9:
// it stops renewing) holds the next caller up for at most one short lease,
// after which the caller refreshes the token itself; never the tens of
// seconds a lease sized for a whole provider call would.
func TestCrashedOwnerBlocksOneLease(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			const lease = time.Second
			r := newRig(t, rigOptions{lease: lease, store: s.open})
			id := r.connect("ada")
			r.clock.Advance(2 * time.Hour)
			if _, err := r.st.Lock(context.Background(), "refresh:"+id, lease); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			a, err := r.authorize(context.Background(), "ada")
			took := time.Since(start)
			mustComplete(t, "after the owner died", a, err)
			if took < lease*8/10 {
				t.Errorf("the caller refreshed after %v, while the dead owner's lease (%v) still ran", took, lease)
			}
			if took > 5*lease {
				t.Errorf("the caller waited %v for a dead owner's lease of %v", took, lease)
			}
			if c := r.idp.Counts(); c.Refreshes != 1 || c.Replays != 0 {
				t.Errorf("provider saw %d refreshes and %d replays, want 1 and 0", c.Refreshes, c.Replays)
			}
		})
	}
}

// TestLiveOwnerKeepsItsLease: a refresh that takes several lease lifetimes
// at the provider keeps its lock by renewing it, so another instance never
// starts a second refresh (with the same, rotating refresh token) while
// the first may still land; it waits and gets the first one's token.
func TestLiveOwnerKeepsItsLease(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			const lease = 900 * time.Millisecond
			a := newRig(t, rigOptions{lease: lease, timeout: 10 * time.Second, store: s.open})
			b := newRig(t, rigOptions{lease: lease, timeout: 10 * time.Second, share: a})
			a.connect("ada")
			a.clock.Advance(2 * time.Hour)
			a.idp.SetDelay(4 * lease)

			first := make(chan Authorization, 1)
			go func() {
				got, err := a.authorize(context.Background(), "ada")
				mustCompleteAsync(t, "the first instance", got, err)
				first <- got
			}()
			time.Sleep(200 * time.Millisecond) // the first refresh is at the provider
			got, err := b.authorize(context.Background(), "ada")
			mustComplete(t, "the second instance", got, err)
			if f := <-first; f.Token != got.Token {
				t.Error("the instances got different tokens")
			}
			if c := a.idp.Counts(); c.Refreshes != 1 || c.Replays != 0 {
				t.Errorf("provider saw %d refreshes and %d replays, want 1 and 0", c.Refreshes, c.Replays)
			}
		})
	}
}

func mustCompleteAsync(t *testing.T, what string, a Authorization, err error) {
	if err != nil || a.Status != StatusCompleted || a.Token == "" {
		t.Errorf("%s: %+v, %v; want completed with a token", what, a, err)
	}
}

// TestUnsavedTokenIsGivenUpAfterItsKeep: a refreshed token the store never
// takes is retried for unsavedKeep by the engine's clock and then given
// up: forgotten, so neither the background retries nor Close write it
// once the store answers again, and the record keeps what it had.
func TestUnsavedTokenIsGivenUpAfterItsKeep(t *testing.T) {
	a := newRig(t, rigOptions{lease: 600 * time.Millisecond, saveBudget: 300 * time.Millisecond, timeout: 5 * time.Second})
	id := a.connect("ada")
	before := a.storedToken(id)
	a.clock.Advance(2 * time.Hour)
	a.st.failWrites.Store(true)
	if _, err := a.authorize(context.Background(), "ada"); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("refresh whose token cannot be stored: %v, want ErrStoreUnavailable", err)
	}
	kept := func() bool {
		a.eng.unsavedMu.Lock()
		defer a.eng.unsavedMu.Unlock()
		_, ok := a.eng.unsaved[id]
		return ok
	}
	if !kept() {
		t.Fatal("the refreshed token the store refused is not kept")
	}
	a.clock.Advance(unsavedKeep / 2)
	time.Sleep(100 * time.Millisecond)
	if !kept() {
		t.Fatal("the kept token was given up before unsavedKeep passed")
	}
	a.clock.Advance(unsavedKeep)
	deadline := time.Now().Add(5 * time.Second)
	for kept() {
		if time.Now().After(deadline) {
			t.Fatal("the kept token was still kept 5 s after unsavedKeep passed on the engine's clock")
		}
		a.clock.Advance(time.Second) // wake the retry pause
		time.Sleep(10 * time.Millisecond)
	}
	a.st.failWrites.Store(false)
	if err := a.eng.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := a.storedToken(id); got.RefreshToken != before.RefreshToken || got.AccessToken != before.AccessToken {
		t.Error("the token given up was written after all")
	}
}

// TestRefreshSupersededByAnotherWriteAnswersTheNewRecord: a connection
// rewritten while a refresh of it is in flight (a new authorization landing
// first) wins: the refreshed token is not written over it, and the caller
// gets the record's current token, re-read.
func TestRefreshSupersededByAnotherWriteAnswersTheNewRecord(t *testing.T) {
	r := newRig(t, rigOptions{})
	id := r.connect("ada")
	r.clock.Advance(2 * time.Hour)
	newer := tokenSet{AccessToken: "at-from-a-newer-authorization", RefreshToken: "rt-newer", TokenType: "Bearer", Expiry: r.clock.Now().Add(time.Hour)}
	hook := func() {
		_, err := r.st.Store.UpdateConnection(context.Background(), id, func(c store.Connection, _ bool) (store.Connection, error) {
			sealed, err := r.eng.sealJSON(newer, connAAD(id))
			if err != nil {
				return c, err
			}
			c.Sealed, c.ExpiresAt, c.UpdatedAt = sealed, newer.Expiry, r.clock.Now()
			return c, nil
		})
		if err != nil {
			t.Errorf("the other writer: %v", err)
		}
	}
	r.st.beforeUpdateConnection.Store(&hook)
	got, err := r.authorize(context.Background(), "ada")
	mustComplete(t, "authorize during which the record was rewritten", got, err)
	if got.Token != newer.AccessToken {
		t.Errorf("the caller got %q, want the rewritten record's token", got.Token)
	}
	if c := r.idp.Counts(); c.Refreshes != 1 {
		t.Errorf("provider saw %d refreshes, want 1", c.Refreshes)
	}
	if stored := r.storedToken(id); stored.AccessToken != newer.AccessToken || stored.RefreshToken != newer.RefreshToken {
		t.Errorf("stored %q/%q, want the newer authorization's token kept", stored.AccessToken, stored.RefreshToken)
	}
}
