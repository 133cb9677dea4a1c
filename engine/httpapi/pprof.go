package httpapi

import (
	"net/http"
	"net/http/pprof"

	"github.com/labstack/echo/v4"
)

// mountPprof serves Go's runtime profiles (net/http/pprof) under
// /debug/pprof/ behind the admin keys (telemetry.pprof). It goes where the
// admin API goes: on the admin listener when there is one. A CPU profile
// or trace holds its request for the seconds asked (?seconds=, 30 by
// default for /profile).
func mountPprof(e *echo.Echo, keys *Keys) {
	g := e.Group("/debug/pprof", requireKey(&keys.admin, "admin_key"))
	index := echo.WrapHandler(http.HandlerFunc(pprof.Index))
	g.GET("", index)
	// Index serves the index page at /debug/pprof/ and the named profiles
	// (heap, goroutine, allocs, block, mutex, threadcreate) below it.
	g.GET("/*", index)
	g.GET("/cmdline", echo.WrapHandler(http.HandlerFunc(pprof.Cmdline)))
	g.GET("/profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
	g.GET("/trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
	symbol := echo.WrapHandler(http.HandlerFunc(pprof.Symbol))
	g.GET("/symbol", symbol)
	g.POST("/symbol", symbol)
}
