package sweeper

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/clock"
	"github.com/authengine/authengine/internal/lease"
)

// LockName is the store lock the sweeping instance holds.
const LockName = "sweeper.refresh"

// Defaults for Options left zero.
const (
	DefaultInterval    = time.Minute
	DefaultWindow      = 10 * time.Minute
	DefaultConcurrency = 4
	DefaultLease       = 30 * time.Second
	// DefaultBatch bounds the connections one pass refreshes.
	DefaultBatch = 1000
)

// Engine is what the sweeper needs of the engine.
type Engine interface {
	DueForRefresh(ctx context.Context, pol engine.SweepPolicy, limit int) ([]string, error)
	SweepRefresh(ctx context.Context, id string, pol engine.SweepPolicy) (bool, error)
}

// Options configure a Sweeper.
type Options struct {
	Engine Engine
	// Locker is the store every instance shares.
	Locker store.Locker
	// Interval between passes; each pass starts after a random extra
	// pause of up to a fifth of it. Default DefaultInterval.
	Interval time.Duration
	// Window: connections whose token expires within it are refreshed.
	// Default DefaultWindow.
	Window time.Duration
	// IdleAfter: connections not refreshed or re-authorized for this long
	// are refreshed to keep their refresh token alive; 0 turns it off.
	IdleAfter time.Duration
	// Concurrency bounds the refreshes in flight. Default DefaultConcurrency.
	Concurrency int
	// Lease is the sweep lock's lifetime, renewed every third of it.
	// Default DefaultLease.
	Lease time.Duration
	// Batch bounds the connections one pass refreshes. Default DefaultBatch.
	Batch  int
	Logger *slog.Logger
	// Clock times the pauses between passes and the lease renewals.
	// Default the system clock.
	Clock clock.Clock
}

// Sweeper is the background refresh. Run it on the engine's lifecycle.
type Sweeper struct {
	opts Options
	pol  engine.SweepPolicy
	log  *slog.Logger
}

// New returns a Sweeper with defaults filled in.
func New(opts Options) *Sweeper {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real
	}
	return &Sweeper{opts: opts, pol: engine.SweepPolicy{Window: opts.Window, IdleAfter: opts.IdleAfter}, log: opts.Logger}
}

// Run sweeps every interval (plus jitter) until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	for {
		pause := s.opts.Interval + rand.N(s.opts.Interval/5+1)
		if clock.Sleep(ctx, s.opts.Clock, pause) != nil {
			return
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("refresh sweep", "err", err)
		}
	}
}

// Sweep runs one pass if this instance gets the sweep lock (ran=false when
// another instance holds it) and returns how many connections it
// refreshed.
func (s *Sweeper) Sweep(ctx context.Context) (refreshed int, err error) {
	token, err := s.opts.Locker.Lock(ctx, LockName, s.opts.Lease)
	if errors.Is(err, store.ErrLockHeld) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	ctx, stop := lease.Hold(ctx, s.opts.Clock, s.opts.Locker, LockName, token, s.opts.Lease, func(err error) {
		s.log.Warn("sweep lock lost; stopping this pass", "err", err)
	})
	defer func() {
		stop()
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer ucancel()
		if err := s.opts.Locker.Unlock(uctx, LockName, token); err != nil {
			s.log.Warn("release the sweep lock", "err", err)
		}
	}()
	ids, err := s.opts.Engine.DueForRefresh(ctx, s.pol, s.opts.Batch)
	if err != nil {
		return 0, err
	}
	var done atomic.Int64
	sem := make(chan struct{}, s.opts.Concurrency)
	var work sync.WaitGroup
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		work.Add(1)
		go func() {
			defer work.Done()
			defer func() { <-sem }()
			ok, err := s.opts.Engine.SweepRefresh(ctx, id, s.pol)
			switch {
			case err != nil:
				s.log.Warn("background refresh failed", "connection_id", id, "err", err)
			case ok:
				done.Add(1)
			}
		}()
	}
	work.Wait()
	if n := done.Load(); n > 0 {
		s.log.Info("background refresh pass", "refreshed", n, "due", len(ids))
	}
	return int(done.Load()), ctx.Err()
}
