package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/providertest"
)

// tryConfig writes an engine.yaml with the provider p on a free port and
// returns its path and the engine's public URL.
func tryConfig(t *testing.T, port int, p config.Provider) string {
	t.Helper()
	return tryConfigYAML(t, port, providerYAML(t, p))
}

// tryConfigYAML is tryConfig with the provider's entry as written.
func tryConfigYAML(t *testing.T, port int, provider string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "engine.yaml")
	yaml := fmt.Sprintf(`data_dir: %s
api: {development: true, host: 127.0.0.1, port: %d, public_url: "http://127.0.0.1:%d"}
store: {type: embedded}
security: {allow_private_endpoints: true}
telemetry: {log: {level: error}}
auth:
  user_verification: {enabled: false}
  providers:
    - %s
`, filepath.Join(dir, "data"), port, port, provider)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tryOutcome is what one `authengine try` printed and its exit code.
type tryOutcome struct {
	code        int
	out, stderr string
}

var authorizeLine = regexp.MustCompile(`(?m)^  (https?://\S+)$`)

// runTry runs `authengine try` with args and plays the browser: it
// follows the authorize URL the command prints, as a browser would
// (redirects followed, so the stand-in's redirect lands on the engine's
// callback). The stand-in consents at once.
func runTry(t *testing.T, args ...string) tryOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut syncWriter
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"try", "--no-browser"}, args...), &out, &errOut) }()
	browsed := false
	for {
		select {
		case code := <-done:
			return tryOutcome{code, out.String(), errOut.String()}
		case <-time.After(20 * time.Millisecond):
		}
		if browsed {
			continue
		}
		if m := authorizeLine.FindStringSubmatch(out.String()); m != nil {
			browsed = true
			resp, err := http.Get(m[1])
			if err != nil {
				t.Errorf("the browser could not follow %s: %v", m[1], err)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// assertMasked fails when the output holds a token the stand-in issued,
// or a secret of the configuration, whole.
func assertMasked(t *testing.T, idp *providertest.Provider, o tryOutcome, secrets ...string) {
	t.Helper()
	all := o.out + o.stderr
	for _, w := range regexp.MustCompile(`[A-Za-z0-9_\-.~+/=]{12,}`).FindAllString(all, -1) {
		if known, _, _ := idp.RefreshTokenState(w); known || idp.ValidAccessToken(w) {
			t.Errorf("a token was printed whole: %q", w)
		}
	}
	for _, s := range append(secrets, idp.ClientSecret()) {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("a secret was printed whole: %q", s)
		}
	}
}

func wantLines(t *testing.T, o tryOutcome, code int, want ...string) {
	t.Helper()
	if o.code != code {
		t.Errorf("exit %d, want %d", o.code, code)
	}
	for _, w := range want {
		if !strings.Contains(o.out, w) {
			t.Errorf("the output lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", o.out, o.stderr)
	}
}

// wantExpiry checks the token's expiry is shown, an hour ahead.
func wantExpiry(t *testing.T, o tryOutcome) {
	t.Helper()
	if !regexp.MustCompile(`(?m)^    expires +\S+Z \(in (59m\d+s|1h0m0s)\)$`).MatchString(o.out) {
		t.Errorf("no expiry an hour ahead in:\n%s", o.out)
	}
}

func TestTryGoodConfig(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(t, providertest.Options{
		RedirectURI: fmt.Sprintf("http://127.0.0.1:%d/oauth/callback", port), RequirePKCE: true,
		AccessTokenTTL: time.Hour, RotateRefreshTokens: true, UserInfo: map[string]any{"sub": "ada-1", "email": "ada@example.com"},
	})
	o := runTry(t, "hooli", "-c", tryConfig(t, port, idp.Config("hooli")))
	wantLines(t, o, 0, "✓ callback", "✓ token", "access_token   ****", "refresh_token  ****", "token_type     Bearer",
		`"email":"ada@example.com"`, "✓ refresh", "✓ user info", "every step passed (4)")
	wantExpiry(t, o)
	if strings.Contains(o.out, "✗") {
		t.Errorf("a step failed:\n%s", o.out)
	}
	if c := idp.Counts(); c.CodeExchanges != 1 || c.Refreshes != 1 || c.UserInfo != 2 {
		t.Errorf("the stand-in saw %+v, want one code exchange, one refresh, two user-info calls (grant and step)", c)
	}
	assertMasked(t, idp, o)
}

// TestTryIDTokenUserInfo: a provider whose user info is the id_token's
// claims has no user-info endpoint; try shows the verified claims the
// engine kept as the user-info step, and every step passes.
func TestTryIDTokenUserInfo(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(t, providertest.Options{
		RedirectURI: fmt.Sprintf("http://127.0.0.1:%d/oauth/callback", port), RequirePKCE: true,
		AccessTokenTTL: time.Hour, OIDC: &providertest.OIDC{},
	})
	o := runTry(t, "hooli", "-c", tryConfig(t, port, idp.IDTokenConfig("hooli")))
	wantLines(t, o, 0, "✓ token", "✓ refresh", "✓ user info", "from the verified id_token's claims", `"sub":`)
	if strings.Contains(o.out, "no user_info_request") || strings.Contains(o.out, "✗") {
		t.Errorf("the id_token's user info was reported missing or failed:\n%s", o.out)
	}
	if c := idp.Counts(); c.UserInfo != 0 {
		t.Errorf("the stand-in saw %d user-info calls, want none (there is no endpoint)", c.UserInfo)
	}
	assertMasked(t, idp, o)
}

func TestTryWrongAuthMethod(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(providertest.Tolerant(t), providertest.Options{ClientAuth: providertest.ClientSecretPost, AccessTokenTTL: time.Hour})
	p := idp.Config("hooli")
	p.OAuth2.TokenRequest.AuthMethod = providertest.ClientSecretBasic
	p.OAuth2.RefreshTokenRequest.AuthMethod = providertest.ClientSecretBasic
	o := runTry(t, "hooli", "-c", tryConfig(t, port, p))
	wantLines(t, o, 1, "✓ callback", "✗ token", "invalid_client",
		"token_request.auth_method is client_secret_basic; try auth_method: client_secret_post", "1 of 2 steps failed")
	if v := strings.Join(idp.Violations(), "\n"); !strings.Contains(v, "client_secret_post required") {
		t.Errorf("the stand-in did not see the wrong auth method: %s", v)
	}
	assertMasked(t, idp, o)
}

func TestTryMissingRefreshToken(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(t, providertest.Options{NoRefreshTokens: true, AccessTokenTTL: time.Hour})
	o := runTry(t, "hooli", "-c", tryConfig(t, port, idp.Config("hooli")))
	wantLines(t, o, 1, "✓ token", "refresh_token  none", "✗ refresh", "the provider returned no refresh token",
		"offline_access", "access_type=offline", "✓ user info")
	assertMasked(t, idp, o)
}

func TestTryResponseMapPathFindsNothing(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(t, providertest.Options{AccessTokenTTL: time.Hour})
	p := idp.Config("hooli")
	p.OAuth2.TokenRequest.ResponseMap = map[string]string{
		"access_token": "$.access_token", "refresh_token": "$.data.refresh_token", "expires_in": "$.expires_in",
	}
	o := runTry(t, "hooli", "-c", tryConfig(t, port, p))
	wantLines(t, o, 1, "✓ token", "✗ response_map",
		"token_request.response_map.refresh_token: $.data.refresh_token", "✗ refresh")
	if strings.Contains(o.out, "response_map.expires_in") {
		t.Errorf("a path that found its field is named:\n%s", o.out)
	}
	assertMasked(t, idp, o)
}

func TestTryRedirectURIMismatch(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(providertest.Tolerant(t), providertest.Options{RedirectURI: "https://registered.example/oauth/callback"})
	o := runTry(t, "hooli", "-c", tryConfig(t, port, idp.Config("hooli")), "--timeout", "2s")
	wantLines(t, o, 1, "✗ callback", "no callback within 2s",
		fmt.Sprintf("register exactly http://127.0.0.1:%d/oauth/callback with the OAuth app", port))
	if v := strings.Join(idp.Violations(), "\n"); !strings.Contains(v, "is not the registered") {
		t.Errorf("the stand-in did not refuse the redirect URI: %s", v)
	}
}

// TestTryPublicURLElsewhere: a public_url that does not name this machine
// is said before the wait, pointing at --engine.
func TestTryPublicURLElsewhere(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(providertest.Tolerant(t), providertest.Options{RedirectURI: "https://registered.example/oauth/callback"})
	cfg := tryConfig(t, port, idp.Config("hooli"))
	raw, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := strings.Replace(string(raw), fmt.Sprintf(`public_url: "http://127.0.0.1:%d"`, port), `public_url: "https://auth.example.com"`, 1)
	if err := os.WriteFile(cfg, []byte(elsewhere), 0o600); err != nil {
		t.Fatal(err)
	}
	o := runTry(t, "hooli", "-c", cfg, "--timeout", "1s")
	wantLines(t, o, 1, "note        the provider sends the browser to https://auth.example.com/oauth/callback, which must reach this machine; for a deployed engine use --engine https://auth.example.com",
		fmt.Sprintf("engine      in-process at http://127.0.0.1:%d", port))
}

func TestTryUserInfo401(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(t, providertest.Options{AccessTokenTTL: time.Hour})
	// Another stand-in's user-info endpoint knows none of idp's tokens.
	other := providertest.New(t, providertest.Options{})
	p := idp.Config("hooli")
	p.OAuth2.UserInfoRequest.Endpoint = other.UserInfoEndpoint()
	p.OAuth2.UserInfoRequest.Triggers = config.Triggers{}
	notOnGrant := strings.Replace(providerYAML(t, p), `"user_info_request":{`, `"user_info_request":{"triggers":{"on_token_grant":false},`, 1)
	o := runTry(t, "hooli", "-c", tryConfigYAML(t, port, notOnGrant))
	wantLines(t, o, 1, "✓ token", "✓ refresh", "✗ user info", "the provider answered HTTP 401 invalid_token",
		"the user-info endpoint refused the access token")
	assertMasked(t, idp, o)

	// Fetched on grant, the same failure fails the authorization.
	p.OAuth2.UserInfoRequest.Triggers.OnTokenGrant = true
	o = runTry(t, "hooli", "-c", tryConfig(t, freePort(t), p))
	wantLines(t, o, 1, "✗ user info", "the user-info request on grant failed: fetching the user's info failed: invalid_token", "on_token_grant")
}

func TestTryClientCredentials(t *testing.T) {
	idp := providertest.New(t, providertest.Options{AccessTokenTTL: time.Hour})
	o := runTry(t, "svc", "--client-credentials", "-c", tryConfig(t, freePort(t), idp.ClientCredentialsConfig("svc")))
	wantLines(t, o, 0, "✓ token", "access_token   ****", "✓ fetch again", "every step passed (2)")
	wantExpiry(t, o)
	if c := idp.Counts(); c.ClientCredentials != 2 {
		t.Errorf("the stand-in issued %d service tokens, want 2 (fetch, fetch again)", c.ClientCredentials)
	}
	assertMasked(t, idp, o)

	// A wrong client secret.
	bad := providertest.New(providertest.Tolerant(t), providertest.Options{})
	p := bad.ClientCredentialsConfig("svc")
	p.ClientSecret = "not-the-registered-secret"
	o = runTry(t, "svc", "--client-credentials", "-c", tryConfig(t, freePort(t), p))
	wantLines(t, o, 1, "✗ token", "invalid_client", "try auth_method: client_secret_post", "1 of 1 steps failed")
	assertMasked(t, bad, o, p.ClientSecret)

	// --client-credentials on an authorization-code provider is a usage error.
	o = runTry(t, "hooli", "--client-credentials", "-c", tryConfig(t, freePort(t), idp.Config("hooli")))
	if o.code != 2 || !strings.Contains(o.stderr, "uses grant_type authorization_code") {
		t.Errorf("exit %d, stderr %q; want 2 naming the grant", o.code, o.stderr)
	}
}

// TestTryConnectionVariables: --connection-variable reaches the engine's
// authorization, and try's own user-info call renders it as the
// engine's does (the user-info path is the variable).
func TestTryConnectionVariables(t *testing.T) {
	idp := providertest.New(t, providertest.Options{AccessTokenTTL: time.Hour})
	p := idp.Config("hooli")
	p.OAuth2.ConnectionVariables = map[string]config.ConnectionVariable{"tenant": {Pattern: "[a-z]+", Example: "acme"}}
	p.OAuth2.UserInfoRequest.Endpoint = idp.URL() + "/<<connection.tenant>>"
	cfg := tryConfig(t, freePort(t), p)
	o := runTry(t, "hooli", "-c", cfg, "--connection-variable", "tenant=userinfo")
	wantLines(t, o, 0, "✓ user info", "every step passed (4)")

	o = runTry(t, "hooli", "-c", cfg)
	wantLines(t, o, 1, "✗ authorize", "invalid_connection_variable", "--connection-variable NAME=VALUE")
}

// TestTryMetadataInUserInfo: a user-info endpoint rendered from the
// token's metadata (<<metadata.NAME>>, a value of the grant's answer kept
// by the response_map) is rendered in try's own user-info call as the
// engine renders it, and the metadata is shown.
func TestTryMetadataInUserInfo(t *testing.T) {
	idp := providertest.New(t, providertest.Options{AccessTokenTTL: time.Hour, GrantFields: map[string]any{"info_path": "userinfo"}})
	p := idp.Config("hooli")
	p.OAuth2.TokenRequest.ResponseMap = map[string]string{
		"access_token": "$.access_token", "refresh_token": "$.refresh_token", "expires_in": "$.expires_in",
		"token_type": "$.token_type", "info_path": "$.info_path",
	}
	p.OAuth2.UserInfoRequest.Endpoint = idp.URL() + "/<<metadata.info_path>>"
	o := runTry(t, "hooli", "-c", tryConfig(t, freePort(t), p))
	wantLines(t, o, 0, `metadata       {"info_path":"userinfo"}`, "✓ user info", "every step passed (4)")
}

func TestTryUsage(t *testing.T) {
	code, _, errOut := runCmd(t, "try")
	if code != 2 || !strings.Contains(errOut, "authengine try <provider-id>") {
		t.Errorf("exit %d, stderr %q; want 2 and the usage", code, errOut)
	}
	idp := providertest.New(t, providertest.Options{})
	code, _, errOut = runCmd(t, "try", "nope", "-c", tryConfig(t, freePort(t), idp.Config("hooli")))
	if code != 1 || !strings.Contains(errOut, `no provider "nope" in the configuration (enabled providers: hooli)`) {
		t.Errorf("exit %d, stderr %q; want 1 naming the providers", code, errOut)
	}
}

// TestTryRunningEngine: with --engine, try drives an engine serve runs on
// the same configuration (keys from the development keys file), and
// disconnects its trial user at the end; without it, the address in use
// makes try point at --engine.
func TestTryRunningEngine(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(t, providertest.Options{
		RedirectURI: fmt.Sprintf("http://127.0.0.1:%d/oauth/callback", port), AccessTokenTTL: time.Hour, RotateRefreshTokens: true,
	})
	cfg := tryConfig(t, port, idp.Config("hooli"))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	serveInTest(t, base, "serve", "-c", cfg)

	o := runTry(t, "hooli", "-c", cfg, "--engine", base)
	wantLines(t, o, 0, "engine      "+base+" (user authengine-try-", "✓ callback", "refresh_token  (a running engine does not show it",
		"✓ refresh", "✓ user info", "every step passed (4)")
	assertMasked(t, idp, o)

	var list struct {
		Items []map[string]any `json:"items"`
	}
	dataDir := filepath.Join(filepath.Dir(cfg), "data")
	raw, err := os.ReadFile(filepath.Join(dataDir, "dev-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dk devKeys
	if err := json.Unmarshal(raw, &dk); err != nil {
		t.Fatal(err)
	}
	api := &engineAPI{base: base, adminKey: dk.AdminKey, client: http.DefaultClient}
	if err := api.call(context.Background(), http.MethodGet, "/v1/admin/user_connections?provider_id=hooli", dk.AdminKey, nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("the trial connection is still there: %v", list.Items)
	}

	o = runTry(t, "hooli", "-c", cfg)
	if o.code != 1 || !strings.Contains(o.stderr, "the address is in use") || !strings.Contains(o.stderr, "authengine try --engine "+base) {
		t.Errorf("exit %d, stderr %q; want 1 pointing at --engine", o.code, o.stderr)
	}
}

// A user-info endpoint whose error echoes the access token it refused
// (some APIs quote it in error_description) gets the token printed
// masked, never whole.
func TestTryProviderErrorEchoingTheToken(t *testing.T) {
	port := freePort(t)
	idp := providertest.New(t, providertest.Options{AccessTokenTTL: time.Hour})
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_token", "error_description": "the token " + token + " is not valid here"})
	}))
	defer echo.Close()
	p := idp.Config("hooli")
	p.OAuth2.UserInfoRequest.Endpoint = echo.URL + "/userinfo"
	p.OAuth2.UserInfoRequest.Triggers = config.Triggers{}
	notOnGrant := strings.Replace(providerYAML(t, p), `"user_info_request":{`, `"user_info_request":{"triggers":{"on_token_grant":false},`, 1)
	o := runTry(t, "hooli", "-c", tryConfigYAML(t, port, notOnGrant))
	wantLines(t, o, 1, "✓ refresh", "✗ user info", "the provider answered HTTP 401 invalid_token: the token ****")
	assertMasked(t, idp, o)
}

// try's own user-info call to a host the provider's token metadata
// decides goes through the guard that refuses private addresses when they
// are dialled, as the engine's does, unless allow_private_endpoints.
func TestTryUserInfoGuardsRemoteHosts(t *testing.T) {
	idp := providertest.New(t, providertest.Options{})
	p := idp.Config("hooli")
	p.OAuth2.UserInfoRequest.Endpoint = "<<metadata.instance_url>>/userinfo"
	p.OAuth2.UserInfoRequest.Triggers = config.Triggers{}
	cp, err := authflow.Compile(p, "http://127.0.0.1/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{"instance_url": idp.URL()}
	for _, allow := range []bool{false, true} {
		var out strings.Builder
		cfg := config.Default()
		cfg.Security.AllowPrivateEndpoints = allow
		run := &tryRun{out: &out, id: "hooli", cfg: cfg, pc: p, provider: cp}
		run.userInfoStep(context.Background(), "at_not_issued_by_the_stand_in", meta, nil)
		// The stand-in answers a token it did not issue with 401.
		reached := strings.Contains(out.String(), "the provider answered HTTP 401")
		if reached != allow {
			t.Errorf("allow_private_endpoints %v: the call reached the private address: %v\n%s", allow, reached, out.String())
		}
		if !allow && !strings.Contains(out.String(), "✗ user info") {
			t.Errorf("the refused call is not a failed step:\n%s", out.String())
		}
	}
}

// A provider completed from a remote discovery document (guarded) has
// try's own user-info call guarded at dial time as well, even with static
// endpoints.
func TestTryUserInfoGuardsDiscoveredProviders(t *testing.T) {
	idp := providertest.New(t, providertest.Options{})
	p := idp.Config("hooli")
	p.OAuth2.UserInfoRequest.Triggers = config.Triggers{}
	cp, err := authflow.Compile(p, "http://127.0.0.1/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	for _, guarded := range []bool{true, false} {
		var out strings.Builder
		run := &tryRun{out: &out, id: "hooli", cfg: config.Default(), pc: p, provider: cp, guarded: guarded}
		run.userInfoStep(context.Background(), "at_not_issued_by_the_stand_in", nil, nil)
		if reached := strings.Contains(out.String(), "the provider answered HTTP 401"); reached == guarded {
			t.Errorf("guarded %v: the call reached the private address: %v\n%s", guarded, reached, out.String())
		}
	}
}
