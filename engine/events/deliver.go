package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/clock"
	"github.com/authengine/authengine/internal/lease"
)

// Endpoint is one configured webhook.
type Endpoint struct {
	URL    string
	Secret Secret
	// Events are the event types sent to it; empty means every type.
	Events []string
}

// wants reports whether the endpoint takes events of type typ.
func (e Endpoint) wants(typ string) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, typ)
}

// name identifies the endpoint in an event's Done list: a digest of its
// URL, so a URL that carries a credential is never stored.
func (e Endpoint) name() string {
	sum := sha256.Sum256([]byte(e.URL))
	return hex.EncodeToString(sum[:8])
}

// host is what logs and errors say of the endpoint: its scheme and host.
func (e Endpoint) host() string {
	u, err := url.Parse(e.URL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

// Defaults of Options.
const (
	DefaultPoll        = time.Second
	DefaultLease       = 15 * time.Second
	DefaultMaxAttempts = 8
	DefaultFirstRetry  = 5 * time.Second
	DefaultMaxRetry    = time.Hour
	DefaultTimeout     = 10 * time.Second
	// LockName is the store lock the delivering instance holds.
	LockName = "events.deliver"
	// batch is how many due events one poll takes; parallel is how many
	// are delivered at once.
	batch    = 100
	parallel = 8
)

// Options configure a Deliverer.
type Options struct {
	// Store is the outbox and the lock (every instance shares it).
	Store store.Store
	// Endpoints are the webhooks.
	Endpoints []Endpoint
	// Client posts the events; it must apply the SSRF guard itself unless
	// private endpoints are allowed. Its Timeout is replaced by Timeout
	// per request.
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock. Default time.Now, or Clock's when that is set.
	Now func() time.Time
	// Clock times the polls, retries and lease renewals. Default: Now
	// with real timers.
	Clock clock.Clock
	// Poll is the pause between two reads of the outbox. Default 1 s.
	Poll time.Duration
	// Lease is the lifetime of the delivery lock when its holder stops
	// renewing it (a crashed instance). Default 15 s.
	Lease time.Duration
	// MaxAttempts bounds the attempts of one event; the event is then kept
	// as failed. Default 8.
	MaxAttempts int
	// FirstRetry is the pause after the first failed attempt; it doubles
	// after each up to MaxRetry, each drawn from its upper half (jitter).
	// Defaults 5 s and 1 h.
	FirstRetry, MaxRetry time.Duration
	// Timeout bounds one POST. Default 10 s.
	Timeout time.Duration
}

// Deliverer posts outbox events to webhooks. Run it on every instance:
// the one that holds the store's delivery lock delivers, the others wait
// to take over.
type Deliverer struct {
	opts Options
	log  *slog.Logger
}

// NewDeliverer returns a Deliverer with opts' defaults filled in.
func NewDeliverer(opts Options) *Deliverer {
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.Now == nil && opts.Clock != nil:
		opts.Now = opts.Clock.Now
	case opts.Now == nil:
		opts.Now = time.Now
	}
	if opts.Clock == nil {
		opts.Clock = clock.FromNow(opts.Now)
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.FirstRetry <= 0 {
		opts.FirstRetry = DefaultFirstRetry
	}
	if opts.MaxRetry <= 0 {
		opts.MaxRetry = DefaultMaxRetry
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Deliverer{opts: opts, log: opts.Logger}
}

// RetryDelay is the pause after the n-th failed attempt (n >= 1): first
// doubled n-1 times, at most max, drawn from its upper half so that
// retries from many events do not arrive in step.
func RetryDelay(n int, first, max time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d/2 + rand.N(d/2+1)
}

// Run delivers until ctx ends: it takes the delivery lock when free,
// renews it while it delivers, and gives it up when ctx ends.
func (d *Deliverer) Run(ctx context.Context) {
	for {
		token, err := d.opts.Store.Lock(ctx, LockName, d.opts.Lease)
		if err == nil {
			d.lead(ctx, token)
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			if err := d.opts.Store.Unlock(uctx, LockName, token); err != nil {
				d.log.Warn("release the webhook delivery lock", "err", err)
			}
			cancel()
		} else if !errors.Is(err, store.ErrLockHeld) {
			d.log.Warn("take the webhook delivery lock", "err", err)
		}
		if !d.sleep(ctx, d.opts.Poll) {
			return
		}
	}
}

// lead delivers while this instance holds the lock: it renews the lease
// every third of it and stops when a renewal fails or ctx ends.
func (d *Deliverer) lead(ctx context.Context, token string) {
	ctx, stop := lease.Hold(ctx, d.opts.Clock, d.opts.Store, LockName, token, d.opts.Lease, func(err error) {
		d.log.Warn("webhook delivery lock lost; another instance takes over", "err", err)
	})
	defer stop()
	for {
		if err := d.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("deliver webhook events", "err", err)
		}
		if !d.sleep(ctx, d.opts.Poll) {
			return
		}
	}
}

// DeliverDue delivers the events due now, at most a batch, several at a
// time. Callers other than Run must hold the delivery lock.
func (d *Deliverer) DeliverDue(ctx context.Context) error {
	due, err := d.opts.Store.DueEvents(ctx, d.opts.Now(), batch)
	if err != nil {
		return fmt.Errorf("read due events: %w", err)
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, ev := range due {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.deliver(ctx, ev)
		}()
	}
	wg.Wait()
	return nil
}

// deliver posts one event to every endpoint that wants it and has not
// taken it yet, then records the outcome: deleted when every endpoint took
// it, otherwise retried later or, after the last attempt, kept as failed.
func (d *Deliverer) deliver(ctx context.Context, ev store.Event) {
	var took, errs []string
	for _, ep := range d.opts.Endpoints {
		if !ep.wants(ev.Type) || slices.Contains(ev.Done, ep.name()) {
			continue
		}
		if err := d.post(ctx, ep, ev); err != nil {
			if ctx.Err() != nil {
				return // shutting down: the event stays due
			}
			errs = append(errs, err.Error())
			continue
		}
		took = append(took, ep.name())
	}
	// The outcome is recorded even if ctx ends now: the POSTs happened.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if len(errs) == 0 {
		if err := d.opts.Store.DeleteEvent(wctx, ev.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			d.log.Warn("remove a delivered webhook event", "event_id", ev.ID, "err", err)
		}
		return
	}
	now := d.opts.Now()
	next, err := d.opts.Store.UpdateEvent(wctx, ev.ID, func(cur store.Event) (store.Event, error) {
		if cur.Status != store.EventPending {
			return cur, errNotPending
		}
		for _, n := range took {
			if !slices.Contains(cur.Done, n) {
				cur.Done = append(cur.Done, n)
			}
		}
		cur.Attempts++
		cur.LastError = strings.Join(errs, "; ")
		if cur.Attempts >= d.opts.MaxAttempts {
			cur.Status = store.EventFailed
		} else {
			cur.NextAttemptAt = now.Add(RetryDelay(cur.Attempts, d.opts.FirstRetry, d.opts.MaxRetry))
		}
		return cur, nil
	})
	switch {
	case errors.Is(err, errNotPending), errors.Is(err, store.ErrNotFound):
	case err != nil:
		d.log.Warn("record a failed webhook delivery", "event_id", ev.ID, "err", err)
	case next.Status == store.EventFailed:
		d.log.Error("webhook event failed after its last attempt; replay it through the admin API", "event_id", ev.ID, "type", ev.Type, "attempts", next.Attempts, "last_error", next.LastError)
	default:
		d.log.Warn("webhook delivery failed; will retry", "event_id", ev.ID, "type", ev.Type, "attempt", next.Attempts, "next_attempt_at", next.NextAttemptAt, "err", next.LastError)
	}
}

var errNotPending = errors.New("event is no longer pending")

// post sends ev to ep, signed; any 2xx answer is success.
func (d *Deliverer) post(ctx context.Context, ep Endpoint, ev store.Event) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(ev.Payload))
	if err != nil {
		return fmt.Errorf("%s: the webhook URL is not valid", ep.host())
	}
	at := d.opts.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "authengine-webhooks")
	req.Header.Set("webhook-id", ev.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(ep.Secret, ev.ID, at, ev.Payload))
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: could not be reached: %s", ep.host(), reachError(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %d", ep.host(), resp.StatusCode)
	}
	return nil
}

// reachError names why a request failed without repeating the URL (which
// may carry a credential in its query).
func reachError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}

// sleep waits d on the deliverer's clock or until ctx ends; it reports
// whether ctx is still live.
func (d *Deliverer) sleep(ctx context.Context, p time.Duration) bool {
	return clock.Sleep(ctx, d.opts.Clock, p) == nil
}
