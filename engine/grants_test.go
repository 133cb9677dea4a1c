package engine

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

func TestGrantedScopes(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		requested, reported      []string
		wantGranted, wantMissing []string
	}{
		{"a provider that reports no scopes granted what was asked", []string{"a", "b"}, nil, []string{"a", "b"}, nil},
		{"every scope reported", []string{"a", "b"}, []string{"b", "a"}, []string{"a", "b"}, nil},
		{"a scope left out of the report is missing", []string{"a", "b"}, []string{"a"}, []string{"a"}, []string{"b"}},
		{"Google's URL form of a short name counts as granted", []string{"openid", "email", "profile"},
			[]string{"openid", "https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/userinfo.profile"},
			[]string{"openid", "email", "profile", "https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/userinfo.profile"}, nil},
		{"a suffix of a plain scope is not a URL form", []string{"email"}, []string{"user.email"}, []string{"user.email"}, []string{"email"}},
		{"offline_access is never echoed and never missing", []string{"User.Read", "offline_access"}, []string{"User.Read"}, []string{"User.Read", "offline_access"}, nil},
		{"extra reported scopes are kept", []string{"a"}, []string{"a", "z"}, []string{"a", "z"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			granted, missing := grantedScopes(tc.requested, tc.reported)
			if !slices.Equal(granted, tc.wantGranted) || !slices.Equal(missing, tc.wantMissing) {
				t.Errorf("grantedScopes(%q, %q) = %q, %q; want %q, %q", tc.requested, tc.reported, granted, missing, tc.wantGranted, tc.wantMissing)
			}
		})
	}
}

// consent sends the user of a pending authorization through the stand-in's
// consent and the engine's callback.
func (r *rig) consent(start Authorization) CallbackResult {
	r.t.Helper()
	ctx := context.Background()
	if start.Status != StatusPending {
		r.t.Fatalf("authorization %+v is not pending", start)
	}
	cb, err := r.idp.Consent(ctx, start.URL)
	if err != nil {
		r.t.Fatal(err)
	}
	u, err := url.Parse(cb)
	if err != nil {
		r.t.Fatal(err)
	}
	res, err := r.eng.Callback(ctx, CallbackQuery{State: u.Query().Get("state"), Code: u.Query().Get("code")})
	if err != nil {
		r.t.Fatalf("callback: %v", err)
	}
	return res
}

func TestDeclinedScopeFailsTheFlowWithScopeNotGrantedAndNeverLoops(t *testing.T) {
	for name, open := range map[string]func(*testing.T, func() time.Time) store.Store{"bolt": nil, "redis": redisStore} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, rigOptions{store: open})
			ctx := context.Background()
			ask := func(scopes ...string) Authorization {
				t.Helper()
				a, err := r.eng.Authorize(ctx, AuthorizeRequest{UserID: "ada", ProviderID: "hooli", Scopes: scopes})
				if err != nil {
					t.Fatalf("authorize %q: %v", scopes, err)
				}
				return a
			}
			r.idp.DeclineScopes("write")
			start := ask("read", "write")
			res := r.consent(start)
			if res.Status != store.FlowFailed || res.Kind != "scope_not_granted" {
				t.Fatalf("callback = %+v; want failed scope_not_granted", res)
			}

			t.Run("the flow's status names the missing scopes", func(t *testing.T) {
				st, err := r.eng.Status(ctx, start.ID, 0)
				if err != nil || st.Status != StatusFailed || st.ReasonName != "scope_not_granted" || !slices.Equal(st.MissingScopes, []string{"write"}) {
					t.Fatalf("status = %+v, %v; want failed scope_not_granted missing [write]", st, err)
				}
				_, err = r.eng.Status(ctx, start.ID, time.Second)
				var ffe *FlowFailedError
				if !errors.As(err, &ffe) {
					t.Fatalf("a wait on the failed flow = %v; want a FlowFailedError so waiting clients stop", err)
				}
			})

			t.Run("the connection keeps the granted scopes and covers requirements at once", func(t *testing.T) {
				conn, err := r.st.GetConnection(ctx, store.ConnectionID("hooli", "ada"))
				if err != nil {
					t.Fatal(err)
				}
				if conn.Status != store.ConnectionConnected || !slices.Equal(conn.Scopes, []string{"read"}) || !slices.Equal(conn.DeclinedScopes, []string{"write"}) {
					t.Fatalf("connection status %q scopes %q declined %q; want connected [read] declined [write]", conn.Status, conn.Scopes, conn.DeclinedScopes)
				}
				a := ask("read")
				mustComplete(t, "authorize for the granted scope", a, nil)
				if got := r.idp.AccessTokenScopes(a.Token); !slices.Equal(got, []string{"read"}) {
					t.Errorf("the token handed out carries %q at the provider, want [read]", got)
				}
			})

			t.Run("asking again for the declined scope says it was declined, and a second decline fails again", func(t *testing.T) {
				again := ask("write")
				if again.Status != StatusPending || !slices.Equal(again.DeclinedScopes, []string{"write"}) {
					t.Fatalf("authorize = %+v; want pending naming [write] as declined before", again)
				}
				if res := r.consent(again); res.Status != store.FlowFailed || res.Kind != "scope_not_granted" {
					t.Fatalf("second decline: callback %+v; want failed scope_not_granted again", res)
				}
			})

			t.Run("granting it at last completes and clears the declined scopes", func(t *testing.T) {
				r.idp.DeclineScopes()
				last := ask("write")
				if res := r.consent(last); res.Status != store.FlowCompleted {
					t.Fatalf("callback = %+v; want completed", res)
				}
				conn, err := r.st.GetConnection(ctx, store.ConnectionID("hooli", "ada"))
				if err != nil {
					t.Fatal(err)
				}
				if !covers(conn.Scopes, []string{"read", "write"}) || len(conn.DeclinedScopes) != 0 {
					t.Fatalf("connection scopes %q declined %q; want read and write, none declined", conn.Scopes, conn.DeclinedScopes)
				}
				mustComplete(t, "authorize for both", ask("read", "write"), nil)
			})
		})
	}
}
