package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/authengine/authengine/engine/httpapi"
)

// startMetrics serves the Prometheus metrics on their own listener
// (telemetry.metrics.listen), so the main listener, which browsers and
// apps reach, need not expose them. Serve errors go to errc; stop shuts
// the listener down.
func startMetrics(addr string, api httpapi.Options, log *slog.Logger, stdout io.Writer, errc chan<- error) (stop func(context.Context), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("telemetry.metrics.listen: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           httpapi.NewMetrics(api),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	fmt.Fprintf(stdout, "metrics listening on http://%s%s\n", ln.Addr(), api.MetricsPath)
	log.Info("metrics listening", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			errc <- fmt.Errorf("metrics listener: %w", err)
		}
	}()
	return func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("metrics listener shutdown", "err", err)
		}
	}, nil
}
