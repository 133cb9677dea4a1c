package httpapi

import (
	"math"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/internal/ratelimit"
)

// RateLimits are the per-instance request limits the API applies (see
// config.RateLimits). A nil limiter is no limit.
type RateLimits struct {
	// APIKey counts requests per API key on /v1/auth and /v1/tools.
	APIKey *ratelimit.Limiter
	// Callback counts /oauth/callback requests per client address.
	Callback *ratelimit.Limiter
	// ExemptLoopback lifts both limits for clients on a loopback address
	// (development mode, where every client is local).
	ExemptLoopback bool
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client; without them the connection's address is the client's.
	TrustedProxies []netip.Prefix
}

// ipExtractor decides a request's client address: the connection's, or
// the last address in X-Forwarded-For that is not a trusted proxy's. No
// range is trusted implicitly (echo trusts private networks by default,
// which would let any client on them name its own address).
func ipExtractor(proxies []netip.Prefix) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// limit refuses a request whose key's bucket is empty with refuse (429
// and a Retry-After in whole seconds).
func limit(l *ratelimit.Limiter, exemptLoopback bool, key func(echo.Context) string, refuse func(echo.Context, time.Duration) error) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if l == nil {
			return next
		}
		return func(c echo.Context) error {
			if exemptLoopback {
				if ip, err := netip.ParseAddr(c.RealIP()); err == nil && ip.Unmap().IsLoopback() {
					return next(c)
				}
			}
			if ok, wait := l.Allow(key(c), time.Now()); !ok {
				c.Response().Header().Set("Retry-After", retryAfter(wait))
				return refuse(c, wait)
			}
			return next(c)
		}
	}
}

// retryAfter is a Retry-After value: whole seconds, at least one.
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(int(math.Ceil(max(wait, time.Second).Seconds())))
}

// tooMany answers an API request 429 rate_limited.
func tooMany(echo.Context, time.Duration) error {
	return &apiError{status: 429, Name: "rate_limited", Message: "too many requests; retry after the time in the Retry-After header"}
}

// tooManyCallbacks answers a browser on the callback with a page.
func tooManyCallbacks(c echo.Context, _ time.Duration) error {
	return render(c, 429, pageData{Title: "Too many attempts", Message: "This browser made too many connection attempts in a short time. Wait a minute, then start the connection again from the app."})
}

// byActor keys a request by the API key that authenticated it (its
// fingerprint, set by requireKey), never by the key itself.
func byActor(c echo.Context) string { return engine.ActorOf(c.Request().Context()) }

// byAddress keys a request by its client address.
func byAddress(c echo.Context) string { return c.RealIP() }
