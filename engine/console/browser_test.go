package console_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/providertest"
)

// screenshotDirEnv names a directory the browser test writes its
// screenshots to (make screenshots writes docs/console/); without it they
// go to the test's temporary directory.
const screenshotDirEnv = "AUTHENGINE_CONSOLE_SCREENSHOTS"

// chromium finds Debian's chromium. Without it the browser tests are
// skipped, except under CI=true, where they fail.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not on PATH: the console's browser tests need it under CI=true (.ci/run installs it with apt-get install chromium)")
	}
	t.Skip("chromium is not on PATH: install Debian's chromium (apt-get install chromium) to run the console's browser tests")
	return ""
}

// browser drives one headless chromium with a fresh profile.
type browser struct {
	t    *testing.T
	ctx  context.Context
	shot string // screenshot directory
	n    int
	html []string // every page's HTML, for the secret scan
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-popup-blocking", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shot: os.Getenv(screenshotDirEnv)}
	if b.shot == "" {
		b.shot = t.TempDir()
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// do runs steps with a deadline, failing the test with what was being done.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// page records the current page's HTML and, when name is set, writes its
// screenshot.
func (b *browser) page(name string) string {
	b.t.Helper()
	html := run(b, "read the page", chromedp.OuterHTML(chromedp.CSS("html")))
	b.html = append(b.html, html)
	if name != "" {
		png := run(b, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	return html
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return run(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// fill sets a field's value (clearing it first) by its label's field id.
func fill(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value))
}

// TestConsoleInABrowser drives the console in headless chromium through
// everything an operator does: sign in (a wrong key refused), add a
// provider through the form against the strict stand-in (a bad field
// refused next to it), the secret absent from every page and shown as its
// last 4, edit with a blank secret (a new user still connects), Connect
// with OAuth in a popup, Fetch token and a provider's error, Disconnect,
// Delete, a POST without the CSRF token refused, the cookie's flags, and
// no secret in the logs. Every page is screenshotted.
func TestConsoleInABrowser(t *testing.T) {
	b := newBrowser(t)
	var svc *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(redirect string) []config.Provider {
		svc = providertest.New(t, providertest.Options{ClientAuth: providertest.ClientSecretBasic, AccessTokenTTL: time.Hour})
		p := svc.Config("reports")
		p.Description = "Reports API (service)"
		p.OAuth2.GrantType = config.GrantClientCredentials
		p.OAuth2.PKCE.Enabled = false
		p.OAuth2.AuthorizeRequest = nil
		p.OAuth2.RefreshTokenRequest = nil
		p.OAuth2.UserInfoRequest = nil
		p.OAuth2.TokenRequest.Params = map[string]string{"scope": "<<scopes>>"}
		return []config.Provider{p}
	}})
	const secret = "hooli-console-secret-9f3kWX7q"
	idp := providertest.New(t, providertest.Options{RedirectURI: h.srv.URL + "/oauth/callback", ClientAuth: providertest.ClientSecretBasic,
		RequirePKCE: true, ClientID: "hooli-client", ClientSecret: secret, AccessTokenTTL: time.Hour,
		UserInfo: map[string]any{"email": "ada@example.com"}})
	base := h.srv.URL

	// Sign in: a wrong key is refused, the right one lands on Integrations.
	b.do("open the console", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#admin_key")))
	b.page("sign-in")
	b.do("sign in with a wrong key", fill("#admin_key", "ae_admin_wrong"), chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#signin-error")))
	if got := b.text("#signin-error"); !strings.Contains(got, "not valid") {
		t.Fatalf("wrong key: error %q", got)
	}
	b.page("sign-in-refused")
	b.do("sign in", fill("#admin_key", adminKey), chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("ul.tiles")))
	got, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/console/"}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range got.Cookies {
		if c.Name == "authengine_console" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Path != "/console" || session.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/console, not Secure over http", session)
	}

	// Add provider: a bad token URL is refused next to its field and
	// nothing is stored; fixed, it is saved.
	b.do("open Add provider", chromedp.Navigate(base+"/console/providers"), chromedp.WaitVisible(chromedp.CSS("#redirect-uri")))
	b.page("oauth-credentials-empty")
	b.do("click Add provider", chromedp.Click(`//a[text()="Add provider"]`), chromedp.WaitVisible(chromedp.CSS("#f-id")))
	b.do("fill the form",
		fill("#f-id", "hooli"), fill("#f-client-id", "hooli-client"), fill("#f-client-secret", secret),
		fill("#f-oauth2-authorize-request-endpoint", idp.AuthorizeEndpoint()),
		fill("#f-oauth2-token-request-endpoint", "not a url"),
		fill("#f-oauth2-default-scopes", "read write"),
		chromedp.Click(chromedp.CSS("details summary")),
		chromedp.SetValue(chromedp.CSS("#f-oauth2-token-request-auth-method"), "client_secret_basic"),
		fill("#f-oauth2-user-info-request-endpoint", idp.UserInfoEndpoint()),
	)
	b.page("add-provider")
	b.do("save with a bad token URL", chromedp.Click(`//button[text()="Save"]`), chromedp.WaitVisible(chromedp.CSS("#f-oauth2-token-request-endpoint-error")))
	if msg := b.text("#f-oauth2-token-request-endpoint-error"); msg == "" {
		t.Fatal("no error next to the Token URL")
	}
	b.page("add-provider-error")
	if _, err := h.engine.GetProvider(t.Context(), "hooli"); err == nil {
		t.Fatal("a refused form stored the provider")
	}
	b.do("fix and save", fill("#f-client-secret", secret), fill("#f-oauth2-token-request-endpoint", idp.TokenEndpoint()),
		chromedp.Click(`//button[text()="Save"]`), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	html := b.page("oauth-credentials")
	if !strings.Contains(html, "•••• "+secret[len(secret)-4:]) {
		t.Errorf("the providers table does not show the secret as its last 4")
	}

	// Connect with OAuth in a popup, for user ada.
	connect := func(user string, users int) {
		t.Helper()
		b.do("open Integrations", chromedp.Navigate(base+"/console/integrations"), chromedp.WaitVisible(chromedp.CSS("#tile-hooli")))
		b.do("connect "+user, fill("#user-hooli", user), chromedp.Click(chromedp.CSS(`#tile-hooli button[type=submit]`)))
		// The page reloads when the popup posts the outcome; wait for the
		// reloaded tile to count the new user.
		want := fmt.Sprintf("%d user", users)
		deadline := time.Now().Add(20 * time.Second)
		for {
			status, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(`#tile-hooli .status`)))
			if strings.Contains(status, "Connected") && strings.Contains(status, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the hooli tile shows %q, want Connected with %s", status, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := h.store.GetConnection(t.Context(), store.ConnectionID("hooli", user)); err != nil {
			t.Fatalf("after Connect with OAuth, %s has no connection: %v", user, err)
		}
	}
	connect("ada", 1)
	b.page("integrations-connected")
	targets, _ := chromedp.Targets(b.ctx)
	for _, tg := range targets {
		if tg.Type == "page" && strings.Contains(tg.URL, "/oauth/callback") {
			t.Errorf("the popup did not close itself: %s is open", tg.URL)
		}
	}

	// Edit with a blank secret keeps it: a new user still connects (the
	// strict stand-in checks the secret on the code exchange).
	b.do("edit hooli", chromedp.Navigate(base+"/console/providers/hooli/edit"), chromedp.WaitVisible(chromedp.CSS("#f-client-secret")))
	if v := run(b, "read the secret field", chromedp.Value(chromedp.CSS("#f-client-secret"))); v != "" {
		t.Fatalf("the edit form holds a secret value %q", v)
	}
	b.page("edit-provider")
	b.do("save with a blank secret", fill("#f-oauth2-default-scopes", "read"), chromedp.Click(`//button[text()="Save"]`),
		chromedp.WaitVisible(chromedp.CSS("p.notice")))
	connect("bob", 2)
	if n := idp.Counts().CodeExchanges; n != 2 {
		t.Errorf("code exchanges at the stand-in: %d, want 2", n)
	}

	// Fetch token for the client-credentials provider, then the
	// provider's error when it refuses.
	if _, err := h.engine.CreateProvider(t.Context(), map[string]any{"id": "reports-bad", "description": "Reports API (second client)",
		"client_id": svc.ClientID(), "client_secret": svc.ClientSecret(),
		"oauth2": map[string]any{"grant_type": "client_credentials", "token_request": map[string]any{"endpoint": svc.TokenEndpoint(), "auth_method": "client_secret_basic"}}}); err != nil {
		t.Fatal(err)
	}
	b.do("fetch a token", chromedp.Navigate(base+"/console/integrations"), chromedp.WaitVisible(chromedp.CSS("#tile-reports")),
		chromedp.Click(`//li[@id="tile-reports"]//button[text()="Fetch token"]`), chromedp.WaitVisible(chromedp.CSS("#token-result")))
	if res := b.text("#token-result"); !strings.Contains(res, "Token fetched") || !strings.Contains(res, "Expires: 20") {
		t.Errorf("Fetch token shows %q, want success with the expiry", res)
	}
	b.page("integrations-fetch-token")
	svc.FailNext(1, http.StatusUnauthorized, "invalid_client")
	b.do("fetch a token the provider refuses", chromedp.Click(`//li[@id="tile-reports-bad"]//button[text()="Fetch token"]`),
		chromedp.WaitVisible(chromedp.CSS("#token-result.failed")))
	if res := b.text("#token-result"); !strings.Contains(res, "The provider refused") {
		t.Errorf("Fetch token the provider refuses shows %q, want the provider's error", res)
	}
	b.page("integrations-fetch-token-error")

	// Refresh now fetches the service token again.
	b.do("refresh the service token", chromedp.Navigate(base+"/console/connections?provider=reports"), chromedp.WaitVisible(chromedp.CSS("table")),
		chromedp.Click(`//button[text()="Refresh now"]`), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if n := b.text("p.notice"); !strings.Contains(n, "Token refreshed") {
		t.Errorf("Refresh now says %q", n)
	}
	if n := svc.Counts().ClientCredentials; n != 2 {
		t.Errorf("client-credentials grants at the stand-in: %d, want 2 (Fetch token, Refresh now)", n)
	}

	// Connections: filter, then Disconnect ada behind a confirm.
	b.do("open Connections", chromedp.Navigate(base+"/console/connections?provider=hooli"), chromedp.WaitVisible(chromedp.CSS("table")))
	b.page("connections")
	b.do("disconnect ada", chromedp.Click(`//tr[td[1][text()="ada"]]//a[text()="Disconnect"]`), chromedp.WaitVisible(chromedp.CSS("#disconnect-warning")))
	b.page("confirm-disconnect")
	b.do("confirm", chromedp.Click(`//button[text()="Disconnect"]`), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if _, err := h.store.GetConnection(t.Context(), store.ConnectionID("hooli", "ada")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ada's connection after Disconnect: %v, want gone", err)
	}
	if _, err := h.engine.GetProvider(t.Context(), "hooli"); err != nil {
		t.Errorf("Disconnect removed the provider: %v", err)
	}

	// A POST without the CSRF token, from the signed-in page, is refused
	// and changes nothing.
	status := run(b, "post without the token", chromedp.Evaluate[float64](
		`fetch("/console/providers/hooli/delete", {method: "POST", credentials: "same-origin"}).then(r => r.status)`,
		chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if status != http.StatusForbidden {
		t.Errorf("POST without the CSRF token: HTTP %v, want 403", status)
	}
	if _, err := h.engine.GetProvider(t.Context(), "hooli"); err != nil {
		t.Errorf("the refused POST deleted the provider: %v", err)
	}

	// Delete the provider: the confirm names the one connection left.
	b.do("delete hooli", chromedp.Navigate(base+"/console/providers"), chromedp.Click(`//tr[td[1][normalize-space(text())="hooli"]]//a[text()="Delete"]`),
		chromedp.WaitVisible(chromedp.CSS("#delete-warning")))
	if w := b.text("#delete-warning"); !strings.Contains(w, "1 connection goes") {
		t.Errorf("the delete confirm says %q, want it to name 1 connection", w)
	}
	b.page("confirm-delete")
	b.do("confirm", chromedp.Click(`//button[text()="Delete"]`), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if _, err := h.engine.GetProvider(t.Context(), "hooli"); err == nil {
		t.Error("the provider is still there after Delete")
	}
	if _, err := h.store.GetConnection(t.Context(), store.ConnectionID("hooli", "bob")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob's connection after Delete: %v, want gone with the provider", err)
	}
	b.page("")

	// Sign out ends the session.
	b.do("sign out", chromedp.Click(`//button[text()="Sign out"]`), chromedp.WaitVisible(chromedp.CSS("#admin_key")))
	b.do("come back", chromedp.Navigate(base+"/console/providers"), chromedp.WaitVisible(chromedp.CSS("#admin_key")))

	// No page held the secret, and no log line held a secret.
	for i, page := range b.html {
		for _, s := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), adminKey} {
			if strings.Contains(page, s) {
				t.Errorf("page %d holds a secret (%d characters)", i, len(s))
			}
		}
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "console sign-in") {
		t.Fatalf("the log scan saw no console log lines:\n%s", logs)
	}
	scan := map[string]string{"client secret": secret, "admin key": adminKey, "session cookie": session.Value,
		"stand-in secret": svc.ClientSecret()}
	if m := csrfField.FindStringSubmatch(b.html[len(b.html)-1]); m != nil {
		scan["CSRF token"] = m[1]
	}
	for name, s := range scan {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold the %s", name)
		}
	}
	fmt.Fprintf(os.Stderr, "console browser test: %d pages read, screenshots in %s\n", len(b.html), b.shot)
}
