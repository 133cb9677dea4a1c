// Package httpapi serves the engine over HTTP with the paths and JSON shapes
// of Arcade's API, so apps written against Arcade's official clients work by
// changing only their base URL and key. Each handler binds its input once,
// calls one engine method and writes once; errors go to one mapper
// (errorHandler) that turns them into a status, a stable name and a
// client-safe message. The package owns HTTP concerns only: API keys, body
// limits, JSON and the browser pages of the callback.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/authengine/authengine/engine"
)

// Options configures the HTTP API.
type Options struct {
	Engine *engine.Engine
	// APIKeys authenticate apps; AdminKeys authenticate /v1/admin.
	APIKeys   []string
	AdminKeys []string
	// MaxBodyBytes caps request bodies. Default 1 MiB.
	MaxBodyBytes int64
	// Metrics, when set, is served at MetricsPath (default /metrics).
	Metrics     http.Handler
	MetricsPath string
	// MetricsToken, when set, is required as "Authorization: Bearer
	// <token>" on the metrics path (telemetry.metrics.bearer_token).
	MetricsToken string
	// SeparateMetrics leaves the metrics out of New, to be served by
	// NewMetrics on a listener of their own (telemetry.metrics.listen).
	SeparateMetrics bool
	Logger          *slog.Logger
	// SeparateAdmin leaves the admin API (/v1/admin) out of New, to be
	// served by NewAdmin on a listener of its own (api.admin_listen).
	SeparateAdmin bool
	// Limits are the per-instance request rate limits.
	Limits RateLimits
	// NoAccessLog turns the access log off (api.access_log: false); the
	// X-Request-Id header is answered anyway.
	NoAccessLog bool
	// RequestMetrics, when set, counts and times every request.
	RequestMetrics *RequestMetrics
	// Keys, when set, are the keys the routes accept, replaceable while
	// serving (a configuration reload); APIKeys and AdminKeys are then
	// ignored.
	Keys *Keys
	// Pprof serves Go's runtime profiles at /debug/pprof/ with the admin
	// API, behind the admin keys (telemetry.pprof).
	Pprof bool
}

// Keys are the API keys and admin keys the routes accept, kept as SHA-256
// digests; Set replaces them for every request that starts after it.
type Keys struct {
	api, admin atomic.Pointer[[]keyDigest]
}

// keyDigest is one key's SHA-256 and the actor its requests act as
// (engine.WithActor): the key's kind and the first 12 hex digits of the
// digest, computed once here rather than per request.
type keyDigest struct {
	sum   [32]byte
	actor string
}

// NewKeys returns the keys apiKeys and adminKeys.
func NewKeys(apiKeys, adminKeys []string) *Keys {
	k := &Keys{}
	k.Set(apiKeys, adminKeys)
	return k
}

// Set replaces the keys.
func (k *Keys) Set(apiKeys, adminKeys []string) {
	k.api.Store(digests(apiKeys, "api_key"))
	k.admin.Store(digests(adminKeys, "admin_key"))
}

func digests(keys []string, kind string) *[]keyDigest {
	out := make([]keyDigest, 0, len(keys))
	for _, k := range keys {
		if k != "" {
			sum := sha256.Sum256([]byte(k))
			out = append(out, keyDigest{sum: sum, actor: kind + ":" + hex.EncodeToString(sum[:6])})
		}
	}
	return &out
}

// keysOf is opts.Keys, or the fixed keys of opts.
func keysOf(opts Options) *Keys {
	if opts.Keys != nil {
		return opts.Keys
	}
	return NewKeys(opts.APIKeys, opts.AdminKeys)
}

// New returns the echo server with every route mounted (the admin API
// too, unless SeparateAdmin).
func New(opts Options) *echo.Echo {
	e, h := newServer(opts)
	keys := keysOf(opts)
	apps := requireKey(&keys.api, "api_key")

	mountHealth(e, h)
	e.GET("/oauth/callback", h.callback, limit(opts.Limits.Callback, opts.Limits.ExemptLoopback, byAddress, tooManyCallbacks))
	e.GET("/oauth/client-metadata/:id", h.clientMetadata, limit(opts.Limits.Callback, opts.Limits.ExemptLoopback, byAddress, tooMany))
	e.GET("/oauth/popup.js", popupJS)

	v1 := e.Group("/v1", apps, limit(opts.Limits.APIKey, opts.Limits.ExemptLoopback, byActor, tooMany))
	v1.POST("/auth/authorize", h.authorize)
	v1.GET("/auth/status", h.status)
	v1.POST("/auth/confirm_user", h.confirmUser)
	v1.GET("/auth/connections", h.userConnections)

	if !opts.SeparateAdmin {
		mountAdmin(e, h, keys, opts.Pprof)
	}

	if opts.Metrics != nil && !opts.SeparateMetrics {
		mountMetrics(e, opts)
	}
	return e
}

// NewMetrics returns a server with only the metrics path, for the metrics
// listener (telemetry.metrics.listen); New with SeparateMetrics then leaves
// the metrics out.
func NewMetrics(opts Options) *echo.Echo {
	e, _ := newServer(opts)
	if opts.Metrics != nil {
		mountMetrics(e, opts)
	}
	return e
}

// mountMetrics serves opts.Metrics at its path, behind the bearer token
// when one is set. The token is compared as a SHA-256 digest in constant
// time, like the API keys.
func mountMetrics(e *echo.Echo, opts Options) {
	path := opts.MetricsPath
	if path == "" {
		path = "/metrics"
	}
	var mw []echo.MiddlewareFunc
	if opts.MetricsToken != "" {
		want := sha256.Sum256([]byte(opts.MetricsToken))
		mw = append(mw, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				token, bearer := bearerToken(c)
				got := sha256.Sum256([]byte(token))
				if !bearer || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
					c.Response().Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
					return &engine.RequestError{Name: "unauthorized", Message: "the metrics need Authorization: Bearer <telemetry.metrics.bearer_token>", Status: http.StatusUnauthorized}
				}
				return next(c)
			}
		})
	}
	e.GET(path, echo.WrapHandler(opts.Metrics), mw...)
}

// NewAdmin returns a server with only the admin API and /v1/health, for
// the admin listener (api.admin_listen); New with SeparateAdmin then
// leaves the admin API out.
func NewAdmin(opts Options) *echo.Echo {
	e, h := newServer(opts)
	mountHealth(e, h)
	mountAdmin(e, h, keysOf(opts), opts.Pprof)
	return e
}

// newServer is an echo server with the middleware every listener shares.
func newServer(opts Options) (*echo.Echo, *handlers) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(log)
	e.JSONSerializer = jsonSerializer{}
	e.IPExtractor = ipExtractor(opts.Limits.TrustedProxies)
	e.Use(middleware.Recover())
	var access *slog.Logger
	if !opts.NoAccessLog {
		access = log
	}
	e.Use(accessLog(access, opts.RequestMetrics))
	e.Use(middleware.BodyLimit(bytesString(opts.MaxBodyBytes)))
	return e, &handlers{engine: opts.Engine, log: log}
}

// mountAdmin mounts the admin API, which takes the admin keys, and the
// runtime profiles when pprof is set.
func mountAdmin(e *echo.Echo, h *handlers, keys *Keys, pprof bool) {
	admin := e.Group("/v1/admin", requireKey(&keys.admin, "admin_key"))
	admin.GET("/user_connections", h.listConnections)
	admin.DELETE("/user_connections/:id", h.deleteConnection)
	mountAdminProviders(admin, h)
	mountAdminWebhookEvents(admin, h)
	mountAdminConnections(admin, h)
	if pprof {
		mountPprof(e, keys)
	}
}

type handlers struct {
	engine *engine.Engine
	log    *slog.Logger
}

// requireKey accepts "Authorization: Bearer <key>" or the bare key (Arcade's
// JS client sends it bare). Keys are compared as SHA-256 digests in
// constant time, so neither content nor length leaks through timing. The
// request's context names the caller for audit records as kind and the
// first 12 hex digits of the key's SHA-256 (admin_key:3f2a9c1b04de),
// which identifies a key without revealing it.
func requireKey(keys *atomic.Pointer[[]keyDigest], kind string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			digests := *keys.Load()
			if len(digests) == 0 {
				return &apiError{status: http.StatusUnauthorized, Name: "unauthorized", Message: "this API is off: no api." + kind + "s are configured"}
			}
			got, _ := bearerToken(c)
			if got == "" {
				return &apiError{status: http.StatusUnauthorized, Name: "unauthorized", Message: "missing API key: send it in the Authorization header"}
			}
			d := sha256.Sum256([]byte(got))
			ok, match := 0, 0
			for i, k := range digests {
				m := subtle.ConstantTimeCompare(d[:], k.sum[:])
				ok |= m
				match = subtle.ConstantTimeSelect(m, i, match)
			}
			if ok != 1 {
				return &apiError{status: http.StatusUnauthorized, Name: "unauthorized", Message: "invalid API key"}
			}
			r := c.Request()
			c.SetRequest(r.WithContext(engine.WithActor(r.Context(), digests[match].actor)))
			return next(c)
		}
	}
}

// bearerToken is the request's Authorization header, the token alone
// (and bearer true) when it is sent as "Bearer <token>".
func bearerToken(c echo.Context) (token string, bearer bool) {
	got := strings.TrimSpace(c.Request().Header.Get(echo.HeaderAuthorization))
	if len(got) > 7 && strings.EqualFold(got[:7], "bearer ") {
		return strings.TrimSpace(got[7:]), true
	}
	return got, false
}

func bytesString(n int64) string {
	// echo's BodyLimit takes a size string; whole bytes with "B" is exact.
	return strconv.FormatInt(n, 10) + "B"
}

// mountHealth mounts the probes: /v1/health/live answers 200 while the
// process serves HTTP (a liveness probe: restart when it fails), and
// /v1/health/ready, like /v1/health, 200 only while the store answers and
// takes writes (a readiness probe: send no traffic while it fails, but do
// not restart, since a restart does not bring the store back).
func mountHealth(e *echo.Echo, h *handlers) {
	e.GET("/v1/health", h.health)
	e.GET("/v1/health/ready", h.health)
	e.GET("/v1/health/live", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"alive": true})
	})
}

func (h *handlers) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := h.engine.Health(ctx); err != nil {
		h.log.Warn("health check failed", "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"healthy": false, "reason": "token store unavailable"})
	}
	return c.JSON(http.StatusOK, map[string]any{"healthy": true})
}
