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

// startAdmin serves the admin API alone on addr (api.admin_listen), so
// that it can stay on a private interface while the main listener faces
// browsers and apps. Serve errors go to errc; stop shuts the listener
// down.
func startAdmin(addr string, api httpapi.Options, log *slog.Logger, stdout io.Writer, errc chan<- error) (stop func(context.Context), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api.admin_listen: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           httpapi.NewAdmin(api),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	fmt.Fprintf(stdout, "admin API listening on http://%s\n", ln.Addr())
	log.Info("admin API listening", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			errc <- fmt.Errorf("admin listener: %w", err)
		}
	}()
	return func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("admin listener shutdown", "err", err)
		}
	}, nil
}
