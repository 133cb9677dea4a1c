package engine

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/internal/providertest"

	"github.com/authengine/authengine/engine/keyring"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/enginetest"
)

// TestDiscoveryRecordsAreSealedScannedAndResealed: a discovery record
// (a client registration holding a secret) reaches the store only sealed,
// reads back through the cache, is yielded by Scan, and one sealed in the
// format before envelope encryption is resealed by Reseal, on both
// backends.
func TestDiscoveryRecordsAreSealedScannedAndResealed(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			var st store.Store
			if s.open != nil {
				st = s.open(t, time.Now)
			} else {
				st = enginetest.BoltStore(t, nil)
			}
			root := enginetest.Sealer(t)
			kr, err := keyring.Open(t.Context(), root, st, keyring.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cache := DiscoveryCache{Store: st, Sealer: kr}
			secret := []byte(`{"client_id":"c1","client_secret":"registration-secret-value"}`)
			if err := cache.Save(t.Context(), "mcp:files", secret); err != nil {
				t.Fatal(err)
			}
			rec, err := st.GetDiscovery(t.Context(), "mcp:files")
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(rec.Sealed, []byte("registration-secret-value")) {
				t.Fatal("the registration's secret reached the store in the clear")
			}
			got, err := cache.Load(t.Context(), "mcp:files")
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("Load = %q, %v; want what was saved", got, err)
			}
			if _, err := cache.Load(t.Context(), "issuer:none"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Load(missing) = %v, want ErrNotFound", err)
			}

			// A record sealed directly by the root key, as before envelopes.
			old, err := root.Seal([]byte(`{"issuer":"https://as.example.com"}`), RecordAAD(store.KindDiscovery, "issuer:x"))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.PutDiscovery(t.Context(), store.DiscoveryRecord{ID: "issuer:x", Sealed: old, UpdatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			if err := st.Scan(t.Context(), func(r store.SealedRecord) error {
				kinds[r.Kind+"/"+r.ID] = true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !kinds["discovery/mcp:files"] || !kinds["discovery/issuer:x"] {
				t.Fatalf("Scan yielded %v, want both discovery records", kinds)
			}
			eng, err := New(Options{Store: st, Sealer: kr})
			if err != nil {
				t.Fatal(err)
			}
			res, err := eng.Reseal(t.Context(), nil)
			if err != nil || res.Found != 1 || res.Resealed != 1 || len(res.Problems) != 0 {
				t.Fatalf("Reseal = %+v, %v; want the root-sealed discovery record resealed", res, err)
			}
			rec, _ = st.GetDiscovery(t.Context(), "issuer:x")
			if f, _, _ := seal.Header(rec.Sealed); f != seal.FormatData {
				t.Fatalf("discovery record format after Reseal = %d, want the keyring's", f)
			}
			if plain, err := cache.Load(t.Context(), "issuer:x"); err != nil || string(plain) != `{"issuer":"https://as.example.com"}` {
				t.Fatalf("Load after Reseal = %q, %v", plain, err)
			}
		})
	}
}

// TestAdminAPIRefusesDiscoveredProviders: discovery and MCP registration
// run at start, so the admin API refuses oauth2.issuer and type mcp with
// a field error and stores nothing.
func TestAdminAPIRefusesDiscoveredProviders(t *testing.T) {
	r := newRig(t, rigOptions{})
	for _, tc := range []struct {
		doc  map[string]any
		path string
	}{
		{map[string]any{"id": "acme", "client_id": "c", "client_secret": "s", "oauth2": map[string]any{"issuer": "https://id.example.com"}}, "oauth2.issuer"},
		{map[string]any{"id": "files", "type": "mcp", "mcp": map[string]any{"url": "https://mcp.example.com/mcp"}}, "type"},
	} {
		_, err := r.eng.CreateProvider(t.Context(), tc.doc)
		ipe, ok := errors.AsType[*InvalidProviderError](err)
		if !ok || len(ipe.Fields) != 1 || ipe.Fields[0].Path != tc.path {
			t.Fatalf("CreateProvider(%v) = %v, want one field error at %s", tc.doc["id"], err, tc.path)
		}
		if _, err := r.st.GetProvider(t.Context(), tc.doc["id"].(string)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("provider %v was stored: %v", tc.doc["id"], err)
		}
	}
}

// TestGuardedProvidersConnectOnlyToPublicAddresses: an engine.yaml
// provider named in GuardedProviders (its endpoints came from remote
// metadata) makes its requests through the runtime client, which refuses
// private addresses when connecting: the code exchange with a stand-in on
// loopback fails, while the same provider unguarded completes.
func TestGuardedProvidersConnectOnlyToPublicAddresses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		guarded []string
		want    store.FlowStatus
	}{
		{"guarded: refused when connecting", []string{"hooli"}, store.FlowFailed},
		{"not guarded: the operator's own endpoints", nil, store.FlowCompleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := providertest.New(t, providertest.Options{RedirectURI: redirect})
			p, err := authflow.Compile(idp.Config("hooli"), redirect)
			if err != nil {
				t.Fatal(err)
			}
			eng, err := New(Options{
				Providers: map[string]*authflow.Provider{"hooli": p}, GuardedProviders: tc.guarded,
				Store: enginetest.BoltStore(t, nil), Sealer: enginetest.Sealer(t),
				HTTPClient: &http.Client{Transport: &http.Transport{}}, PublicURL: "https://engine.example.com",
			})
			if err != nil {
				t.Fatal(err)
			}
			start, err := eng.Authorize(t.Context(), AuthorizeRequest{UserID: "ada", ProviderID: "hooli"})
			if err != nil {
				t.Fatal(err)
			}
			cb, err := idp.Consent(t.Context(), start.URL)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(cb)
			res, _ := eng.Callback(t.Context(), CallbackQuery{State: u.Query().Get("state"), Code: u.Query().Get("code")})
			if res.Status != tc.want {
				t.Fatalf("callback status %s, want %s", res.Status, tc.want)
			}
			if tc.want == store.FlowFailed && idp.Counts().CodeExchanges != 0 {
				t.Fatal("the guarded provider's token request reached the loopback stand-in")
			}
		})
	}
}
