package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/providertest"
)

// tenantHosts is a transport that reaches the stand-in under any name
// ending in .tenants.test (as DNS would for a provider with one host per
// tenant) and records the host each request was sent to.
type tenantHosts struct {
	mu    sync.Mutex
	hosts []string
	base  *http.Transport
}

func newTenantHosts(standIn string) *tenantHosts {
	u, _ := url.Parse(standIn)
	th := &tenantHosts{}
	var d net.Dialer
	th.base = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, _ := net.SplitHostPort(addr); strings.HasSuffix(host, ".tenants.test") {
			addr = u.Host
		}
		return d.DialContext(ctx, network, addr)
	}}
	return th
}

func (th *tenantHosts) RoundTrip(r *http.Request) (*http.Response, error) {
	th.mu.Lock()
	entry := r.URL.Path + "@" + r.URL.Hostname()
	if r.URL.RawQuery != "" {
		entry = r.URL.Path + "?" + r.URL.RawQuery + "@" + r.URL.Hostname()
	}
	th.hosts = append(th.hosts, entry)
	th.mu.Unlock()
	return th.base.RoundTrip(r)
}

func (th *tenantHosts) seen() []string {
	th.mu.Lock()
	defer th.mu.Unlock()
	out := th.hosts
	th.hosts = nil
	return out
}

// tenantProvider is the stand-in's configuration with every endpoint's
// host replaced by template (such as "http://<<connection.tenant>>.tenants.test:PORT").
func tenantProvider(idp *providertest.Provider, template string, vars map[string]config.ConnectionVariable) config.Provider {
	pc := idp.Config("tenanted")
	pc.OAuth2.RevocationRequest = idp.RevocationRequest()
	pc.OAuth2.UserInfoRequest.Triggers.OnTokenRefresh = true
	for _, r := range []*config.Request{pc.OAuth2.AuthorizeRequest, pc.OAuth2.TokenRequest, pc.OAuth2.RefreshTokenRequest, pc.OAuth2.UserInfoRequest, pc.OAuth2.RevocationRequest} {
		r.Endpoint = strings.Replace(r.Endpoint, idp.URL(), template, 1)
	}
	pc.OAuth2.ConnectionVariables = vars
	return pc
}

type variablesRig struct {
	t     *testing.T
	clock *enginetest.Clock
	idp   *providertest.Provider
	st    store.Store
	eng   *Engine
}

func newVariablesRig(t *testing.T, allowPrivate bool, resolver netResolver, transport http.RoundTripper, template string, vars map[string]config.ConnectionVariable) *variablesRig {
	t.Helper()
	r := &variablesRig{t: t, clock: &enginetest.Clock{}}
	r.idp = providertest.New(t, providertest.Options{RedirectURI: redirect, RotateRefreshTokens: true, AccessTokenTTL: time.Hour, Now: r.clock.Now})
	if template == "" {
		template = r.idp.URL()
	}
	p, err := authflow.Compile(tenantProvider(r.idp, template, vars), redirect)
	if err != nil {
		t.Fatal(err)
	}
	r.st = enginetest.BoltStore(t, r.clock.Now)
	if transport == nil {
		transport = &http.Transport{}
	}
	opts := Options{
		Providers:             map[string]*authflow.Provider{"tenanted": p},
		Store:                 r.st,
		Sealer:                enginetest.Sealer(t),
		HTTPClient:            &http.Client{Transport: transport},
		PublicURL:             "https://engine.example.com",
		AllowPrivateEndpoints: allowPrivate,
		Logger:                slog.New(slog.DiscardHandler),
		Now:                   r.clock.Now,
	}
	if resolver != nil {
		opts.Resolver = resolver
	}
	r.eng = startEngine(t, opts)
	return r
}

func (r *variablesRig) authorize(user string, vars map[string]string) (Authorization, error) {
	return r.eng.Authorize(context.Background(), AuthorizeRequest{UserID: user, ProviderID: "tenanted", ConnectionVariables: vars})
}

// consent visits the authorize URL as the user's browser would, reaching
// the stand-in whatever host the URL names, and runs the callback.
func (r *variablesRig) consent(a Authorization) CallbackResult {
	r.t.Helper()
	u, err := url.Parse(a.URL)
	if err != nil || a.Status != StatusPending {
		r.t.Fatalf("authorization %+v is not pending with a URL", a)
	}
	standIn, _ := url.Parse(r.idp.URL())
	u.Host = standIn.Host
	cb, err := r.idp.Consent(context.Background(), u.String())
	if err != nil {
		r.t.Fatal(err)
	}
	q, _ := url.Parse(cb)
	res, err := r.eng.Callback(context.Background(), CallbackQuery{State: q.Query().Get("state"), Code: q.Query().Get("code"), Params: q.Query()})
	if err != nil {
		r.t.Fatalf("callback: %v", err)
	}
	return res
}

type netResolver = interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// fixedResolver answers from a table, for the check made when a flow
// starts.
type fixedResolver map[string]string

func (f fixedResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, errors.New("no such host")
}

func wantRequestError(t *testing.T, what string, err error, name string, status int, mentions ...string) {
	t.Helper()
	var re *RequestError
	if !errors.As(err, &re) || re.Name != name || re.HTTPStatus() != status {
		t.Fatalf("%s: err = %v, want %d %s", what, err, status, name)
	}
	for _, m := range mentions {
		if !strings.Contains(re.Message, m) {
			t.Errorf("%s: message %q does not mention %q", what, re.Message, m)
		}
	}
}

// TestConnectionVariablesEndToEnd: a provider whose host is the tenant an
// app names gets every request (authorize, code exchange, user info,
// refresh, revocation) at that tenant's host; a value outside the pattern
// is refused naming the variable and the pattern; the variables are kept
// with the connection, reused when the app leaves them out, and never
// changed by a later authorization.
func TestConnectionVariablesEndToEnd(t *testing.T) {
	var th *tenantHosts
	vars := map[string]config.ConnectionVariable{"tenant": {Pattern: "[a-z][a-z0-9-]{0,30}", Example: "acme", Description: "the tenant's name"}}
	// The stand-in's port is known once it runs: the rig starts with the
	// stand-in's own endpoints, then gets the tenanted provider.
	r := newVariablesRig(t, true, nil, roundTripperFunc(func(req *http.Request) (*http.Response, error) { return th.RoundTrip(req) }), "", vars)
	u, _ := url.Parse(r.idp.URL())
	idpPort := u.Port()
	th = newTenantHosts(r.idp.URL())
	p, err := authflow.Compile(tenantProvider(r.idp, "http://<<connection.tenant>>.tenants.test:"+idpPort, vars), redirect)
	if err != nil {
		t.Fatal(err)
	}
	r.eng.SetProviders(map[string]*authflow.Provider{"tenanted": p}, nil, nil)

	_, err = r.authorize("ada", nil)
	wantRequestError(t, "no variables", err, "invalid_connection_variable", 400, `"tenant"`, "is required", "[a-z][a-z0-9-]{0,30}", "the tenant's name")
	_, err = r.authorize("ada", map[string]string{"tenant": "Acme.evil.example/x"})
	wantRequestError(t, "a value outside the pattern", err, "invalid_connection_variable", 400, `"tenant"`, "does not match the pattern [a-z][a-z0-9-]{0,30}")
	_, err = r.authorize("ada", map[string]string{"tenant": "acme", "region": "eu"})
	wantRequestError(t, "an unknown variable", err, "invalid_connection_variable", 400, `"region"`, "takes tenant")
	if n := r.idp.Counts().Authorize; n != 0 {
		t.Fatalf("refused requests reached the provider: %d", n)
	}

	start, err := r.authorize("ada", map[string]string{"tenant": "acme"})
	if err != nil || !strings.HasPrefix(start.URL, "http://acme.tenants.test:"+idpPort+"/authorize?") {
		t.Fatalf("authorize: %+v, %v", start, err)
	}
	if res := r.consent(start); res.Status != store.FlowCompleted {
		t.Fatalf("callback: %+v", res)
	}
	if got := strings.Join(th.seen(), " "); got != "/token@acme.tenants.test /userinfo@acme.tenants.test" {
		t.Fatalf("grant requests went to %s", got)
	}
	id := store.ConnectionID("tenanted", "ada")
	conn, err := r.st.GetConnection(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := r.eng.openToken(conn)
	if err != nil || ts.Variables["tenant"] != "acme" || len(ts.Variables) != 1 {
		t.Fatalf("stored variables = %v, %v", ts.Variables, err)
	}
	if strings.Contains(string(conn.Sealed), "acme") {
		t.Error("the variables are stored in the clear")
	}

	// Left out, the connection's variables are reused; the same values
	// are accepted; others are refused and change nothing.
	a, err := r.authorize("ada", nil)
	mustComplete(t, "authorize without variables", a, err)
	a, err = r.authorize("ada", map[string]string{"tenant": "acme"})
	mustComplete(t, "authorize with the same variables", a, err)
	_, err = r.authorize("ada", map[string]string{"tenant": "globex"})
	wantRequestError(t, "other variables", err, "connection_variables_conflict", 409, "tenant", "disconnect")

	// A refresh (and the user info after it) goes to the tenant's host.
	r.clock.Advance(2 * time.Hour)
	a, err = r.authorize("ada", nil)
	mustComplete(t, "authorize after expiry", a, err)
	if got := strings.Join(th.seen(), " "); got != "/token@acme.tenants.test /userinfo@acme.tenants.test" {
		t.Fatalf("refresh requests went to %s", got)
	}
	if n := r.idp.Counts().Refreshes; n != 1 {
		t.Fatalf("refreshes = %d", n)
	}
	// Scopes the connection lacks: a new flow for the same tenant.
	more, err := r.eng.Authorize(context.Background(), AuthorizeRequest{UserID: "ada", ProviderID: "tenanted", Scopes: []string{"write"}})
	if err != nil || !strings.HasPrefix(more.URL, "http://acme.tenants.test:") {
		t.Fatalf("authorize for more scopes: %+v, %v", more, err)
	}

	// Revocation at disconnect goes there too.
	if err := r.eng.Disconnect(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(th.seen(), " "); got != "/revoke@acme.tenants.test" || r.idp.Counts().Revocations != 1 {
		t.Fatalf("revocation went to %s (%d revocations)", got, r.idp.Counts().Revocations)
	}
	if v := r.idp.Violations(); len(v) != 0 {
		t.Errorf("stand-in violations: %v", v)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestConnectionVariablesCannotReachPrivateAddresses: a variable that
// decides an endpoint's host is refused when the host is, or resolves to,
// a loopback, private or link-local address, in every notation, before
// any flow is stored, naming the address's class but not the address a
// name resolved to; security.allow_private_endpoints lifts it.
func TestConnectionVariablesCannotReachPrivateAddresses(t *testing.T) {
	vars := map[string]config.ConnectionVariable{"base": {Pattern: `https?://[A-Za-z0-9.:\[\]-]+`, Example: "https://id.acme.example"}}
	resolver := fixedResolver{"internal.tenants.test": "10.1.2.3", "metadata.tenants.test": "169.254.169.254"}
	r := newVariablesRig(t, false, resolver, nil, "<<connection.base>>", vars)
	for value, class := range map[string]string{
		"http://127.0.0.1:8080":           "loopback",
		"http://169.254.169.254":          "link-local",
		"http://[::1]:9099":               "loopback",
		"http://2130706433":               "loopback",
		"http://[::ffff:127.0.0.1]":       "loopback",
		"http://10.0.0.8":                 "private",
		"https://internal.tenants.test":   "private",
		"https://metadata.tenants.test":   "link-local",
		"http://0x7f000001":               "loopback",
		"https://[fd00:ec2::254]":         "private",
		"http://localhost.tenants.test.":  "", // does not resolve: left to the dial-time guard
		"https://public.tenants.test:443": "",
	} {
		_, err := r.authorize("ada", map[string]string{"base": value})
		if class == "" {
			if err != nil {
				t.Errorf("%s: %v", value, err)
			}
			continue
		}
		wantRequestError(t, value, err, "invalid_connection_variable", 400, "connection variable base", class, "security.allow_private_endpoints")
		// A name's address is the engine's resolver's answer: never told.
		for _, addr := range resolver {
			if strings.Contains(err.Error(), addr) && !strings.Contains(value, addr) {
				t.Errorf("%s: the answer tells the address the name resolved to: %v", value, err)
			}
		}
	}
	if n := r.idp.Counts().Authorize; n != 0 {
		t.Fatalf("the provider saw %d authorizations", n)
	}
	// Through the system resolver, localhost is loopback.
	system := newVariablesRig(t, false, nil, nil, "<<connection.base>>", vars)
	_, err := system.authorize("bob", map[string]string{"base": "http://localhost:9"})
	wantRequestError(t, "localhost", err, "invalid_connection_variable", 400, "loopback")

	allowed := newVariablesRig(t, true, resolver, nil, "<<connection.base>>", vars)
	if a, err := allowed.authorize("ada", map[string]string{"base": "http://127.0.0.1:8080"}); err != nil || a.Status != StatusPending {
		t.Fatalf("with allow_private_endpoints: %+v, %v", a, err)
	}
}

// TestConnectionVariablesAreGuardedWhenConnecting: a name that resolved to
// a public address when the flow started and to a loopback one when the
// engine connects (DNS rebinding) is refused by the dialer: the code never
// reaches the provider and the flow fails. With private endpoints allowed
// the same flow completes, so the refusal is the guard's.
func TestConnectionVariablesAreGuardedWhenConnecting(t *testing.T) {
	vars := map[string]config.ConnectionVariable{"base": {Pattern: `https?://[A-Za-z0-9.:-]+`, Example: "https://id.acme.example"}}
	for _, allow := range []bool{false, true} {
		// The check when the flow starts sees a public address; the
		// dialer resolves localhost with the system resolver.
		r := newVariablesRig(t, allow, fixedResolver{"localhost": "93.184.216.34"}, nil, "<<connection.base>>", vars)
		u, _ := url.Parse(r.idp.URL())
		start, err := r.authorize("ada", map[string]string{"base": "http://localhost:" + u.Port()})
		if err != nil {
			t.Fatalf("allow=%v: authorize: %v", allow, err)
		}
		res := r.consent(start)
		if allow {
			if res.Status != store.FlowCompleted {
				t.Fatalf("with private endpoints allowed: %+v", res)
			}
			continue
		}
		if res.Status != store.FlowFailed || res.Kind != "token_exchange" {
			t.Fatalf("callback: %+v, want failed token_exchange", res)
		}
		// The app learns the address's class, never what the engine's
		// resolver answered.
		if strings.Contains(res.Reason, "127.0.0.1") || strings.Contains(res.Reason, "::1") || !strings.Contains(res.Reason, "loopback") {
			t.Fatalf("failure reason %q: want the address's class without the address", res.Reason)
		}
		if n := r.idp.Counts().CodeExchanges; n != 0 {
			t.Fatalf("the code reached the provider %d times", n)
		}
	}
}

// TestRuntimeTenantProviderTakesConnectionVariables: a provider added
// through the admin API from a tenant template (its host a connection
// variable) is accepted, and the values apps give are held to the same
// pattern and private-address checks.
func TestRuntimeTenantProviderTakesConnectionVariables(t *testing.T) {
	r := newVariablesRig(t, false, fixedResolver{"id.acme.example": "93.184.216.34"}, nil, "", nil)
	ctx := context.Background()
	if _, err := r.eng.CreateProvider(ctx, map[string]any{"id": "kc", "provider_id": "keycloak", "client_id": "i", "client_secret": "s"}); err != nil {
		t.Fatalf("CreateProvider: %v", err)
	}
	authorize := func(vars map[string]string) (Authorization, error) {
		return r.eng.Authorize(ctx, AuthorizeRequest{UserID: "ada", ProviderID: "kc", ConnectionVariables: vars})
	}
	_, err := authorize(map[string]string{"url": "https://id.acme.example"})
	wantRequestError(t, "realm missing", err, "invalid_connection_variable", 400, `"realm"`, "is required")
	_, err = authorize(map[string]string{"url": "https://id.acme.example/", "realm": "acme"})
	wantRequestError(t, "trailing slash", err, "invalid_connection_variable", 400, `"url"`, "does not match the pattern")
	for _, private := range []string{"https://127.0.0.1", "https://2130706433", "https://169.254.169.254"} {
		_, err = authorize(map[string]string{"url": private, "realm": "acme"})
		wantRequestError(t, private, err, "invalid_connection_variable", 400, "connection variable url", "security.allow_private_endpoints")
	}
	a, err := authorize(map[string]string{"url": "https://id.acme.example", "realm": "acme"})
	if err != nil || !strings.HasPrefix(a.URL, "https://id.acme.example/realms/acme/protocol/openid-connect/auth?") {
		t.Fatalf("authorize: %+v, %v", a, err)
	}
}

// TestMetadataPlaceholdersReachTheInstance: token metadata (Salesforce's
// instance_url from the token response, QuickBooks' realmId from the
// redirect) fills <<metadata.NAME>> in the user info and revocation
// requests, at grant and after a refresh that does not answer them again.
func TestMetadataPlaceholdersReachTheInstance(t *testing.T) {
	clock := &enginetest.Clock{}
	// Any *.tenants.test host reaches the stand-in (tenantHosts).
	idp := providertest.New(t, providertest.Options{RedirectURI: redirect, RotateRefreshTokens: true, AccessTokenTTL: time.Hour, Now: clock.Now,
		RedirectParams: map[string]string{"realmId": "4620816365"}, GrantFields: map[string]any{"instance_url": "http://na42.tenants.test"}})
	th := newTenantHosts(idp.URL())
	pc := idp.Config("instanced")
	pc.OAuth2.TokenRequest.ResponseMap = map[string]string{"access_token": "$.access_token", "refresh_token": "$.refresh_token", "expires_in": "$.expires_in",
		"scope": "$.scope", "token_type": "$.token_type", "instance_url": "$.instance_url"}
	pc.OAuth2.RedirectMetadata = []string{"realmId"}
	pc.OAuth2.UserInfoRequest.Endpoint = "<<metadata.instance_url>>/userinfo"
	pc.OAuth2.UserInfoRequest.Params = map[string]string{"realm": "<<metadata.realmId>>"}
	pc.OAuth2.UserInfoRequest.Triggers.OnTokenRefresh = true
	pc.OAuth2.RevocationRequest = idp.RevocationRequest()
	pc.OAuth2.RevocationRequest.Endpoint = "<<metadata.instance_url>>/revoke"
	p, err := authflow.Compile(pc, redirect)
	if err != nil {
		t.Fatal(err)
	}
	if !p.RemoteHosts() {
		t.Fatal("an endpoint built from metadata is not sent through the guarded client")
	}
	eng := startEngine(t, Options{
		Providers: map[string]*authflow.Provider{"instanced": p}, Store: enginetest.BoltStore(t, clock.Now), Sealer: enginetest.Sealer(t),
		HTTPClient: &http.Client{Transport: th}, PublicURL: "https://engine.example.com", AllowPrivateEndpoints: true,
		Logger: slog.New(slog.DiscardHandler), Now: clock.Now,
	})
	r := &variablesRig{t: t, clock: clock, idp: idp, eng: eng}
	ctx := context.Background()
	start, err := eng.Authorize(ctx, AuthorizeRequest{UserID: "ada", ProviderID: "instanced"})
	if err != nil {
		t.Fatal(err)
	}
	if res := r.consent(start); res.Status != store.FlowCompleted {
		t.Fatalf("callback: %+v", res)
	}
	if got := strings.Join(th.seen(), " "); !strings.HasSuffix(got, "/userinfo?realm=4620816365@na42.tenants.test") {
		t.Fatalf("grant requests: %s", got)
	}
	clock.Advance(2 * time.Hour)
	a, err := eng.Authorize(ctx, AuthorizeRequest{UserID: "ada", ProviderID: "instanced"})
	mustComplete(t, "authorize after expiry", a, err)
	if a.Metadata["instance_url"] != "http://na42.tenants.test" || a.Metadata["realmId"] != "4620816365" {
		t.Fatalf("metadata after the refresh = %v", a.Metadata)
	}
	if got := strings.Join(th.seen(), " "); !strings.HasSuffix(got, "/userinfo?realm=4620816365@na42.tenants.test") {
		t.Fatalf("refresh requests: %s", got)
	}
	if err := eng.Disconnect(ctx, store.ConnectionID("instanced", "ada")); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(th.seen(), " "); got != "/revoke@na42.tenants.test" || idp.Counts().Revocations != 1 {
		t.Fatalf("revocation: %s", got)
	}
	if v := idp.Violations(); len(v) != 0 {
		t.Errorf("stand-in violations: %v", v)
	}
}
