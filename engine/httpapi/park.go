package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine"
)

// A held status wait (GET /v1/auth/status?wait=N on a pending flow) does
// not keep its request's goroutine. net/http gives every request a
// goroutine whose stack has grown to 16 KiB by the time the handler runs
// and keeps the connection's read and write buffers (10 KiB) until the
// handler returns: at 10,000 held waits that is most of 250 MiB. So on an
// HTTP/1.x connection the handler takes the connection over (Hijack),
// returns, and the wait is held by Wait.Go, which keeps no goroutine (the
// store's signal, timers, the drain and the context call back into it),
// plus one goroutine reading the connection to notice the client going
// away. The answer is written by hand: the same status,
// headers and JSON body c.JSON would write, with Connection: close (a
// client polls again on a new connection, as after any held wait). Where
// the connection cannot be taken over (HTTP/2, a recorder in tests) the
// handler holds the wait itself, as before.

// parkedKey holds the *parked of a request whose wait was parked in its
// echo context, for accessLog: that request is logged and counted when
// its answer is written, not when the handler returns.
const parkedKey = "authengine.parked_wait"

// parkWriteTimeout bounds writing a parked wait's answer; parkLinger is
// how long its connection stays open after the answer for the client to
// read it and close first (so the close sends no RST).
const (
	parkWriteTimeout = 10 * time.Second
	parkLinger       = 5 * time.Second
)

// canPark reports whether the request's connection can be taken over.
func canPark(c echo.Context) bool {
	if c.Request().ProtoMajor != 1 {
		return false
	}
	_, ok := c.Response().Writer.(http.Hijacker)
	return ok
}

// parked is a status wait whose connection was taken over.
type parked struct {
	conn   net.Conn
	header http.Header
	cancel context.CancelFunc
	log    *slog.Logger

	mu       sync.Mutex
	status   int // the answer's status, once written
	finished func(status int)
}

// park takes the request's connection over and holds w on the engine's
// goroutine, whose ctx cancel ends (the client going away does). It
// returns nil, and leaves the request alone, when the connection cannot
// be taken over.
func (h *handlers) park(c echo.Context, w *engine.Wait, ctx context.Context, cancel context.CancelFunc) *parked {
	conn, _, err := http.NewResponseController(c.Response().Writer).Hijack()
	if err != nil {
		return nil
	}
	// Bytes the client sent after its request (pipelining) stay unread in
	// the returned buffer: the answer closes the connection.
	p := &parked{conn: conn, header: c.Response().Header().Clone(), cancel: cancel, log: h.log}
	go p.watch()
	w.Go(ctx, p.answer)
	return p
}

// watch reads the connection until it fails: the client closed it (the
// wait ends), or the answer was written and the linger passed.
func (p *parked) watch() {
	var b [1]byte
	for {
		if _, err := p.conn.Read(b[:]); err != nil {
			p.cancel()
			_ = p.conn.Close()
			return
		}
	}
}

// answer writes the wait's result as c.JSON and the error handler would,
// then half-closes the connection.
func (p *parked) answer(a engine.Authorization, err error) {
	status, body := http.StatusOK, any(toResponse(a))
	if err != nil {
		ae := errorAnswer(p.log, "/v1/auth/status", err, p.header)
		status, body = ae.status, ae
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody reads this answer.
		p.finish(status)
		return
	}
	var out bytes.Buffer
	out.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	payload, merr := json.Marshal(body)
	if merr != nil {
		p.log.Warn("write parked status answer", "err", merr)
		_ = p.conn.Close()
		p.finish(http.StatusInternalServerError)
		return
	}
	payload = append(payload, '\n')
	p.header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	p.header.Set(echo.HeaderContentLength, strconv.Itoa(len(payload)))
	p.header.Set(echo.HeaderConnection, "close")
	p.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = p.header.Write(&out)
	out.WriteString("\r\n")
	out.Write(payload)
	_ = p.conn.SetWriteDeadline(time.Now().Add(parkWriteTimeout))
	if _, werr := p.conn.Write(out.Bytes()); werr != nil {
		_ = p.conn.Close()
	} else if cw, ok := p.conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = p.conn.SetReadDeadline(time.Now().Add(parkLinger))
	} else {
		_ = p.conn.Close()
	}
	p.finish(status)
}

// finish records the answer's status and reports it to accessLog.
func (p *parked) finish(status int) {
	p.mu.Lock()
	p.status = status
	fn := p.finished
	p.mu.Unlock()
	if fn != nil {
		fn(status)
	}
}

// onFinish calls fn with the answer's status once it is written (at once
// when it already is).
func (p *parked) onFinish(fn func(status int)) {
	p.mu.Lock()
	status := p.status
	if status == 0 {
		p.finished = fn
	}
	p.mu.Unlock()
	if status != 0 {
		fn(status)
	}
}
