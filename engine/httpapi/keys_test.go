package httpapi_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/internal/providertest"
)

// TestConnectionSealedWithARemovedRootKeyIsReauthorized: the root key that
// sealed a connection is removed from the configuration. Authorize used to
// answer 500 internal_error for that user forever; it must start a new flow
// whose connection replaces the old one, and reads of the old record name
// the missing key.
func TestConnectionSealedWithARemovedRootKeyIsReauthorized(t *testing.T) {
	var idp *providertest.Provider
	opts := harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		if idp == nil {
			idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic, RequirePKCE: true,
				AccessTokenTTL: time.Hour})
		}
		return []config.Provider{idp.Config("hooli")}
	}}
	h := newHarness(t, opts)
	old := h.connect(idp, "ada", "hooli", "read")
	connID := old.ID

	// Restart with only a new root key: the old one is gone.
	h.store.Close()
	k2, _, err := seal.GenerateKey("k2")
	if err != nil {
		t.Fatal(err)
	}
	opts.dir, opts.rootKeys = h.dir, []seal.Key{k2}
	h.start(opts)

	var status authResp
	if code := h.do("GET", "/v1/auth/status?id="+url.QueryEscape(connID), nil, &status); code != 200 || status.Status != "failed" || !strings.Contains(status.Reason, `root key "k1"`) {
		t.Errorf("status of the old connection: HTTP %d %+v, want failed naming root key k1", code, status)
	}
	again := h.authorize("ada", "hooli", "read")
	if again.Status != "pending" || again.URL == "" {
		t.Fatalf("authorize over a connection sealed with a removed key: %+v, want a new pending flow", again)
	}
	if !strings.Contains(h.logs.String(), `"root_key_id":"k1"`) {
		t.Error("no log line names the missing root key k1")
	}
	done := h.connect(idp, "ada", "hooli", "read")
	if done.Token() == "" || done.Token() == old.Token() {
		t.Fatalf("re-authorization gave token %q, want a new one", done.Token())
	}
	if after := h.authorize("ada", "hooli", "read"); after.Status != "completed" || after.Token() != done.Token() {
		t.Errorf("after re-authorization: %+v, want completed with the new token", after)
	}
	if n := h.connections(); n != 1 {
		t.Errorf("%d connections, want the new one to have replaced the old", n)
	}
}

// TestRuntimeProviderSealedWithARemovedRootKeyNamesIt: the admin API shows
// a stored provider whose root key is gone with a problem naming the key.
func TestRuntimeProviderSealedWithARemovedRootKeyNamesIt(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	idp := newIdP(t, h.redirectURI(), adminSecret)
	if code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", adminProvider(idp, "acme")); code != 201 {
		t.Fatalf("create: HTTP %d %s", code, raw)
	}
	h.store.Close()
	k2, _, err := seal.GenerateKey("k2")
	if err != nil {
		t.Fatal(err)
	}
	h.start(harnessOptions{dir: h.dir, rootKeys: []seal.Key{k2}})
	code, raw := adminCall(t, h.srv.URL, "GET", "/v1/admin/auth_providers/acme", nil)
	if code != 200 || !strings.Contains(raw, `sealed with root key \"k1\", which is not configured`) || strings.Contains(raw, adminSecret) {
		t.Errorf("get: HTTP %d %s; want the problem naming root key k1, without the secret", code, raw)
	}
}
