package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/conncache"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/clock"
	"github.com/authengine/authengine/internal/netguard"
	"github.com/authengine/authengine/internal/ratelimit"
)

// Sealer seals secrets before they reach the store and opens them after.
// The aad binds a sealed blob to the record that holds it.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Options is the runtime configuration of an Engine. cmd/authengine
// translates engine.yaml into it; tests build it directly.
type Options struct {
	// Providers are the compiled providers by id.
	Providers map[string]*authflow.Provider
	// DisabledProviders are configured but disabled provider ids; asking
	// for one is a provider_disabled error rather than unknown_provider.
	DisabledProviders []string
	Store             store.Store
	Sealer            Sealer
	// HTTPClient makes every engine.yaml provider's requests. Default: a
	// client with a 30 s timeout.
	HTTPClient *http.Client
	// RuntimeHTTPClient makes the requests of providers added through the
	// admin API. Default: HTTPClient with its transport wrapped by
	// netguard.Transport, so it cannot connect to private addresses
	// (HTTPClient itself when AllowPrivateEndpoints is set). A caller that
	// sets it with AllowPrivateEndpoints false must guard it itself.
	RuntimeHTTPClient *http.Client
	// AllowPrivateEndpoints lets providers added through the admin API
	// reach private addresses (security.allow_private_endpoints). When
	// false, their endpoints are checked when written (Resolver resolves
	// names) and their connections when made.
	AllowPrivateEndpoints bool
	// Resolver resolves endpoint host names when a runtime provider is
	// written. Default net.DefaultResolver.
	Resolver netguard.Resolver
	// ProviderTimeout bounds each provider request. Default 15 s.
	ProviderTimeout time.Duration
	// FlowTTL is how long an unfinished authorization may take. Default 10m.
	FlowTTL time.Duration
	// RefreshMargin: a token this close to expiry is refreshed before it is
	// handed out. Default 60 s.
	RefreshMargin time.Duration
	// RefreshLease is the lifetime of a connection's refresh lock when
	// its holder stops renewing it: the holder renews it every third of
	// it, so a crashed (kill -9) holder blocks others no longer than this.
	// Default 10 s, at least 300 ms.
	RefreshLease time.Duration
	// SaveBudget bounds the retries of a write that must land (a
	// refreshed token, a completed flow) while the store is unavailable;
	// a refreshed token still unsaved after it is kept in memory and
	// retried in the background. Default 8 s.
	SaveBudget time.Duration
	// PublicURL is the origin browsers reach; next_uri may always point at it.
	PublicURL string
	// AllowedRedirectOrigins are further origins next_uri may point at.
	AllowedRedirectOrigins []string
	// VerifierURL, when set, turns on user verification: after the provider
	// callback the browser goes there with ?flow_id=, and the flow completes
	// only when the app confirms the user (ConfirmUser).
	VerifierURL string
	Logger      *slog.Logger
	Metrics     *Metrics
	// Auditor records changes made through the admin plane. Default: a
	// LogAuditor on Logger.
	Auditor Auditor
	// Now is the clock. Default time.Now, or Clock's when that is set.
	Now func() time.Time
	// Clock is the clock the engine's pauses, retries and lease renewals
	// wait on (and Now, when Now is not set). Default: Now with real
	// timers.
	Clock clock.Clock
	// FlowsPerUser and FlowsPerAPIKey bound how many authorization flows
	// one user id, or one API key (the actor WithActor names), may start
	// per FlowTTL in this process; 0 is no limit.
	FlowsPerUser   int
	FlowsPerAPIKey int
	// AuditRetention is how long audit log entries are kept
	// (audit.retention). Default DefaultAuditRetention.
	AuditRetention time.Duration
	// EventTypes are the lifecycle event types (engine/events) recorded in
	// the store's outbox, with the state change each reports: the types
	// some webhook wants. None when empty.
	EventTypes []string
	// GuardedProviders are engine.yaml providers whose endpoints came
	// partly from remote metadata (authflow/discovery): their requests use
	// the runtime client, which refuses private addresses unless
	// AllowPrivateEndpoints is set.
	GuardedProviders []string
	// Reregister makes a new client registration for an engine.yaml
	// provider whose token endpoint refused the client with
	// invalid_client (a remote MCP server that forgot a dynamic
	// registration), returning the provider to use from then on; nil
	// when it cannot (the refusal is then only reported). Nil: never.
	Reregister func(ctx context.Context, providerID string) (*authflow.Provider, error)
	// ClientMetadataProviders are the MCP providers whose client ID
	// metadata document the engine serves (ClientMetadataDocument).
	ClientMetadataProviders []string
	// ConnectionCache configures the in-memory cache of opened connections
	// (conn_cache.go); on by default when the store has a change feed.
	ConnectionCache ConnectionCacheOptions
}

// Engine is the authorization service. It is safe for concurrent use.
type Engine struct {
	// reregister and swapped: registrations redone since start (or the
	// last SetReregister), by provider id (reregister.go).
	reregister atomic.Pointer[reregisterFunc]
	swapped    sync.Map
	clientDocs []string
	store      store.Store
	sealer     Sealer
	client     *http.Client
	// runtimeClient makes the requests of runtime providers; guard checks
	// their endpoints when they are written (nil: no check).
	runtimeClient *http.Client
	// userFlows and keyFlows count flows started per user and per API key.
	userFlows, keyFlows *ratelimit.Limiter
	guard               *endpointGuard
	timeout             time.Duration
	flowTTL             time.Duration
	margin              time.Duration
	lease               time.Duration
	saveBudget          time.Duration
	publicURL           string
	origins             map[string]bool
	verifierURL         string
	log                 *slog.Logger
	metrics             *Metrics
	auditor             Auditor
	now                 func() time.Time
	clock               clock.Clock
	refreshes           flightGroup
	// unsaved holds refreshed token sets the store did not take, by
	// connection id, until they are stored.
	unsavedMu sync.Mutex
	unsaved   map[string]unsavedToken
	// runtime holds the providers added through the admin API, layered
	// under providers (runtime_providers.go).
	runtime runtimeProviders
	// connCounts is ConnectionCounts' kept count (connection_counts.go).
	connCounts connectionCounts
	// conns keeps opened connections in memory while the store's change
	// feed is up; stopConnFeed ends the watch (conn_cache.go).
	conns        *conncache.Cache[cachedConn]
	stopConnFeed func()
	// life tracks the engine's goroutines for Close (lifecycle.go).
	life lifecycle
	// eventTypes are the lifecycle events recorded (lifecycle_events.go).
	eventTypes map[string]bool
	// auditRetention is how long audit log entries are kept (audit_log.go).
	auditRetention time.Duration
	// declared holds the engine.yaml providers; a configuration reload
	// replaces it whole (SetProviders, declared.go), so every request
	// reads one set.
	declared atomic.Pointer[declaredProviders]
	// providerClock, when set, is the clock given to every engine.yaml
	// provider (Options.Now).
	providerClock func() time.Time
}

// New validates opts and returns an Engine.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("engine: a store is required")
	}
	if opts.Sealer == nil {
		return nil, errors.New("engine: a sealer is required")
	}
	e := &Engine{
		store:       opts.Store,
		sealer:      opts.Sealer,
		client:      opts.HTTPClient,
		timeout:     opts.ProviderTimeout,
		flowTTL:     opts.FlowTTL,
		margin:      opts.RefreshMargin,
		lease:       opts.RefreshLease,
		saveBudget:  opts.SaveBudget,
		publicURL:   strings.TrimRight(opts.PublicURL, "/"),
		origins:     map[string]bool{},
		verifierURL: opts.VerifierURL,
		log:         opts.Logger,
		metrics:     opts.Metrics,
		auditor:     opts.Auditor,
		now:         opts.Now,
		eventTypes:  eventTypeSet(opts.EventTypes),
	}
	e.auditRetention = opts.AuditRetention
	if e.auditRetention <= 0 {
		e.auditRetention = DefaultAuditRetention
	}
	e.SetReregister(opts.Reregister)
	e.clientDocs = opts.ClientMetadataProviders
	e.providerClock = opts.Now
	e.SetProviders(opts.Providers, opts.DisabledProviders, opts.GuardedProviders)
	if e.client == nil {
		e.client = &http.Client{Timeout: 30 * time.Second}
	}
	e.runtimeClient = opts.RuntimeHTTPClient
	if !opts.AllowPrivateEndpoints {
		e.guard = &endpointGuard{resolver: opts.Resolver}
		if e.runtimeClient == nil {
			e.runtimeClient = guardedClient(e.client)
		}
	}
	if e.runtimeClient == nil {
		e.runtimeClient = e.client
	}
	if e.timeout <= 0 {
		e.timeout = 15 * time.Second
	}
	if e.flowTTL <= 0 {
		e.flowTTL = 10 * time.Minute
	}
	if e.margin <= 0 {
		e.margin = 60 * time.Second
	}
	if e.lease <= 0 {
		e.lease = 10 * time.Second
	}
	e.lease = max(e.lease, 300*time.Millisecond)
	if e.saveBudget <= 0 {
		e.saveBudget = 8 * time.Second
	}
	e.unsaved = map[string]unsavedToken{}
	e.life.init()
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.metrics == nil {
		e.metrics = NewMetrics(nil)
	}
	count := e.countConnections
	e.metrics.connections.count.Store(&count)
	if e.auditor == nil {
		e.auditor = LogAuditor{Log: e.log}
	}
	switch {
	case e.now == nil && opts.Clock != nil:
		e.now = opts.Clock.Now
	case e.now == nil:
		e.now = time.Now
	}
	e.clock = opts.Clock
	if e.clock == nil {
		e.clock = clock.FromNow(e.now)
	}
	e.userFlows = ratelimit.New(opts.FlowsPerUser, e.flowTTL, opts.FlowsPerUser)
	e.keyFlows = ratelimit.New(opts.FlowsPerAPIKey, e.flowTTL, opts.FlowsPerAPIKey)
	for _, o := range append([]string{e.publicURL}, opts.AllowedRedirectOrigins...) {
		if o == "" {
			continue
		}
		origin, err := originOf(o)
		if err != nil {
			return nil, fmt.Errorf("engine: allowed redirect origin %q: %w", o, err)
		}
		e.origins[origin] = true
	}
	// Last: from here on the store calls the engine back, until Close.
	e.startConnCache(opts.ConnectionCache)
	return e, nil
}

// RedirectURI is the callback URL operators register with providers.
func (e *Engine) RedirectURI() string { return e.publicURL + "/oauth/callback" }

// Health reports whether the store answers.
func (e *Engine) Health(ctx context.Context) error {
	if err := e.store.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return nil
}

// provider finds an enabled provider by its id, or, when no id matches, the
// one provider whose built-in catalog id (provider_id) matches. The
// engine.yaml providers are searched first: a YAML id, enabled or not,
// always wins over a runtime (admin API) provider, and runtime providers
// are matched by provider_id only when no YAML provider is.
func (e *Engine) provider(id string) (*authflow.Provider, error) {
	d := e.declared.Load()
	if p, ok := d.providers[id]; ok {
		if np, ok := e.reregistered(id); ok {
			return np, nil
		}
		return p, nil
	}
	if !d.disabled[id] {
		if p, found, err := e.runtime.byID(id); found {
			return p, err
		}
	}
	var match *authflow.Provider
	for _, p := range d.providers {
		if p.CatalogID() == id {
			if match != nil {
				return nil, ambiguousError(id)
			}
			match = p
		}
	}
	if match == nil && !d.disabled[id] {
		p, err := e.runtime.byCatalogID(id)
		if err != nil {
			return nil, err
		}
		match = p
	}
	if match == nil && e.runtime.isPending() {
		// The store did not answer when the engine started: the id may
		// name a runtime provider not loaded yet.
		return nil, fmt.Errorf("runtime providers are not loaded yet: %w", ErrStoreUnavailable)
	}
	if match == nil && d.disabled[id] {
		return nil, &RequestError{Name: "provider_disabled", Message: fmt.Sprintf("provider %q is disabled in the engine's configuration", id)}
	}
	if match == nil {
		return nil, &RequestError{Name: "unknown_provider", Message: fmt.Sprintf("no enabled provider %q is configured", id), Status: http.StatusNotFound}
	}
	return match, nil
}

// clientFor returns the HTTP client for p's requests: engine.yaml
// providers use HTTPClient, every other provider (and those named by
// Options.GuardedProviders, and those whose hosts an app or a remote
// server decides, authflow.Provider.RemoteHosts) the runtime client.
func (e *Engine) clientFor(p *authflow.Provider) *http.Client {
	if p.RemoteHosts() {
		// An app's connection variable or the provider's own metadata
		// decides a host: the client that refuses private addresses.
		return e.runtimeClient
	}
	p = p.Unbound()
	d := e.declared.Load()
	if q, ok := d.providers[p.ID()]; ok && !d.guarded[p.ID()] {
		if np, swapped := e.reregistered(p.ID()); q == p || swapped && np == p {
			return e.client
		}
	}
	return e.runtimeClient
}

// Providers returns the engine.yaml providers by id.
func (e *Engine) Providers() map[string]*authflow.Provider { return e.declared.Load().providers }

// providerContext bounds one provider request.
func (e *Engine) providerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.timeout)
}

func originOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", errors.New("not an absolute http(s) URL")
	}
	// Origins compare in their normalised form: lower case, without the
	// scheme's default port, so https://app.example.com:443/x matches an
	// allowed https://app.example.com.
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		if strings.Contains(host, ":") {
			return scheme + "://[" + host + "]", nil
		}
		return scheme + "://" + host, nil
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// AllowedOrigins returns the origins the engine sends browsers to: the
// public URL's and api.allowed_redirect_origins, normalised and sorted.
// The callback page posts a popup's outcome only to these.
func (e *Engine) AllowedOrigins() []string {
	out := make([]string, 0, len(e.origins))
	for o := range e.origins {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}
