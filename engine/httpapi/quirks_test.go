package httpapi_test

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/config/catalog"
	"github.com/authengine/authengine/internal/providertest"
)

// familyKnobs sets the stand-in's behaviour for each quirk family of
// catalog.Families; the template's own traits (client authentication,
// PKCE, scope delimiter, JSON bodies) are set from the template itself, so
// the strict stand-in demands exactly what the template sends.
var familyKnobs = map[string]func(o *providertest.Options){
	"nested-token": func(o *providertest.Options) {
		o.RotateRefreshTokens = true
		o.Quirks.NestUnder, o.Quirks.NestOnlyCodeExchange, o.Quirks.ErrorsWith200 = "authed_user", true, true
	},
	"comma-scopes":            func(o *providertest.Options) {},
	"form-encoded-response":   func(o *providertest.Options) { o.Quirks.FormEncoded = true },
	"json-request-body":       func(o *providertest.Options) {},
	"basic-only-client-auth":  func(o *providertest.Options) {},
	"rotating-refresh-tokens": func(o *providertest.Options) { o.RotateRefreshTokens = true },
	"no-refresh-long-lived":   func(o *providertest.Options) { o.NoRefreshTokens, o.AccessTokenTTL = true, 0 },
	"string-expires-in":       func(o *providertest.Options) { o.Quirks.StringExpiresIn = true },
	"extra-authorize-params":  func(o *providertest.Options) {},
	"pkce-required":           func(o *providertest.Options) {},
	"id-token-claims":         func(o *providertest.Options) { o.OIDC = &providertest.OIDC{} },
	"captured-metadata": func(o *providertest.Options) {
		o.RedirectParams = map[string]string{"realmId": "9130-3571"}
		o.GrantFields = map[string]any{"instance_url": "https://acme.my.salesforce.com"}
	},
}

// standInFor is the strict stand-in's configuration for template p: it
// demands the template's client authentication, PKCE, scope delimiter and
// request body type.
func standInFor(p config.Provider, redirect string, now func() time.Time) providertest.Options {
	o := providertest.Options{
		RedirectURI: redirect, AccessTokenTTL: time.Hour, Now: now,
		ClientAuth:  p.OAuth2.TokenRequest.AuthMethod,
		RequirePKCE: p.OAuth2.PKCE.Enabled,
		UserInfo:    map[string]any{"sub": "u-42", "email": "ada@example.com"},
	}
	o.Quirks.ScopeDelimiter = p.OAuth2.ScopeDelimiter
	_, sendsType := p.OAuth2.AuthorizeRequest.Params["response_type"]
	o.Quirks.NoResponseType = !sendsType
	o.Quirks.JSONRequestBody = p.OAuth2.TokenRequest.RequestContentType == config.ContentTypeJSON
	return o
}

// pointAt keeps everything of template p but its endpoints, which it
// points at the stand-in, and its client credentials.
func pointAt(p config.Provider, idp *providertest.Provider) config.Provider {
	p.ClientID, p.ClientSecret = idp.ClientID(), idp.ClientSecret()
	o := &p.OAuth2
	for r, endpoint := range map[*config.Request]string{
		o.AuthorizeRequest: idp.AuthorizeEndpoint(), o.TokenRequest: idp.TokenEndpoint(),
		o.RefreshTokenRequest: idp.TokenEndpoint(), o.UserInfoRequest: idp.UserInfoEndpoint(),
		o.RevocationRequest: idp.RevocationEndpoint(),
	} {
		if r != nil {
			r.Endpoint = endpoint
		}
	}
	if o.Issuer != "" {
		o.Issuer = idp.Issuer()
	}
	return p
}

// TestQuirkFamiliesEndToEnd runs, for every quirk family of the catalog,
// each catalog template carrying it through the engine's HTTP API against
// the strict stand-in reproducing the quirk: authorize, consent, callback,
// token (and user info), then, when the template refreshes, expiry and a
// refresh (two for rotating refresh tokens, so a reused rotated token
// would show as a replay).
func TestQuirkFamiliesEndToEnd(t *testing.T) {
	if len(familyKnobs) != len(catalog.Families) {
		t.Fatalf("%d families have a stand-in knob, catalog.Families has %d", len(familyKnobs), len(catalog.Families))
	}
	for _, fam := range catalog.Families {
		knob, ok := familyKnobs[fam.Key]
		if !ok {
			t.Fatalf("family %s has no stand-in knob", fam.Key)
		}
		t.Run(fam.Key, func(t *testing.T) {
			for _, id := range fam.Entries {
				t.Run(id, func(t *testing.T) { runCatalogEntry(t, fam.Key, id, knob) })
			}
		})
	}
}

func runCatalogEntry(t *testing.T, family, id string, knob func(*providertest.Options)) {
	tmpl, err := config.CatalogProvider(id)
	if err != nil {
		t.Fatal(err)
	}
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		o := standInFor(tmpl, redirect, h.clock.Now)
		knob(&o)
		idp = providertest.New(t, o)
		return []config.Provider{pointAt(tmpl, idp)}
	}})

	start := h.authorize("ada", id)
	if start.Status != "pending" {
		t.Fatalf("authorize: %+v", start)
	}
	checkAuthorizeURL(t, family, tmpl, start.URL)
	done := h.connect(idp, "ada", id)
	first := done.Token()
	if !idp.ValidAccessToken(first) {
		t.Fatal("the engine returned a token the provider did not issue")
	}
	checkIDTokenClaims(t, family, idp, done)
	if tmpl.OAuth2.UserInfoRequest != nil && tmpl.OAuth2.UserInfoRequest.ResponseMap == nil {
		if done.Context.UserInfo["email"] != "ada@example.com" {
			t.Errorf("user_info = %v, want the provider's", done.Context.UserInfo)
		}
	}

	refreshes := 1
	switch {
	case family == "no-refresh-long-lived":
		h.clock.Advance(30 * 24 * time.Hour)
		again := h.authorize("ada", id)
		if again.Status != "completed" || again.Token() != first || idp.Counts().Refreshes != 0 {
			t.Fatalf("a month later: %s, same token %v, %d refreshes; want the stored token and no refresh",
				again.Status, again.Token() == first, idp.Counts().Refreshes)
		}
		return
	case tmpl.OAuth2.RefreshTokenRequest == nil:
		return
	case family == "rotating-refresh-tokens" || family == "nested-token":
		refreshes = 2
	}
	checkMetadata(t, family, tmpl, done)
	prev := first
	for i := 1; i <= refreshes; i++ {
		h.clock.Advance(2 * time.Hour)
		if family == "id-token-claims" {
			idp.SetIDTokenClaims(map[string]any{"email": fmt.Sprintf("ada+%d@example.com", i)})
		}
		again := h.authorize("ada", id)
		checkMetadata(t, family, tmpl, again)
		if family == "id-token-claims" && again.Context.UserInfo["email"] != fmt.Sprintf("ada+%d@example.com", i) {
			t.Errorf("refresh %d: user_info = %v, want the refreshed id_token's claims", i, again.Context.UserInfo)
		}
		if again.Status != "completed" || again.Token() == prev || !idp.ValidAccessToken(again.Token()) {
			t.Fatalf("refresh %d: status %s, new valid token %v", i, again.Status, again.Token() != prev && idp.ValidAccessToken(again.Token()))
		}
		prev = again.Token()
	}
	if c := idp.Counts(); c.Refreshes != refreshes || c.Replays != 0 {
		t.Fatalf("provider saw %d refreshes and %d replays, want %d and none", c.Refreshes, c.Replays, refreshes)
	}
}

// checkAuthorizeURL checks the authorize URL carries every literal
// parameter of the template (access_type=offline, prompt=consent,
// audience, ...) and, for PKCE templates, an S256 challenge.
func checkAuthorizeURL(t *testing.T, family string, tmpl config.Provider, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	literal := map[string]string{}
	for k, v := range tmpl.OAuth2.AuthorizeRequest.Params {
		if !strings.Contains(v, "<<") && v != "" {
			literal[k] = v
		}
	}
	got := map[string]string{}
	for k := range literal {
		got[k] = q.Get(k)
	}
	if !reflect.DeepEqual(got, literal) {
		t.Errorf("authorize URL params %v, want the template's %v", got, literal)
	}
	if family == "extra-authorize-params" && len(literal) < 2 {
		t.Errorf("template has only %v as extra params", literal)
	}
	if tmpl.OAuth2.PKCE.Enabled && q.Get("code_challenge_method") != "S256" {
		t.Errorf("PKCE template: code_challenge_method %q", q.Get("code_challenge_method"))
	}
}

// checkIDTokenClaims checks, for the id-token-claims family, that the
// user info is the verified id_token's claims (the stand-in's user, no
// claim about the token itself) and that the user-info endpoint was
// never asked.
func checkIDTokenClaims(t *testing.T, family string, idp *providertest.Provider, a authResp) {
	t.Helper()
	if family != "id-token-claims" {
		return
	}
	info := a.Context.UserInfo
	if info["sub"] != "u-42" || info["email"] != "ada@example.com" || info["iss"] != idp.Issuer() {
		t.Errorf("user_info = %v, want the id_token's claims", info)
	}
	for _, k := range []string{"aud", "exp", "iat", "nonce"} {
		if _, ok := info[k]; ok {
			t.Errorf("user_info carries the token claim %s: %v", k, info)
		}
	}
	if n := idp.Counts().UserInfo; n != 0 {
		t.Errorf("the user-info endpoint was asked %d times", n)
	}
}

// checkMetadata checks, for the captured-metadata family, that the
// authorization context carries the redirect parameters the template
// keeps and the token response's instance_url when its map reads it.
func checkMetadata(t *testing.T, family string, tmpl config.Provider, a authResp) {
	t.Helper()
	if family != "captured-metadata" {
		return
	}
	want := map[string]any{}
	for _, name := range tmpl.OAuth2.RedirectMetadata {
		want[name] = "9130-3571"
	}
	if _, ok := tmpl.OAuth2.TokenRequest.ResponseMap["instance_url"]; ok {
		want["instance_url"] = "https://acme.my.salesforce.com"
	}
	if len(want) == 0 {
		t.Fatal("the template keeps no metadata")
	}
	for k, v := range want {
		if a.Context == nil || a.Context.Metadata[k] != v {
			t.Errorf("context metadata %s = %v, want %v", k, a.Context.Metadata[k], v)
		}
	}
}

// TestSalesforceUserInfoAtInstanceURL: the salesforce template asks the
// user info of the org's own host, the instance_url of the token response
// (<<metadata.instance_url>>), not of the login host.
func TestSalesforceUserInfoAtInstanceURL(t *testing.T) {
	tmpl, err := config.CatalogProvider("salesforce")
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpl.OAuth2.UserInfoRequest.Endpoint; got != "<<metadata.instance_url>>/services/oauth2/userinfo" {
		t.Fatalf("salesforce user_info_request.endpoint = %q", got)
	}
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, standInFor(tmpl, redirect, h.clock.Now))
		// The org's host is the stand-in; the login host is not asked
		// for user info.
		idp.SetGrantFields(map[string]any{"instance_url": idp.URL()})
		p := pointAt(tmpl, idp)
		ui := *p.OAuth2.UserInfoRequest
		ui.Endpoint = tmpl.OAuth2.UserInfoRequest.Endpoint
		p.OAuth2.UserInfoRequest = &ui
		return []config.Provider{p}
	}})
	done := h.connect(idp, "ada", "salesforce")
	if done.Context.Metadata["instance_url"] != idp.URL() || done.Context.UserInfo["email"] != "ada@example.com" {
		t.Fatalf("context = %+v, want the instance_url and the user info asked of it", done.Context)
	}
	if n := idp.Counts().UserInfo; n != 1 {
		t.Errorf("the org's user-info endpoint was asked %d times, want 1", n)
	}
	if v := idp.Violations(); len(v) > 0 {
		t.Fatalf("stand-in violations: %v", v)
	}
}
