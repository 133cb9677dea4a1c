package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/internal/enginetest"
)

// thief is an attacker's server: it records every request it receives
// (method, headers, body) and answers with a forged token.
type thief struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newThief(t *testing.T) *thief {
	th := &thief{}
	th.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b strings.Builder
		b.WriteString(r.Method + " " + r.URL.String() + "\n")
		for k, v := range r.Header {
			b.WriteString(k + ": " + strings.Join(v, ",") + "\n")
		}
		if user, pass, ok := r.BasicAuth(); ok {
			b.WriteString("basic credentials: " + user + ":" + pass + "\n")
		}
		b.Write(body)
		th.mu.Lock()
		th.seen = append(th.seen, b.String())
		th.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"forged","token_type":"bearer","expires_in":3600,"email":"x@evil.example"}`)
	}))
	t.Cleanup(th.srv.Close)
	return th
}

func (th *thief) requests() []string {
	th.mu.Lock()
	defer th.mu.Unlock()
	return append([]string(nil), th.seen...)
}

// holdsSecret reports whether text carries secret, plain or form-encoded
// (the thief records HTTP Basic credentials decoded).
func holdsSecret(text, secret string) bool {
	return strings.Contains(text, secret) || strings.Contains(text, url.QueryEscape(secret))
}

// auditLines returns the audit records the engine logged.
func auditLines(t *testing.T, h *harness) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(h.logs.String(), "\n") {
		if !strings.Contains(line, `"audit":true`) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// TestAttack_PatchTokenEndpointExfiltratesSecret: an admin key holder
// PATCHes a runtime provider's endpoints (or auth method, params, template)
// to send the client secret and users' refresh tokens to a server of its
// own. Without client_secret in the same request every such patch is
// refused naming oauth2.client_secret, nothing changes, the next callback
// and refresh go to the real provider, and the attacker's server receives
// nothing. With client_secret re-entered the change is accepted, and
// recorded in the audit log without any secret.
func TestAttack_PatchTokenEndpointExfiltratesSecret(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	idp := newIdP(t, h.redirectURI(), adminSecret)
	evil := newThief(t)
	if code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", adminProvider(idp, "acme")); code != 201 {
		t.Fatalf("create: HTTP %d %s", code, raw)
	}
	first := h.connect(idp, "ada", "acme", "read")

	oauth2 := func(block string, fields map[string]any) map[string]any {
		return map[string]any{"oauth2": map[string]any{block: fields}}
	}
	cases := []struct {
		name, field string
		patch       map[string]any
	}{
		{"moving the token endpoint to another host", "oauth2.token_request.endpoint",
			oauth2("token_request", map[string]any{"endpoint": evil.srv.URL + "/token"})},
		{"moving the refresh endpoint to another host", "oauth2.refresh_request.endpoint",
			oauth2("refresh_request", map[string]any{"endpoint": evil.srv.URL + "/token"})},
		{"moving the user-info endpoint to another host", "oauth2.user_info_request.endpoint",
			oauth2("user_info_request", map[string]any{"endpoint": evil.srv.URL + "/me"})},
		{"moving the authorize endpoint to another host", "oauth2.authorize_request.endpoint",
			oauth2("authorize_request", map[string]any{"endpoint": evil.srv.URL + "/authorize"})},
		{"naming the token endpoint's host differently (localhost for 127.0.0.1)", "oauth2.token_request.endpoint",
			oauth2("token_request", map[string]any{"endpoint": strings.Replace(idp.TokenEndpoint(), "127.0.0.1", "localhost", 1)})},
		{"changing the token request's auth method", "oauth2.token_request.auth_method",
			oauth2("token_request", map[string]any{"auth_method": "client_secret_post"})},
		{"putting the secret into a token param", "oauth2.token_request.params",
			oauth2("token_request", map[string]any{"params": map[string]any{"leak": "<<client_secret>>"}})},
		{"putting the refresh token into a header", "oauth2.refresh_request.headers",
			oauth2("refresh_request", map[string]any{"headers": map[string]any{"X-Leak": "<<refresh_token>>"}})},
		{"sending the user-info request as POST", "oauth2.user_info_request.method",
			oauth2("user_info_request", map[string]any{"method": "POST"})},
		{"basing the provider on a built-in template", "provider_id", map[string]any{"provider_id": "github"}},
	}
	for _, tc := range cases {
		t.Run("it refuses "+tc.name+" without client_secret", func(t *testing.T) {
			var e apiErr
			code := enginetest.Call(t, nil, h.srv.URL, adminKey, "PATCH", "/v1/admin/auth_providers/acme", tc.patch, &e)
			if code != http.StatusBadRequest || e.Name != "invalid_provider" ||
				!strings.Contains(e.Message, "oauth2.client_secret: must be sent again") || !strings.Contains(e.Message, tc.field) {
				t.Fatalf("HTTP %d %+v, want 400 invalid_provider naming oauth2.client_secret and %s", code, e, tc.field)
			}
			_, raw := adminCall(t, h.srv.URL, "GET", "/v1/admin/auth_providers/acme", nil)
			if got := decode[providerObject](t, raw); got.OAuth2.TokenRequest.Endpoint != idp.TokenEndpoint() || got.OAuth2.TokenRequest.AuthMethod != "client_secret_basic" {
				t.Errorf("after a refused patch the provider changed: %s", raw)
			}
		})
	}

	t.Run("the next callback and refresh still go to the real provider", func(t *testing.T) {
		h.connect(idp, "bob", "acme", "read")
		before := idp.Counts().Refreshes
		h.clock.Advance(2 * time.Hour)
		again := h.authorize("ada", "acme", "read")
		if again.Status != "completed" || again.Token() == first.Token() || !idp.ValidAccessToken(again.Token()) || idp.Counts().Refreshes != before+1 {
			t.Fatalf("after expiry: %+v (refreshes %d → %d), want a token refreshed at the real provider", again, before, idp.Counts().Refreshes)
		}
		if got := evil.requests(); len(got) != 0 {
			t.Fatalf("the attacker's server received %d requests", len(got))
		}
	})

	t.Run("with client_secret re-entered the change is accepted and audited", func(t *testing.T) {
		const replaced = "replacement-secret-given-with-the-move-9999"
		patch := map[string]any{"oauth2": map[string]any{
			"client_secret": replaced,
			"token_request": map[string]any{"endpoint": evil.srv.URL + "/token"},
		}}
		code, raw := adminCall(t, h.srv.URL, "PATCH", "/v1/admin/auth_providers/acme", patch)
		if code != 200 {
			t.Fatalf("HTTP %d %s", code, raw)
		}
		// The next callback goes to the new endpoint with the secret that
		// was entered for it, never the old one.
		start := h.authorize("carol", "acme", "read")
		cb, err := idp.Consent(t.Context(), start.URL)
		if err != nil {
			t.Fatal(err)
		}
		h.browse(cb)
		seen := evil.requests()
		if len(seen) == 0 || !holdsSecret(strings.Join(seen, "\n"), replaced) {
			t.Fatalf("the new endpoint saw %q, want the token request with the re-entered secret", seen)
		}
		for _, req := range seen {
			if holdsSecret(req, adminSecret) {
				t.Fatalf("the new endpoint received the old client secret: %s", req)
			}
		}
		var update map[string]any
		for _, rec := range auditLines(t, h) {
			if rec["action"] == "provider.update" && rec["secret_reentered"] == true {
				update = rec
			}
		}
		changed, _ := json.Marshal(update["changed"])
		actor, _ := update["actor"].(string)
		if update == nil || update["target"] != "acme" || !strings.HasPrefix(actor, "admin_key:") || len(actor) != len("admin_key:")+12 ||
			!strings.Contains(string(changed), `"oauth2.token_request.endpoint"`) || !strings.Contains(string(changed), `"client_secret"`) {
			t.Fatalf("audit record %v, want provider.update of acme by an admin key fingerprint naming the endpoint and client_secret", update)
		}
		for _, rec := range auditLines(t, h) {
			line, _ := json.Marshal(rec)
			if holdsSecret(string(line), replaced) || holdsSecret(string(line), adminSecret) || strings.Contains(string(line), adminKey) {
				t.Fatalf("an audit record holds a secret or the admin key: %s", line)
			}
		}
	})
}

// TestAdminChangesAreAudited: every admin-plane change (create, patch,
// delete of a provider; a dropped connection) is one audit record naming
// the action, the target, the admin key's fingerprint and the changed
// fields, and never a value.
func TestAdminChangesAreAudited(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	idp := newIdP(t, h.redirectURI(), adminSecret)
	steps := []struct {
		method, path string
		body         any
		action       string
		target       string
		changed      string // one field the record must name; "" for none
	}{
		{"POST", "/v1/admin/auth_providers", adminProvider(idp, "acme"), "provider.create", "acme", "oauth2.token_request.endpoint"},
		{"PATCH", "/v1/admin/auth_providers/acme", map[string]any{"description": "renamed"}, "provider.update", "acme", "description"},
		{"DELETE", "/v1/admin/auth_providers/acme", nil, "provider.delete", "acme", ""},
	}
	for _, s := range steps {
		if code, raw := adminCall(t, h.srv.URL, s.method, s.path, s.body); code/100 != 2 {
			t.Fatalf("%s %s: HTTP %d %s", s.method, s.path, code, raw)
		}
	}
	recs := auditLines(t, h)
	if len(recs) != len(steps) {
		t.Fatalf("%d audit records, want %d: %v", len(recs), len(steps), recs)
	}
	for i, s := range steps {
		rec := recs[i]
		changed, _ := json.Marshal(rec["changed"])
		if rec["action"] != s.action || rec["target"] != s.target || !strings.HasPrefix(rec["actor"].(string), "admin_key:") ||
			(s.changed != "" && !strings.Contains(string(changed), `"`+s.changed+`"`)) {
			t.Errorf("record %d = %v, want %s of %s naming %q", i, rec, s.action, s.target, s.changed)
		}
		if line, _ := json.Marshal(rec); holdsSecret(string(line), adminSecret) || strings.Contains(string(line), idp.TokenEndpoint()) {
			t.Errorf("record %d holds a value: %s", i, line)
		}
	}
}

// publicProvider is an admin provider object whose endpoints are on a
// public name that does not resolve, with user info at userInfo.
func publicProvider(id, userInfo string) map[string]any {
	return map[string]any{
		"id": id, "status": "active", "type": "oauth2",
		"oauth2": map[string]any{
			"client_id": "cid", "client_secret": adminSecret,
			"authorize_request": map[string]any{"endpoint": "https://provider.invalid/authorize",
				"params": map[string]any{"response_type": "code", "client_id": "<<client_id>>", "redirect_uri": "<<redirect_uri>>"}},
			"token_request":     map[string]any{"endpoint": "https://provider.invalid/token", "auth_method": "client_secret_basic"},
			"user_info_request": map[string]any{"endpoint": userInfo, "triggers": map[string]any{"on_token_grant": true}},
		},
	}
}

// TestAttack_UserInfoSSRFReturnsInternalJSON: an admin key holder adds a
// provider whose user-info endpoint is an internal address (a local
// service, the cloud metadata service) so that the engine fetches it and
// hands the internal JSON to an app in context.user_info. Every notation
// of a private address, and a name resolving to one, is refused when the
// provider is written, naming the field; a name that resolved to a public
// address then and resolves to a private one when the engine connects
// (DNS rebinding) is refused at connect time, and the internal service
// never answers.
func TestAttack_UserInfoSSRFReturnsInternalJSON(t *testing.T) {
	internalHits := 0
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internalHits++
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"sub":"x","AccessKeyId":"ASIA-internal","SecretAccessKey":"internal-only"}`)
	}))
	t.Cleanup(internal.Close)
	port := internal.URL[strings.LastIndex(internal.URL, ":")+1:]
	h := newHarness(t, harnessOptions{guardPrivate: true, resolver: fakeResolver{"rebind.test": {"10.0.0.5"}}})

	cases := []struct{ name, endpoint, want string }{
		{"a loopback address", internal.URL + "/me", "127.0.0.1 is a loopback address"},
		{"the cloud metadata service", "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254 is a link-local address"},
		{"IPv6 loopback", "http://[::1]:" + port + "/me", "::1 is a loopback address"},
		{"a decimal IPv4 address", "http://2130706433:" + port + "/me", "127.0.0.1 is a loopback address"},
		{"an IPv4-mapped IPv6 address", "http://[::ffff:127.0.0.1]:" + port + "/me", "127.0.0.1 is a loopback address"},
		{"the unspecified address", "http://0.0.0.0:" + port + "/me", "0.0.0.0 is an unspecified address"},
		{"localhost (a name resolved by the system)", "http://localhost:" + port + "/me", "is a loopback address"},
		{"a name resolving to a private address", "https://rebind.test/me", "10.0.0.5 is a private address"},
	}
	for _, tc := range cases {
		t.Run("it refuses "+tc.name+" when the provider is written", func(t *testing.T) {
			var e apiErr
			code := enginetest.Call(t, nil, h.srv.URL, adminKey, "POST", "/v1/admin/auth_providers", publicProvider("ssrf", tc.endpoint), &e)
			if code != http.StatusBadRequest || e.Name != "invalid_provider" ||
				!strings.Contains(e.Message, "oauth2.user_info_request.endpoint: points at") || !strings.Contains(e.Message, tc.want) ||
				!strings.Contains(e.Message, "security.allow_private_endpoints") {
				t.Fatalf("HTTP %d %+v, want 400 naming oauth2.user_info_request.endpoint and %q", code, e, tc.want)
			}
			if recs, err := h.store.ListProviders(t.Context()); err != nil || len(recs) != 0 {
				t.Fatalf("stored %d providers (%v), want none", len(recs), err)
			}
		})
	}
	t.Run("a patch cannot move the endpoint to a private address either", func(t *testing.T) {
		if code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", publicProvider("pub", "https://provider.invalid/me")); code != 201 {
			t.Fatalf("create: HTTP %d %s", code, raw)
		}
		patch := map[string]any{"oauth2": map[string]any{"client_secret": adminSecret,
			"user_info_request": map[string]any{"endpoint": "http://169.254.169.254/latest/meta-data/"}}}
		var e apiErr
		code := enginetest.Call(t, nil, h.srv.URL, adminKey, "PATCH", "/v1/admin/auth_providers/pub", patch, &e)
		if code != http.StatusBadRequest || !strings.Contains(e.Message, "oauth2.user_info_request.endpoint: points at 169.254.169.254") {
			t.Fatalf("HTTP %d %+v, want 400 naming the endpoint", code, e)
		}
	})

	t.Run("a name rebound to a private address is refused when the engine connects", func(t *testing.T) {
		// The write-time check is told localhost is public, as a rebinding
		// name's first answer would be; when the engine connects the
		// system resolver gives 127.0.0.1.
		h := newHarness(t, harnessOptions{guardPrivate: true, resolver: fakeResolver{"localhost": {"93.184.216.34"}}})
		idp := newIdP(t, h.redirectURI(), adminSecret)
		body := adminProvider(idp, "rebind")
		o := body["oauth2"].(map[string]any)
		for _, block := range []string{"authorize_request", "token_request", "refresh_request", "user_info_request"} {
			req := o[block].(map[string]any)
			req["endpoint"] = strings.Replace(req["endpoint"].(string), "127.0.0.1", "localhost", 1)
		}
		o["user_info_request"].(map[string]any)["endpoint"] = strings.Replace(internal.URL, "127.0.0.1", "localhost", 1) + "/me"
		if code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", body); code != 201 {
			t.Fatalf("create: HTTP %d %s", code, raw)
		}
		start := h.authorize("ada", "rebind", "read")
		// The stand-in knows its authorize endpoint by address.
		cb, err := idp.Consent(t.Context(), strings.Replace(start.URL, "localhost", "127.0.0.1", 1))
		if err != nil {
			t.Fatal(err)
		}
		code, page, _ := h.browse(cb)
		var after authResp
		h.do("GET", "/v1/auth/status?id="+url.QueryEscape(start.ID), nil, &after)
		if code == http.StatusOK || after.Status == "completed" || after.Context != nil && after.Context.UserInfo != nil {
			t.Fatalf("callback HTTP %d, flow %+v: the engine reached the rebound address", code, after)
		}
		if n := idp.Counts().CodeExchanges; n != 0 {
			t.Fatalf("the loopback token endpoint redeemed %d codes", n)
		}
		if internalHits != 0 {
			t.Fatalf("the internal service answered %d requests", internalHits)
		}
		if strings.Contains(page, "internal-only") || !strings.Contains(h.logs.String(), "is a loopback address") {
			t.Errorf("page %q; want the refusal logged and nothing internal shown", page)
		}
	})
}

// fakeResolver answers the write-time check from a fixed table, and asks
// the system resolver about other names.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return net.DefaultResolver.LookupNetIP(ctx, network, host)
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}
