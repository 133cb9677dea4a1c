package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/providertest"
)

// verifyingRig is a rig whose provider "hooli" has oauth2.verify_refresh.
func verifyingRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t, rigOptions{})
	r.verifyWith(r.idp)
	return r
}

// verifyWith replaces the rig's engine with one whose provider "hooli" is
// idp with oauth2.verify_refresh.
func (r *rig) verifyWith(idp *providertest.Provider) {
	r.t.Helper()
	r.idp = idp
	cfg := idp.Config("hooli")
	cfg.OAuth2.VerifyRefresh = true
	p, err := authflow.Compile(cfg, redirect)
	if err != nil {
		r.t.Fatal(err)
	}
	r.opts.Providers = map[string]*authflow.Provider{"hooli": p}
	eng, err := New(r.opts)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = eng.Close(context.Background()) })
	r.eng = eng
}

func TestVerifyRefresh(t *testing.T) {
	ctx := context.Background()

	t.Run("a working refresh right after the grant stores the refreshed token", func(t *testing.T) {
		r := verifyingRig(t)
		id := r.connect("ada")
		if got := r.idp.Counts().Refreshes; got != 1 {
			t.Fatalf("provider refreshes after the grant = %d, want 1", got)
		}
		// The stand-in rotates refresh tokens: storing the first one would
		// break the next refresh (reuse revokes the chain).
		if _, err := r.eng.RefreshConnection(ctx, id); err != nil {
			t.Fatalf("a later refresh with the stored refresh token: %v", err)
		}
		if v := r.idp.Violations(); len(v) > 0 || r.idp.Counts().Replays != 0 {
			t.Fatalf("violations %v, replays %d; want none", v, r.idp.Counts().Replays)
		}
	})

	t.Run("a refresh the provider refuses fails the flow and stores nothing", func(t *testing.T) {
		r := verifyingRig(t)
		r.idp.RefuseRefreshes("unauthorized_client")
		start, err := r.authorize(ctx, "ada")
		if err != nil {
			t.Fatal(err)
		}
		res := r.consent(start)
		if res.Status != store.FlowFailed || res.Kind != "refresh_verification_failed" || !strings.Contains(res.Reason, "unauthorized_client") {
			t.Fatalf("callback = %+v; want failed refresh_verification_failed naming unauthorized_client", res)
		}
		st, err := r.eng.Status(ctx, start.ID, 0)
		if err != nil || st.ReasonName != "refresh_verification_failed" {
			t.Fatalf("status = %+v, %v; want reason_name refresh_verification_failed", st, err)
		}
		if _, err := r.st.GetConnection(ctx, store.ConnectionID("hooli", "ada")); err == nil {
			t.Fatal("a connection was stored although the refresh verification failed")
		}
	})

	t.Run("a failed verification leaves an existing connection as it was", func(t *testing.T) {
		r := verifyingRig(t)
		id := r.connect("ada")
		before, err := r.st.GetConnection(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		r.idp.RefuseRefreshes("unauthorized_client")
		start, err := r.eng.Authorize(ctx, AuthorizeRequest{UserID: "ada", ProviderID: "hooli", Scopes: []string{"more"}})
		if err != nil {
			t.Fatal(err)
		}
		if res := r.consent(start); res.Kind != "refresh_verification_failed" {
			t.Fatalf("callback = %+v; want refresh_verification_failed", res)
		}
		after, err := r.st.GetConnection(ctx, id)
		if err != nil || after.Version != before.Version || after.Status != store.ConnectionConnected {
			t.Fatalf("connection after a failed verification: %+v, %v; want version %d, connected", after, err, before.Version)
		}
	})

	t.Run("a provider that issues no refresh token fails the flow", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.verifyWith(providertest.New(t, providertest.Options{RedirectURI: redirect, NoRefreshTokens: true, AccessTokenTTL: time.Hour, Now: r.clock.Now}))
		start, err := r.authorize(ctx, "ada")
		if err != nil {
			t.Fatal(err)
		}
		if res := r.consent(start); res.Kind != "refresh_verification_failed" || !strings.Contains(res.Reason, "no refresh token") {
			t.Fatalf("callback = %+v; want refresh_verification_failed saying no refresh token was issued", res)
		}
	})

	t.Run("verify_refresh without a refresh request is a config error naming the field", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		cfg := r.idp.Config("hooli")
		cfg.OAuth2.VerifyRefresh = true
		cfg.OAuth2.RefreshTokenRequest = nil
		_, err := authflow.Compile(cfg, redirect)
		if err == nil || !strings.Contains(err.Error(), "auth.providers[hooli].oauth2.verify_refresh") {
			t.Fatalf("Compile = %v; want an error naming oauth2.verify_refresh", err)
		}
	})
}
