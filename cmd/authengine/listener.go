package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// sideListener is a listener of its own for part of the API: the admin
// API (api.admin_listen) or the metrics (telemetry.metrics.listen), so it
// can stay on a private interface while the main listener faces browsers
// and apps.
type sideListener struct {
	// setting names the configuration key, for errors.
	setting string
	// what names the listener in messages ("admin API", "metrics").
	what    string
	addr    string
	handler http.Handler
	// path is shown after the address when the listener starts.
	path string
}

// listen listens on l.addr. serve listens on every address before it
// generates or writes anything, so that an address in use fails first.
func (l sideListener) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", l.setting, l.addr, err)
	}
	return ln, nil
}

// start serves l.handler on ln (from listen). Serve errors go to errc;
// stop shuts the listener down.
func (l sideListener) start(ln net.Listener, log *slog.Logger, stdout io.Writer, errc chan<- error) (stop func(context.Context)) {
	srv := &http.Server{
		Handler:           l.handler,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	fmt.Fprintf(stdout, "%s listening on http://%s%s\n", l.what, ln.Addr(), l.path)
	log.Info(l.what+" listening", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			errc <- fmt.Errorf("%s listener: %w", l.what, err)
		}
	}()
	return func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn(l.what+" listener shutdown", "err", err)
		}
	}
}
