package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/internal/netguard"
)

// tryOptions are the flags of `authengine try`.
type tryOptions struct {
	engineURL         string
	apiKey            string
	adminKey          string
	clientCredentials bool
	scopes            []string
	variables         map[string]string
	timeout           time.Duration
	noBrowser         bool
	verbose           bool
}

func tryFlags(fs *pflag.FlagSet, o *options) {
	configFlags(fs, o)
	t := &o.try
	fs.BoolVar(&t.clientCredentials, "client-credentials", false, "try a client-credentials (service) provider: fetch a token, then fetch it again")
	fs.StringSliceVar(&t.scopes, "scopes", nil, "scopes to ask for, comma-separated (default: the provider's default_scopes)")
	fs.StringToStringVar(&t.variables, "connection-variable", nil, "a value of the provider's oauth2.connection_variables, name=value (repeat the flag for each)")
	fs.DurationVar(&t.timeout, "timeout", 5*time.Minute, "how long to wait for the browser to come back from the provider")
	fs.BoolVar(&t.noBrowser, "no-browser", false, "print the authorize URL only, never open a browser")
	fs.StringVar(&t.engineURL, "engine", "", "use the engine running at this URL (started on the same configuration) instead of starting one in-process")
	fs.StringVar(&t.apiKey, "api-key", "", "with --engine: an API key of that engine (default: data_dir/dev-keys.json in development mode)")
	fs.StringVar(&t.adminKey, "admin-key", "", "with --engine: an admin key of that engine, for the refresh step (default: data_dir/dev-keys.json in development mode)")
	fs.BoolVar(&t.verbose, "verbose", false, "print the in-process engine's log on stderr")
}

// tryUser is the user id a try's authorization is made for; a fresh one
// each run, so a running engine never answers from an earlier try.
func tryUser() string { return "authengine-try-" + randomToken()[:8] }

// tryProvider runs `authengine try <provider-id>`: one real authorization
// (or, for a client-credentials provider, one service token) through an
// engine on the configuration, then one refresh and one user-info call,
// each step reported as passed (✓) or failed (✗) with the provider's
// error and a hint. It fails (exit 1) unless every step passed. No token
// or secret is ever printed whole: secrets show their last 4 characters.
func tryProvider(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	if len(o.args) != 1 {
		return usageError{"want exactly one provider id: authengine try <provider-id>"}
	}
	id := o.args[0]
	l, err := load(o.configPath, o.envPath, stderr)
	if err != nil {
		return err
	}
	pc, err := tryProviderConfig(l.cfg, id)
	if err != nil {
		return err
	}
	cc := pc.OAuth2.GrantType == config.GrantClientCredentials
	if o.try.clientCredentials && !cc {
		return usageError{fmt.Sprintf("provider %q uses grant_type %s; --client-credentials is for client_credentials providers: leave it out", id, pc.OAuth2.GrantType)}
	}
	t := &tryRun{out: stdout, id: id, cfg: l.cfg, pc: pc, opts: o.try, user: tryUser()}
	t.secret(pc.ClientSecret)
	if o.try.engineURL == "" {
		te, err := startTryEngine(ctx, l, o.try.verbose, stderr)
		if err != nil {
			return err
		}
		defer te.stop()
		t.api, t.local = te.api, te.engine
		t.guarded = slices.Contains(te.guarded, id)
		fmt.Fprintf(stdout, "engine      in-process at %s (a temporary store: nothing is kept)\n", te.api.base)
		if !cc && !localURL(l.cfg.API.PublicURL) {
			fmt.Fprintf(stdout, "note        the provider sends the browser to %s, which must reach this machine; for a deployed engine use --engine %s\n",
				l.cfg.API.RedirectURI(), l.cfg.API.PublicURL)
		}
	} else {
		if t.api, err = remoteEngine(l.cfg, o.try); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "engine      %s (user %s)\n", t.api.base, t.user)
	}
	defer t.api.client.CloseIdleConnections()
	if t.provider = t.compiled(ctx, l); t.provider == nil {
		return fmt.Errorf("provider %q did not compile; run authengine check", id)
	}
	fmt.Fprintf(stdout, "provider    %s (grant %s)\n", id, pc.OAuth2.GrantType)
	if cc {
		t.clientCredentials(ctx)
	} else {
		fmt.Fprintf(stdout, "redirect    %s (register exactly this redirect URI with the provider)\n", l.cfg.API.RedirectURI())
		t.authorizationCode(ctx)
	}
	return t.summary()
}

// tryProviderConfig finds the enabled provider id in the configuration.
func tryProviderConfig(cfg *config.Config, id string) (config.Provider, error) {
	var ids []string
	for _, p := range cfg.Auth.Providers {
		if p.ID == id {
			if !p.IsEnabled() {
				return p, fmt.Errorf("provider %q is disabled (enabled: false): enable it to try it", id)
			}
			if p.Type != "" && p.Type != "oauth2" {
				return p, fmt.Errorf("provider %q is of type %s: try runs oauth2 providers", id, p.Type)
			}
			return p, nil
		}
		if p.IsEnabled() {
			ids = append(ids, p.ID)
		}
	}
	sort.Strings(ids)
	return config.Provider{}, fmt.Errorf("no provider %q in the configuration (enabled providers: %s)", id, strings.Join(ids, ", "))
}

// localURL reports whether u names this machine (localhost or a loopback
// address), where an in-process engine's callback is reached.
func localURL(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := pu.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tryEngine is an engine try started in-process.
type tryEngine struct {
	api    *engineAPI
	engine *engine.Engine
	// guarded are the providers the engine sends through the
	// private-address guard (completed from remote metadata).
	guarded []string
	stop    func()
}

// startTryEngine assembles an engine on a copy of the configuration, as
// serve does, and serves it on the configured address (the provider sends
// the browser back to api.public_url). The copy keeps the providers, the
// public URL and development mode, and replaces what must not be touched
// or reached by a trial: a temporary embedded store under fresh keys
// (nothing is kept), no webhooks, tool workers, background refresh, user
// verification or console, and the admin API on the main listener.
func startTryEngine(ctx context.Context, l *loaded, verbose bool, stderr io.Writer) (*tryEngine, error) {
	cfg := *l.cfg
	dir, err := os.MkdirTemp("", "authengine-try-")
	if err != nil {
		return nil, fmt.Errorf("create a temporary store: %w", err)
	}
	cleanup := []func(){func() { os.RemoveAll(dir) }}
	undo := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	_, rootKey, err := seal.GenerateKey("try")
	if err != nil {
		undo()
		return nil, err
	}
	apiKey, adminKey := "ae_try_"+randomToken(), "ae_try_admin_"+randomToken()
	off := false
	cfg.DataDir = dir
	cfg.Store = config.Store{Type: "embedded", Embedded: config.EmbeddedStore{Path: filepath.Join(dir, "try.db")}}
	cfg.Security.RootKeys = []config.RootKey{{ID: "try", Value: rootKey}}
	cfg.API.APIKeys, cfg.API.AdminKeys = []string{apiKey}, []string{adminKey}
	cfg.API.AdminListen, cfg.API.AccessLog = "", &off
	cfg.Telemetry.Metrics.Listen = ""
	cfg.Webhooks, cfg.Tools, cfg.Refresh = nil, config.Tools{}, config.Refresh{}
	cfg.Auth.UserVerification.Enabled = false
	cfg.Console.Enabled = &off

	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = newLogger(cfg.Telemetry.Log, stderr)
	}
	addr := net.JoinHostPort(cfg.API.Host, strconv.Itoa(cfg.API.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		undo()
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on %s: the address is in use; if an engine runs there on this configuration, use it: authengine try --engine %s", addr, cfg.API.PublicURL)
		}
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	inst, err := assemble(ctx, &loaded{cfg: &cfg, providers: l.providers}, log, false, io.Discard)
	if err != nil {
		ln.Close()
		undo()
		return nil, err
	}
	srv := &http.Server{Handler: inst.handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	cleanup = append(cleanup, inst.close, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		inst.engine.Drain()
		_ = srv.Shutdown(sctx)
		<-served
		_ = inst.engine.Close(sctx)
	})
	// The API is asked over loopback when the engine listens on every
	// address.
	addrPort := ln.Addr().(*net.TCPAddr)
	host := addrPort.IP.String()
	if addrPort.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(addrPort.Port))
	return &tryEngine{
		api:     &engineAPI{base: base, apiKey: apiKey, adminKey: adminKey, client: engineAPIClient()},
		engine:  inst.engine,
		guarded: inst.guarded,
		stop:    undo,
	}, nil
}

// engineAPIClient is the client of one run's calls to the engine: a
// transport of its own, whose connections the run closes when it ends, so
// a later run in the same process (tests) never reuses a connection to an
// engine that has stopped on the same port.
func engineAPIClient() *http.Client {
	return &http.Client{Timeout: 75 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

// remoteEngine is the engine at --engine, with the keys from the flags
// or, in development mode, from the keys file.
func remoteEngine(cfg *config.Config, o tryOptions) (*engineAPI, error) {
	u, err := url.Parse(o.engineURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		given := "" // a URL that does not parse may hold a password: not repeated
		if err == nil {
			given = fmt.Sprintf(" %q", u.Redacted())
		}
		return nil, usageError{fmt.Sprintf("--engine%s: want the engine's base URL, such as %s", given, cfg.API.PublicURL)}
	}
	// A user:password in the URL is never sent (the keys go as bearer
	// tokens) and never printed.
	u.User = nil
	api := &engineAPI{base: strings.TrimRight(u.String(), "/"), apiKey: o.apiKey, adminKey: o.adminKey, client: engineAPIClient()}
	if (api.apiKey == "" || api.adminKey == "") && cfg.API.Development {
		if raw, err := os.ReadFile(filepath.Join(cfg.DataDir, "dev-keys.json")); err == nil {
			var dk devKeys
			if json.Unmarshal(raw, &dk) == nil {
				api.apiKey = cmp.Or(api.apiKey, dk.APIKey)
				api.adminKey = cmp.Or(api.adminKey, dk.AdminKey)
			}
		}
	}
	if api.apiKey == "" {
		return nil, usageError{"--engine needs an API key of that engine: --api-key or " + flagEnv("api-key")}
	}
	return api, nil
}

// engineAPI calls an engine's HTTP API.
type engineAPI struct {
	base, apiKey, adminKey string
	client                 *http.Client
}

// apiError is the engine's error answer.
type apiError struct {
	Status  int    `json:"-"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Name, e.Message)
}

// call sends one request with key and decodes a 2xx answer into out; any
// other answer is an *apiError.
func (a *engineAPI) call(ctx context.Context, method, path, key string, body, out any) error {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("ask the engine: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the engine's answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(raw, ae) != nil || ae.Name == "" {
			ae.Name, ae.Message = "http_error", clipText(string(raw), 200)
		}
		return ae
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// authorization is the engine's AuthorizationResponse, as try reads it.
type authorization struct {
	ID            string   `json:"id"`
	Status        string   `json:"status"`
	URL           string   `json:"url"`
	Scopes        []string `json:"scopes"`
	Reason        string   `json:"reason"`
	ReasonName    string   `json:"reason_name"`
	MissingScopes []string `json:"missing_scopes"`
	Context       struct {
		Token    string         `json:"token"`
		UserInfo map[string]any `json:"user_info"`
		Metadata map[string]any `json:"metadata"`
	} `json:"context"`
}

// connectionInfo is a connection as the engine lists it.
type connectionInfo struct {
	ID             string   `json:"id"`
	Status         string   `json:"status"`
	Scopes         []string `json:"scopes"`
	ExpiresAt      string   `json:"expires_at"`
	DeclinedScopes []string `json:"declined_scopes"`
}

func (a *engineAPI) authorize(ctx context.Context, provider, user string, scopes []string, variables map[string]string) (authorization, error) {
	req := map[string]any{"user_id": user, "auth_requirement": map[string]any{
		"provider_id": provider, "provider_type": "oauth2", "oauth2": map[string]any{"scopes": nonNilScopes(scopes)},
		"connection_variables": variables,
	}}
	var out authorization
	err := a.call(ctx, http.MethodPost, "/v1/auth/authorize", a.apiKey, req, &out)
	return out, err
}

func (a *engineAPI) status(ctx context.Context, id string, wait time.Duration) (authorization, error) {
	var out authorization
	q := url.Values{"id": {id}, "wait": {strconv.Itoa(int(wait / time.Second))}}
	err := a.call(ctx, http.MethodGet, "/v1/auth/status?"+q.Encode(), a.apiKey, nil, &out)
	return out, err
}

// connection returns the provider's connection of user ("" for a service
// token, which needs the admin key).
func (a *engineAPI) connection(ctx context.Context, provider, user string) (connectionInfo, error) {
	var list struct {
		Items []struct {
			connectionInfo
			ProviderID string `json:"provider_id"`
		} `json:"items"`
	}
	var err error
	if user != "" {
		err = a.call(ctx, http.MethodGet, "/v1/auth/connections?"+url.Values{"user_id": {user}}.Encode(), a.apiKey, nil, &list)
	} else {
		err = a.call(ctx, http.MethodGet, "/v1/admin/user_connections?"+url.Values{"provider_id": {provider}}.Encode(), a.adminKey, nil, &list)
	}
	if err != nil {
		return connectionInfo{}, err
	}
	for _, it := range list.Items {
		if it.ProviderID == provider {
			return it.connectionInfo, nil
		}
	}
	return connectionInfo{}, fmt.Errorf("the engine lists no connection of provider %q", provider)
}

func (a *engineAPI) refresh(ctx context.Context, connID string) (string, error) {
	var out struct {
		ExpiresAt string `json:"expires_at"`
	}
	err := a.call(ctx, http.MethodPost, "/v1/admin/user_connections/"+url.PathEscape(connID)+"/refresh", a.adminKey, nil, &out)
	return out.ExpiresAt, err
}

func (a *engineAPI) disconnect(ctx context.Context, connID string) error {
	return a.call(ctx, http.MethodDelete, "/v1/admin/user_connections/"+url.PathEscape(connID), a.adminKey, nil, nil)
}

func nonNilScopes(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// tryRun is one run of try: what it talks to and the steps so far.
type tryRun struct {
	out      io.Writer
	id       string
	cfg      *config.Config
	pc       config.Provider
	provider *authflow.Provider
	opts     tryOptions
	user     string
	api      *engineAPI
	// local is the in-process engine (nil with --engine), which shows the
	// refresh token, token type and id token it mapped, masked.
	local *engine.Engine
	// guarded: the provider's endpoints came partly from remote metadata
	// (an issuer's discovery document on another host), so try's own
	// requests go through the private-address guard, as the engine's do.
	guarded bool

	passed, failed int
	// secrets are the values this run knows to be secret (the client
	// secret, the access tokens handed out): a provider's error may quote
	// them, and each is printed as its last 4 characters.
	secrets []string
}

// secret records s as a value never to print whole.
func (t *tryRun) secret(s string) {
	if len(s) >= 4 && !slices.Contains(t.secrets, s) {
		t.secrets = append(t.secrets, s)
	}
}

// masked is s with every known secret masked.
func (t *tryRun) masked(s string) string {
	for _, v := range t.secrets {
		s = strings.ReplaceAll(s, v, cmp.Or(engine.SecretHint(v), "****"))
	}
	return s
}

// compiled is the provider as the engine runs it (endpoints filled in
// from discovery when given by an issuer).
func (t *tryRun) compiled(ctx context.Context, l *loaded) *authflow.Provider {
	if t.local != nil {
		return t.local.Providers()[t.id]
	}
	// Providers given by an issuer are completed from their metadata, as
	// check does.
	found, err := resolveProviders(ctx, l.cfg, l.providers, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil
	}
	t.guarded = slices.Contains(found.guarded, t.id)
	return l.providers[t.id]
}

// pass and fail print one step's outcome; fail adds the hints, each on
// its own line.
func (t *tryRun) pass(step, format string, args ...any) {
	t.passed++
	fmt.Fprintf(t.out, "✓ %-12s %s\n", step, t.masked(fmt.Sprintf(format, args...)))
}

func (t *tryRun) fail(step, what string, hints ...string) {
	t.failed++
	fmt.Fprintf(t.out, "✗ %-12s %s\n", step, t.masked(what))
	for _, h := range hints {
		if h != "" {
			fmt.Fprintf(t.out, "  hint: %s\n", t.masked(h))
		}
	}
}

func (t *tryRun) skip(step, why string) {
	fmt.Fprintf(t.out, "- %-12s skipped: %s\n", step, why)
}

func (t *tryRun) detail(name, format string, args ...any) {
	fmt.Fprintf(t.out, "    %-14s %s\n", name, t.masked(fmt.Sprintf(format, args...)))
}

// summary ends the run: nil when every step passed.
func (t *tryRun) summary() error {
	if t.failed == 0 {
		fmt.Fprintf(t.out, "\nevery step passed (%d)\n", t.passed)
		return nil
	}
	fmt.Fprintf(t.out, "\n%d of %d steps failed\n", t.failed, t.failed+t.passed)
	return errReported
}

// requested is the scopes to ask for.
func (t *tryRun) requested() []string {
	if len(t.opts.scopes) > 0 {
		return t.opts.scopes
	}
	return t.pc.OAuth2.DefaultScopes
}

// authorizationCode runs the authorization-code steps.
func (t *tryRun) authorizationCode(ctx context.Context) {
	redirect := t.cfg.API.RedirectURI()
	flow, err := t.api.authorize(ctx, t.id, t.user, t.requested(), t.opts.variables)
	if err != nil {
		t.fail("authorize", "the engine refused to start the authorization: "+safeText(err.Error()), authorizeHint(err))
		return
	}
	if flow.Status == engine.StatusPending {
		fmt.Fprintf(t.out, "\nOpen this URL in a browser and authorize:\n\n  %s\n\n", flow.URL)
		if !t.opts.noBrowser && openBrowser(flow.URL) {
			fmt.Fprintln(t.out, "(opened in your browser)")
		}
		flow, err = t.waitCallback(ctx, flow, redirect)
		if err != nil {
			t.fail("callback", safeText(err.Error()), redirectHint(redirect, ""))
			return
		}
	}
	if t.opts.engineURL != "" && flow.Status == engine.StatusCompleted {
		defer t.cleanupConnection()
	}
	switch flow.Status {
	case engine.StatusCompleted:
	case engine.StatusFailed:
		t.flowFailed(flow, redirect)
		return
	default:
		t.fail("callback", fmt.Sprintf("no callback within %s: the browser did not come back from the provider", t.opts.timeout),
			redirectHint(redirect, ""),
			"if the provider showed no error, authorize within --timeout (the engine keeps a flow for auth.flow_ttl)")
		return
	}
	t.secret(flow.Context.Token)
	t.pass("callback", "the provider sent the browser back with a code, and the engine redeemed it")
	conn, ok := t.showToken(ctx, flow, t.user)
	if !ok {
		return
	}
	token, metadata := flow.Context.Token, flow.Context.Metadata
	if t.provider.UserInfoOnGrant() {
		t.checkUserInfoMap("user info", flow.Context.UserInfo, "on grant")
	}
	if again, ok := t.refreshStep(ctx, conn); ok && again.Context.Token != "" {
		token, metadata = again.Context.Token, again.Context.Metadata
	}
	t.userInfoStep(ctx, token, metadata, flow.Context.UserInfo)
}

// cleanupConnection disconnects the trial user at a running engine.
func (t *tryRun) cleanupConnection() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if conn, err := t.api.connection(ctx, t.id, t.user); err == nil && t.api.adminKey != "" {
		if err := t.api.disconnect(ctx, conn.ID); err != nil {
			fmt.Fprintf(t.out, "(could not disconnect the trial connection %s: %s)\n", conn.ID, t.masked(safeText(err.Error())))
		}
	}
}

// waitCallback waits for the flow to end, showing what it waits for.
func (t *tryRun) waitCallback(ctx context.Context, flow authorization, redirect string) (authorization, error) {
	deadline := time.Now().Add(t.opts.timeout)
	tty := isTerminal(t.out)
	line := fmt.Sprintf("… waiting for the browser to come back to %s", redirect)
	if !tty {
		fmt.Fprintf(t.out, "%s (up to %s; Ctrl-C stops)\n", line, t.opts.timeout)
	}
	start := time.Now()
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		// On a terminal the line counts the seconds, redrawn in place.
		wait := min(left, 59*time.Second)
		if tty {
			fmt.Fprintf(t.out, "\r%s (%s of %s; Ctrl-C stops) ", line, time.Since(start).Round(time.Second), t.opts.timeout)
			wait = min(left, time.Second)
		}
		wait = max(wait, time.Second)
		cur, err := t.api.status(ctx, flow.ID, wait)
		var ae *apiError
		if errors.As(err, &ae) && ae.Name == "flow_failed" {
			cur, err = t.api.status(ctx, flow.ID, 0)
		}
		if err != nil {
			if ctx.Err() != nil {
				err = errors.New("stopped while waiting for the callback")
			}
			if tty {
				fmt.Fprintln(t.out)
			}
			return flow, err
		}
		if cur.Status != engine.StatusPending {
			if tty {
				fmt.Fprintln(t.out)
			}
			return cur, nil
		}
		flow = cur
	}
	if tty {
		fmt.Fprintln(t.out)
	}
	return flow, nil
}

// flowFailed reports a flow that ended failed, by what failed.
func (t *tryRun) flowFailed(flow authorization, redirect string) {
	reason := safeText(flow.Reason)
	switch flow.ReasonName {
	case "token_exchange":
		t.pass("callback", "the provider sent the browser back with a code")
		t.fail("token", "the code exchange failed: "+reason, tokenHints(reason, t.pc.OAuth2.TokenRequest, "token_request", redirect)...)
	case "user_info":
		t.pass("callback", "the provider sent the browser back with a code")
		t.pass("token", "the code exchange answered with a token")
		t.fail("user info", "the user-info request on grant failed: "+reason, userInfoHint(reason),
			"the engine fetches user info at the grant (user_info_request.triggers.on_token_grant: true), so the authorization fails with it")
	case "scope_not_granted":
		t.pass("callback", "the provider sent the browser back with a code")
		t.fail("scopes", fmt.Sprintf("requested %s, the provider did not grant %s", scopeList(flow.Scopes), scopeList(flow.MissingScopes)),
			"the OAuth app may lack those scopes (enable them in the provider's console), or the user unticked them; ask for fewer with --scopes")
	case "access_denied":
		t.fail("callback", "the provider answered access_denied: "+reason, "the user (you) clicked Deny, or the OAuth app is not allowed for this account")
	case "invalid_scope":
		t.fail("callback", "the provider refused the scopes: "+reason,
			fmt.Sprintf("requested %s: check the scope names in the provider's documentation and oauth2.allowed_scopes / default_scopes", scopeList(flow.Scopes)))
	default:
		t.fail("callback", fmt.Sprintf("the authorization failed (%s): %s", flow.ReasonName, reason), redirectHintIf(reason, redirect))
	}
}

// showToken reports what the engine understood of the grant: the token
// fields (masked), the expiry, the scopes and the user info. It returns
// the connection for the next steps.
func (t *tryRun) showToken(ctx context.Context, flow authorization, user string) (connectionInfo, bool) {
	conn, err := t.api.connection(ctx, t.id, user)
	if err != nil {
		t.fail("token", "the engine has no connection after the grant: "+safeText(err.Error()))
		return conn, false
	}
	var view *engine.TokenView
	if t.local != nil {
		if v, err := t.local.InspectToken(ctx, conn.ID); err == nil {
			view = &v
		}
	}
	t.pass("token", "the engine mapped the provider's token response:")
	t.detail("access_token", "%s", engine.SecretHint(flow.Context.Token))
	if view != nil {
		t.detail("refresh_token", "%s", orNone(view.RefreshToken))
		t.detail("token_type", "%s", orNone(view.TokenType))
		if view.IDToken != "" {
			t.detail("id_token", "%s", view.IDToken)
		}
	} else {
		t.detail("refresh_token", "(a running engine does not show it; the refresh step tells)")
	}
	t.detail("expires", "%s", describeExpiry(conn.ExpiresAt))
	requested := flow.Scopes
	if requested == nil {
		requested = t.requested()
	}
	t.detail("scopes", "requested %s, granted %s", scopeList(requested), scopeList(conn.Scopes))
	if len(conn.DeclinedScopes) > 0 {
		t.detail("declined", "%s", scopeList(conn.DeclinedScopes))
	}
	if len(flow.Context.Metadata) > 0 {
		t.detail("metadata", "%s", jsonLine(flow.Context.Metadata))
	}
	if flow.Context.UserInfo != nil {
		t.detail("user_info", "%s", jsonLine(flow.Context.UserInfo))
	}
	t.checkTokenMap(view, conn, flow.Context.Metadata)
	return conn, true
}

// checkTokenMap names every token_request.response_map path that found
// nothing in the provider's answer (access_token is checked by the
// engine itself: the grant fails without it).
func (t *tryRun) checkTokenMap(view *engine.TokenView, conn connectionInfo, metadata map[string]any) {
	tr := t.pc.OAuth2.TokenRequest
	if tr == nil || len(tr.ResponseMap) == 0 {
		return
	}
	var missing []string
	for _, key := range slices.Sorted(maps.Keys(tr.ResponseMap)) {
		found := true
		switch key {
		case "access_token", "scope":
			continue // checked by the grant; an absent scope means the requested ones
		case "expires_in":
			found = conn.ExpiresAt != ""
		case "refresh_token", "token_type", "id_token":
			if view == nil {
				continue
			}
			found = map[string]string{"refresh_token": view.RefreshToken, "token_type": view.TokenType, "id_token": view.IDToken}[key] != ""
		default:
			_, found = metadata[key]
		}
		if !found {
			missing = append(missing, fmt.Sprintf("token_request.response_map.%s: %s", key, tr.ResponseMap[key]))
		}
	}
	if len(missing) > 0 {
		t.fail("response_map", "these paths found nothing in the token response: "+strings.Join(missing, "; "),
			"compare each path with the provider's documented token response (a nested answer needs its object's name, such as $.authed_user."+"refresh_token); a path that finds nothing leaves the field empty")
	}
}

// checkUserInfoMap names user_info_request.response_map keys absent
// from info.
func (t *tryRun) checkUserInfoMap(step string, info map[string]any, when string) {
	ur := t.pc.OAuth2.UserInfoRequest
	if ur == nil || len(ur.ResponseMap) == 0 {
		return
	}
	var missing []string
	for _, key := range slices.Sorted(maps.Keys(ur.ResponseMap)) {
		if _, ok := info[key]; !ok {
			missing = append(missing, fmt.Sprintf("user_info_request.response_map.%s: %s", key, ur.ResponseMap[key]))
		}
	}
	if len(missing) > 0 {
		t.fail(step, fmt.Sprintf("these paths found nothing in the user-info response (%s): %s", when, strings.Join(missing, "; ")),
			"compare each path with the provider's documented user-info response")
	}
}

// refreshStep asks the engine to refresh the connection now, and returns
// the authorization that hands out the new access token.
func (t *tryRun) refreshStep(ctx context.Context, conn connectionInfo) (authorization, bool) {
	if !t.provider.CanRefresh() {
		t.skip("refresh", "the provider has no refresh_token_request (its tokens are used until they expire)")
		return authorization{}, false
	}
	if t.api.adminKey == "" {
		t.fail("refresh", "no admin key for the running engine", "pass --admin-key or set "+flagEnv("admin-key"))
		return authorization{}, false
	}
	expires, err := t.api.refresh(ctx, conn.ID)
	if err != nil {
		t.refreshFailed(err, "refresh_token_request")
		return authorization{}, false
	}
	again, err := t.api.authorize(ctx, t.id, t.user, t.requested(), t.opts.variables)
	if err != nil || again.Status != engine.StatusCompleted {
		t.fail("refresh", "the engine refreshed, but then handed out no token: "+safeText(errText(err, again.Reason)))
		return authorization{}, false
	}
	t.secret(again.Context.Token)
	changed := "a new access token"
	if again.Context.Token == "" {
		changed = "no access token"
	}
	msg := fmt.Sprintf("the provider answered the refresh: %s %s, expires %s", changed, engine.SecretHint(again.Context.Token), describeExpiry(expires))
	if t.local != nil {
		if v, err := t.local.InspectToken(ctx, conn.ID); err == nil {
			msg += ", refresh token " + orNone(v.RefreshToken)
		}
	}
	t.pass("refresh", "%s", msg)
	return again, true
}

// refreshFailed reports a refused refresh (or fetch again) with a hint.
func (t *tryRun) refreshFailed(err error, block string) {
	var ae *apiError
	if !errors.As(err, &ae) {
		t.fail("refresh", safeText(err.Error()))
		return
	}
	msg := safeText(ae.Message)
	switch {
	case ae.Name == "refresh_not_possible":
		hint := "no refresh token came with the grant: many providers issue one only for offline access, the offline_access scope (OpenID Connect) or an authorize param such as Google's access_type=offline (with prompt=consent); some never do (GitHub OAuth apps): then remove refresh_token_request"
		if rm := t.pc.OAuth2.TokenRequest; rm != nil && rm.ResponseMap["refresh_token"] != "" {
			hint += fmt.Sprintf("; or token_request.response_map.refresh_token (%s) found nothing", rm.ResponseMap["refresh_token"])
		}
		t.fail("refresh", "the provider returned no refresh token, so the engine cannot refresh", hint)
	default:
		var r *config.Request
		if block == "refresh_token_request" {
			r = t.pc.OAuth2.RefreshTokenRequest
		} else {
			r = t.pc.OAuth2.TokenRequest
		}
		t.fail("refresh", fmt.Sprintf("the engine answered %s: %s", ae.Name, msg), tokenHints(msg, r, block, t.cfg.API.RedirectURI())...)
	}
}

// userInfoStep calls the provider's user-info endpoint with token and the
// token's metadata (<<metadata.NAME>>), as the engine does. A provider
// whose user info is the id_token's claims (oauth2.user_info_from:
// id_token) has no endpoint to call: the step shows the claims the engine
// kept on grant, granted.
func (t *tryRun) userInfoStep(ctx context.Context, token string, metadata, granted map[string]any) {
	if t.provider.IDTokenUserInfo() {
		if len(granted) == 0 {
			t.fail("user info", "the engine kept no claims from the id_token",
				"the user info comes from the verified id_token (oauth2.user_info_from: id_token): check that the provider returns one for the openid scope")
			return
		}
		t.pass("user info", "from the verified id_token's claims (oauth2.user_info_from: id_token; no endpoint to call): %s", jsonLine(granted))
		return
	}
	if !t.provider.HasUserInfo() {
		t.skip("user info", "the provider has no user_info_request")
		return
	}
	if token == "" {
		t.fail("user info", "no access token to call it with")
		return
	}
	// The call renders the connection's variables, as the engine's does.
	p := t.provider
	if values, err := p.ConnectionValues(t.opts.variables); err == nil {
		p = p.WithConnection(values)
	}
	info, err := p.UserInfo(ctx, t.providerClient(p), &authflow.Token{AccessToken: token, Extra: metadata})
	if err != nil {
		var pe *authflow.ProviderError
		if errors.As(err, &pe) {
			what := fmt.Sprintf("the provider answered HTTP %d", pe.Status)
			if pe.Code != "" {
				what += " " + pe.Code
			}
			if pe.Description != "" {
				what += ": " + pe.Description
			}
			t.fail("user info", safeText(what), userInfoHint(what))
			return
		}
		t.fail("user info", safeText(err.Error()), userInfoHint(err.Error()))
		return
	}
	before := t.failed
	t.checkUserInfoMap("user info", info, "called after the refresh")
	if t.failed == before {
		t.pass("user info", "the provider answered: %s", jsonLine(info))
	}
}

// providerClient is the client for try's own requests to p: as the
// engine's, one that refuses private addresses when they are dialled for a
// provider whose hosts an app's connection variable, the provider's own
// token metadata or a remote discovery document decide (unless
// security.allow_private_endpoints).
func (t *tryRun) providerClient(p *authflow.Provider) *http.Client {
	c := providerClient()
	if (t.guarded || p.RemoteHosts()) && !t.cfg.Security.AllowPrivateEndpoints {
		c.Transport = netguard.Transport(c.Transport.(*http.Transport))
	}
	return c
}

// clientCredentials runs the client-credentials steps: a token, its
// fields, and a second fetch.
func (t *tryRun) clientCredentials(ctx context.Context) {
	first, err := t.api.authorize(ctx, t.id, "authengine-try", t.requested(), t.opts.variables)
	t.secret(first.Context.Token)
	if err == nil && first.Status != engine.StatusCompleted {
		err = errors.New(errText(nil, first.Reason))
	}
	if err != nil {
		msg := safeText(err.Error())
		var ae *apiError
		if errors.As(err, &ae) {
			msg = fmt.Sprintf("the engine answered %s: %s", ae.Name, safeText(ae.Message))
		}
		t.fail("token", "the client-credentials request failed: "+msg, tokenHints(msg, t.pc.OAuth2.TokenRequest, "token_request", "")...)
		return
	}
	if t.api.adminKey == "" {
		t.pass("token", "the provider issued a service token %s", engine.SecretHint(first.Context.Token))
		t.fail("fetch again", "no admin key for the running engine", "pass --admin-key or set "+flagEnv("admin-key"))
		return
	}
	conn, ok := t.showToken(ctx, first, "")
	if !ok {
		return
	}
	if _, err := t.api.refresh(ctx, conn.ID); err != nil {
		t.refreshFailed(err, "token_request")
		return
	}
	again, err := t.api.authorize(ctx, t.id, "authengine-try", t.requested(), t.opts.variables)
	if err != nil || again.Status != engine.StatusCompleted {
		t.fail("fetch again", "the engine fetched a token, but then handed out none: "+safeText(errText(err, again.Reason)))
		return
	}
	t.secret(again.Context.Token)
	same := ""
	if again.Context.Token == first.Context.Token {
		same = " (the same token: the provider hands out one until it expires)"
	}
	t.pass("fetch again", "the provider issued another service token %s%s", engine.SecretHint(again.Context.Token), same)
}

// The hints: each reads the provider's error (already client-safe) for a
// known cause.

var (
	reInvalidClient = regexp.MustCompile(`(?i)invalid_client|unauthorized_client|HTTP 401|client authentication|client_secret`)
	reRedirect      = regexp.MustCompile(`(?i)redirect_uri|redirect uri|redirect_mismatch`)
	reMapNothing    = regexp.MustCompile(`response_map\.([A-Za-z0-9_.\[\]"-]+): (.*?) matched nothing`)
)

// tokenHints explains a failed token-endpoint request of block (r).
func tokenHints(reason string, r *config.Request, block, redirect string) []string {
	var hints []string
	if m := reMapNothing.FindStringSubmatch(reason); m != nil {
		hints = append(hints, fmt.Sprintf("%s.response_map.%s is %s, which found nothing in the provider's answer: compare it with the provider's documented token response", block, m[1], m[2]))
	}
	if reInvalidClient.MatchString(reason) && r != nil {
		method := r.AuthMethod
		if method == "" {
			method = "client_secret_basic"
		}
		other := map[string]string{"client_secret_basic": "client_secret_post", "client_secret_post": "client_secret_basic"}[method]
		h := fmt.Sprintf("the provider refused the client authentication: %s.auth_method is %s", block, method)
		if other != "" {
			h += "; try auth_method: " + other
		}
		hints = append(hints, h+" (and check client_id and client_secret)")
	}
	if reRedirect.MatchString(reason) {
		hints = append(hints, redirectHint(redirect, block))
	}
	if strings.Contains(reason, "invalid_grant") && len(hints) == 0 {
		hints = append(hints, fmt.Sprintf("the provider refused the grant: check %s.params (grant_type, redirect_uri: <<redirect_uri>>) and PKCE (oauth2.pkce) as the provider documents them", block))
	}
	return hints
}

// redirectHint names the exact redirect URI to register.
func redirectHint(redirect, block string) string {
	if redirect == "" {
		return ""
	}
	h := "if the provider showed an error about the redirect URI (redirect_uri_mismatch), register exactly " + redirect +
		" with the OAuth app (it is api.public_url + /oauth/callback)"
	if block != "" {
		h += ", and send <<redirect_uri>> in " + block + ".params.redirect_uri"
	}
	return h
}

func redirectHintIf(reason, redirect string) string {
	if reRedirect.MatchString(reason) {
		return redirectHint(redirect, "")
	}
	return ""
}

func userInfoHint(reason string) string {
	if strings.Contains(reason, "401") || strings.Contains(reason, "403") || strings.Contains(reason, "invalid_token") {
		return "the user-info endpoint refused the access token: check user_info_request.endpoint and auth_method (bearer_access_token sends Authorization: Bearer), and that the granted scopes allow reading the user"
	}
	return "check user_info_request (endpoint, method, auth_method) against the provider's documentation"
}

func authorizeHint(err error) string {
	var ae *apiError
	if !errors.As(err, &ae) {
		return "is the engine reachable?"
	}
	switch ae.Name {
	case "invalid_connection_variable":
		if strings.Contains(ae.Message, "is required") || strings.Contains(ae.Message, "does not") {
			return "give the provider's oauth2.connection_variables with --connection-variable NAME=VALUE"
		}
	case "scope_not_allowed":
		return "ask only for scopes in the provider's oauth2.allowed_scopes (--scopes)"
	case "unauthorized":
		return "the API key is wrong: --api-key or " + flagEnv("api-key")
	case "unknown_provider", "provider_not_found":
		return "the engine at --engine runs another configuration; start it on this one"
	}
	return ""
}

// openBrowser opens u where a desktop exists.
func openBrowser(u string) bool {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	} else if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return false
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return false
	}
	cmd := exec.Command(path, u)
	if cmd.Start() != nil {
		return false
	}
	go func() { _ = cmd.Wait() }()
	return true
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func describeExpiry(at string) string {
	if at == "" {
		return "never (the answer had no expires_in)"
	}
	ts, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return at
	}
	return fmt.Sprintf("%s (in %s)", at, time.Until(ts).Round(time.Second))
}

func scopeList(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	return "[" + strings.Join(s, " ") + "]"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func errText(err error, reason string) string {
	if err != nil {
		return err.Error()
	}
	return reason
}

// jsonLine prints v on one line, clipped.
func jsonLine(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return clipText(string(raw), 300)
}

// safeText is provider or engine text fit to print: one line, clipped.
func safeText(s string) string {
	return clipText(strings.Join(strings.Fields(s), " "), 400)
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
