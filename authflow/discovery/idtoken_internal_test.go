package discovery

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestIDTokenErrorClipsRemoteContent: a JWKS endpoint answering an error
// with a large body (go-oidc quotes the body in its error) gives an error
// clipped to a few hundred bytes, holding none of the body past that.
func TestIDTokenErrorClipsRemoteContent(t *testing.T) {
	body := strings.Repeat("x", 200*1024) + "TAIL-OF-REMOTE-BODY"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, body, http.StatusInternalServerError)
	}))
	defer srv.Close()
	v := (&Resolver{}).verifier(&Metadata{Issuer: srv.URL, JWKSURI: srv.URL + "/jwks", IDTokenSigningAlgValuesSupported: []string{"RS256"}}, "client", srv.Client())
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	raw := enc(map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}) + "." +
		enc(map[string]any{"iss": srv.URL, "aud": "client", "sub": "ada", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("s", 256)))
	_, err := v.VerifyIDToken(t.Context(), raw)
	if err == nil {
		t.Fatal("an id_token whose keys cannot be fetched was accepted")
	}
	if msg := err.Error(); len(msg) > 300 || strings.Contains(msg, "TAIL-OF-REMOTE-BODY") {
		t.Fatalf("error of %d bytes carries the remote body: %.400s", len(msg), msg)
	}
	if !strings.Contains(err.Error(), "500") {
		t.Errorf("the clipped error lost what failed: %v", err)
	}
}
