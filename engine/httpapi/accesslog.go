package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// HeaderRequestID carries a request's id: taken from the request when it
// is sane (a proxy's or the app's), else made up, and always answered.
const HeaderRequestID = "X-Request-Id"

// maxRequestID bounds an incoming request id.
const maxRequestID = 128

// RequestMetrics are the HTTP request metrics, labelled by route pattern
// (never the raw path, which carries ids), method and status.
type RequestMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRequestMetrics registers the HTTP request metrics with reg.
func NewRequestMetrics(reg prometheus.Registerer) *RequestMetrics {
	m := &RequestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "authengine", Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "authengine", Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern, method and status (status waits hold up to 59 s).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method", "status"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// requestID returns the request's sane incoming id, or a new one.
func requestID(c echo.Context) string {
	if id := c.Request().Header.Get(HeaderRequestID); saneRequestID(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	var out [24]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// saneRequestID accepts 1 to 128 letters, digits and -_.:/+= (UUIDs, trace
// ids, base64), so an id cannot forge a log line or bloat one.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '-', r == '_', r == '.', r == ':', r == '/', r == '+', r == '=':
		default:
			return false
		}
	}
	return true
}

// routeOf is the route pattern that answered, "unmatched" when none did.
// echo sets the context's path to a registered pattern only (a route's,
// or for a 404 or 405 the pattern of the nearest registered node), so a
// label or log value never holds a raw path.
func routeOf(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

// accessLog answers every request's id in X-Request-Id and, when log is
// set, logs one line per request at info (warn for 5xx): method, route
// pattern (never the raw URL: the callback's query carries codes and
// state), status, duration and request id. It counts the request in m
// when m is set.
func accessLog(log *slog.Logger, m *RequestMetrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			id := requestID(c)
			c.Response().Header().Set(HeaderRequestID, id)
			if err := next(c); err != nil {
				c.Error(err)
			}
			route, method, ctx := routeOf(c), c.Request().Method, c.Request().Context()
			if p, ok := c.Get(parkedKey).(*parked); ok {
				// A parked status wait is answered later, off this
				// request's goroutine (park.go).
				p.onFinish(func(status int) { logRequest(ctx, log, m, start, id, route, method, status) })
				return nil
			}
			logRequest(ctx, log, m, start, id, route, method, c.Response().Status)
			return nil
		}
	}
}

// logRequest counts and logs one answered request (see accessLog).
func logRequest(ctx context.Context, log *slog.Logger, m *RequestMetrics, start time.Time, id, route, method string, status int) {
	took := time.Since(start)
	if m != nil {
		code := strconv.Itoa(status)
		m.requests.WithLabelValues(route, method, code).Inc()
		m.duration.WithLabelValues(route, method, code).Observe(took.Seconds())
	}
	if log == nil {
		return
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	log.LogAttrs(ctx, level, "http request",
		slog.String("method", method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", took),
		slog.String("request_id", id))
}
