package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/providertest"
)

// idTokenHarness is an engine with one provider, "hooli", whose user info
// is the id_token's claims, at an OpenID Connect stand-in configured by
// oidc and knob.
func idTokenHarness(t *testing.T, oidc providertest.OIDC, knob func(*providertest.Options)) (*harness, *providertest.Provider) {
	t.Helper()
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		o := providertest.Options{
			RedirectURI: redirect, RequirePKCE: true, AccessTokenTTL: time.Hour, Now: h.clock.Now, OIDC: &oidc,
			UserInfo: map[string]any{"sub": "u-42", "email": "ada@example.com", "name": "Ada"},
		}
		if knob != nil {
			knob(&o)
		}
		idp = providertest.New(t, o)
		return []config.Provider{idp.IDTokenConfig("hooli")}
	}})
	return h, idp
}

// TestIDTokenClaimsAsUserInfo: the authorize request carries a nonce,
// fresh per authorization; the connection's user info is the verified
// id_token's claims, without those about the token; the user-info
// endpoint is never asked.
func TestIDTokenClaimsAsUserInfo(t *testing.T) {
	h, idp := idTokenHarness(t, providertest.OIDC{}, nil)
	var nonces []string
	for _, user := range []string{"ada", "bob"} {
		start := h.authorize(user, "hooli")
		u, err := url.Parse(start.URL)
		if err != nil {
			t.Fatal(err)
		}
		n := u.Query().Get("nonce")
		if len(n) < 22 {
			t.Fatalf("authorize URL nonce %q, want a random one", n)
		}
		nonces = append(nonces, n)
		if !strings.Contains(" "+u.Query().Get("scope")+" ", " openid ") {
			t.Errorf("authorize URL scope %q lacks openid", u.Query().Get("scope"))
		}
		done := h.connect(idp, user, "hooli")
		info := done.Context.UserInfo
		if info["sub"] != "u-42" || info["email"] != "ada@example.com" || info["name"] != "Ada" || info["iss"] != idp.Issuer() {
			t.Errorf("user_info = %v, want the id_token's claims", info)
		}
		for _, k := range []string{"aud", "exp", "iat", "nonce"} {
			if _, ok := info[k]; ok {
				t.Errorf("user_info carries the token claim %s", k)
			}
		}
	}
	if nonces[0] == nonces[1] {
		t.Error("two authorizations sent the same nonce")
	}
	if n := idp.Counts().UserInfo; n != 0 {
		t.Errorf("the user-info endpoint was asked %d times", n)
	}
	if v := idp.Violations(); len(v) > 0 {
		t.Fatalf("stand-in violations: %v", v)
	}
}

// TestIDTokenRefusedFailsTheFlow: an id_token with a bad signature, for
// another client, repeating another nonce or expired, or none at all,
// ends the flow failed with reason_name id_token_invalid and a reason
// naming the failed check, never the token, and stores no connection.
func TestIDTokenRefusedFailsTheFlow(t *testing.T) {
	for _, tc := range []struct {
		name string
		oidc providertest.OIDC
		knob func(*providertest.Options)
		want string
	}{
		{"bad signature", providertest.OIDC{ForeignKey: true}, nil, "signature"},
		{"wrong audience", providertest.OIDC{Audience: "someone-else"}, nil, "audience"},
		{"wrong nonce", providertest.OIDC{Nonce: "a-nonce-from-another-authorization"}, nil, "nonce is not the one"},
		{"expired", providertest.OIDC{Expired: true}, nil, "expired"},
		{"no id_token", providertest.OIDC{}, nil, "carries no id_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, idp := idTokenHarness(t, tc.oidc, tc.knob)
			if tc.name == "no id_token" {
				idp.DeclineScopes("openid")
			}
			start := h.authorize("ada", "hooli")
			cb, err := idp.Consent(context.Background(), start.URL)
			if err != nil {
				t.Fatal(err)
			}
			if code, page, _ := h.browse(cb); code != http.StatusBadRequest || !strings.Contains(page, "hooli was not connected") {
				t.Fatalf("callback: HTTP %d %q, want the failure page", code, page)
			}
			var done authResp
			if code := h.do("GET", "/v1/auth/status?id="+url.QueryEscape(start.ID), nil, &done); code != http.StatusOK ||
				done.Status != "failed" || done.ReasonName != "id_token_invalid" || !strings.Contains(done.Reason, tc.want) {
				t.Fatalf("status: HTTP %d %s %s %q; want failed id_token_invalid naming %q", code, done.Status, done.ReasonName, done.Reason, tc.want)
			}
			if strings.Contains(done.Reason, "eyJ") || strings.Contains(h.logs.String(), "eyJ") {
				t.Error("the reason or the log carries the id_token")
			}
			if n := h.connections(); n != 0 {
				t.Errorf("%d connections stored", n)
			}
		})
	}
}
