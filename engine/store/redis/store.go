// Package redis is the Redis backend of engine/store: flows, connections,
// runtime providers, leases and flow notifications kept in one Redis
// (standalone, Sentinel or Cluster) through go-redis's UniversalClient, so
// that several engine instances share token state.
//
// It imports only engine/store. No go-redis type leaves the package: a
// missing key is store.ErrNotFound, a server that cannot be reached (or is
// loading, or has no master) is store.ErrUnavailable.
//
// # Keys
//
// Every key starts with the key prefix (default "authengine:") and carries a
// hash tag, so that on Redis Cluster each record lives in one slot and each
// transaction touches one slot:
//
//	<prefix>flow:{<flow id>}          flow record, TTL = ExpiresAt + 5m
//	<prefix>state:{<state hash>}      flow id, same TTL; removed by ConsumeState
//	<prefix>conn:{<connection id>}    connection record, no TTL
//	<prefix>conns                     sorted set of connection ids (score 0)
//	<prefix>provider:{<provider id>}  runtime provider record
//	<prefix>providers                 set of provider ids
//	<prefix>discovery:{<id>}          discovery record (sealed part)
//	<prefix>discoveries               set of discovery record ids
//	<prefix>lock:{<name>}             lease owner token, PX = ttl
//	<prefix>flows                     pub/sub channel; payload = flow id
//	<prefix>connfeed                  pub/sub channel: the id of each connection written,
//	                                  published in the write's MULTI, and heartbeats (feed.go)
//	<prefix>health                    Ping's write probe ("ok"), PX = 1m
//	<prefix>conncounts, <prefix>conns:p:<provider>, <prefix>conns:s:<status>,
//	<prefix>conns:b:<status>:<provider>, <prefix>conncounts:built
//	                                  connection counts and filtered-listing
//	                                  indexes, kept but on Cluster (counts.go)
//
// The prefix must not contain '{' or '}' (it would put every key in one
// slot).
//
// A record's value is its engine/store/codec encoding, the bytes the
// embedded store writes too; values written as JSON by earlier releases
// are still read.
//
// The index keys live in their own slots, so they are kept outside the
// record transactions: they are supersets of the records (an id is added
// before its record is created and removed after it is deleted), and the
// readers skip ids whose record is missing. ListConnections unfiltered or
// filtered by provider and/or status reads one page of the matching index
// (kept exact in the record's MULTI) and its records (counts.go); other
// listings read the whole index and every
// record in it (pipelined, 256 per round trip) and filter and page in Go:
// O(connections) per call, fine for an admin listing of tens of thousands
// of connections, not for a hot path. On Redis Cluster, which keeps no
// counts or indexes, the filtered listings do the same.
//
// # Consistency
//
// UpdateFlow and UpdateConnection are compare-and-swap with WATCH/MULTI/
// EXEC, retried with a short jittered back-off up to 64 times before
// store.ErrConflict. ConsumeState reads the state index and the flow, then
// GETDELs the state key: exactly one caller gets the flow id back from
// GETDEL, and a failure before GETDEL writes nothing. Expiry is logical
// (Options.Now); Redis TTLs only collect garbage. As with any network
// store, a connection lost while EXEC's reply is in flight leaves the
// outcome unknown: ErrUnavailable then means "retry", not "certainly
// nothing was written".
//
// # Notifications
//
// Each Store holds ONE subscription to <prefix>flows, opened on the first
// Subscribe, and fans messages out to local channels. When go-redis
// re-subscribes after losing the connection, every local subscriber is
// signalled, because messages published meanwhile are lost; waiters then
// re-read their flows. Close ends the subscription and its goroutines.
package redis

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// DefaultKeyPrefix is the key prefix when none is configured.
const DefaultKeyPrefix = "authengine:"

const (
	// flowGrace keeps a flow in Redis this long past its ExpiresAt, so
	// instances with slightly different clocks agree that it expired
	// (logically) before it vanishes.
	flowGrace = 5 * time.Minute
	// casAttempts bounds the WATCH/MULTI/EXEC retries of one update.
	casAttempts = 64
	// listBatch is how many records one pipelined round trip reads.
	listBatch = 256
)

// compareAndDeleteLua deletes KEYS[1] only if it still holds ARGV[1]:
// Unlock with the owner token, and CreateFlow giving back a state hash it
// claimed.
const compareAndDeleteLua = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`

// compareAndExpireLua sets KEYS[1]'s TTL to ARGV[2] milliseconds only if
// it still holds ARGV[1]: Renew with the owner token.
const compareAndExpireLua = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`

var _ store.Store = (*Store)(nil)

// Options are the run-time settings of a Store.
type Options struct {
	// Now is the clock that decides logical expiry; time.Now when nil.
	Now func() time.Time
	// Logger receives subscription events; discarded when nil.
	Logger *slog.Logger
	// KeyPrefix starts every key and the notification channel;
	// DefaultKeyPrefix when empty. Open takes it from Config.KeyPrefix.
	KeyPrefix string
	// SubscribeTimeout bounds how long the first Subscribe waits for Redis
	// to confirm the notification subscription; DefaultSubscribeTimeout
	// when zero.
	SubscribeTimeout time.Duration
}

// Store is a store.Store on Redis. It is safe for concurrent use; create it
// with New or Open and release it with Close.
type Store struct {
	client     goredis.UniversalClient
	ownsClient bool
	prefix     string
	now        func() time.Time
	// compareAndDelete runs compareAndDeleteLua (EVALSHA, EVAL on a miss).
	compareAndDelete *goredis.Script
	// compareAndExpire runs compareAndExpireLua.
	compareAndExpire *goredis.Script
	// listIndexScript runs listIndexedLua (counts.go).
	listIndexScript *goredis.Script
	// cluster: the client is a Redis Cluster client, and the store keeps
	// no connection counts (counts.go).
	cluster bool
	// countsBuilt: the connection counts were seen built; writes move
	// them without watching their marker (counts.go).
	countsBuilt      atomic.Bool
	log              *slog.Logger
	subscribeTimeout time.Duration

	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{}
	pubsub *goredis.PubSub
	// loopDone is closed when the subscription goroutine has exited.
	loopDone chan struct{}
	// ready is closed on the first subscribe confirmation (or when the
	// subscription goroutine ends).
	ready chan struct{}
	// gaveUpWaiting: a Subscribe stopped waiting for ready.
	gaveUpWaiting bool
	closed        bool

	// feed is the connection change feed (feed.go).
	feed connFeed
}

// New returns a Store over client. The client stays the caller's: Close
// ends the Store's subscription but does not close the client. New does no
// I/O; use Ping to check the server.
func New(client goredis.UniversalClient, opts Options) *Store {
	s := &Store{
		client:           client,
		compareAndDelete: goredis.NewScript(compareAndDeleteLua),
		compareAndExpire: goredis.NewScript(compareAndExpireLua),
		listIndexScript:  goredis.NewScript(listIndexedLua),
		prefix:           opts.KeyPrefix,
		now:              opts.Now,
		log:              opts.Logger,
		subscribeTimeout: cmp.Or(opts.SubscribeTimeout, DefaultSubscribeTimeout),
		subs:             make(map[string]map[*subscriber]struct{}),
	}
	if s.prefix == "" {
		s.prefix = DefaultKeyPrefix
	}
	_, s.cluster = client.(*goredis.ClusterClient)
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// String names the store for logs without any connection secret.
func (s *Store) String() string { return fmt.Sprintf("redis store (prefix %q)", s.prefix) }

func (s *Store) flowKey(id string) string     { return s.prefix + "flow:{" + id + "}" }
func (s *Store) stateKey(hash string) string  { return s.prefix + "state:{" + hash + "}" }
func (s *Store) connKey(id string) string     { return s.prefix + "conn:{" + id + "}" }
func (s *Store) connIndex() string            { return s.prefix + "conns" }
func (s *Store) providerKey(id string) string { return s.prefix + "provider:{" + id + "}" }
func (s *Store) providerIndex() string        { return s.prefix + "providers" }
func (s *Store) lockKey(name string) string   { return s.prefix + "lock:{" + name + "}" }
func (s *Store) flowChannel() string          { return s.prefix + "flows" }
func (s *Store) healthKey() string            { return s.prefix + "health" }

// expired reports whether a record with the given expiry is past it by the
// injected clock; a zero expiry never passes.
func (s *Store) expired(expiresAt time.Time) bool {
	return !expiresAt.IsZero() && !s.now().Before(expiresAt)
}

// flowTTL is the garbage-collection TTL of a flow's keys: until ExpiresAt
// (by the injected clock) plus flowGrace; 0 (no TTL) for a flow that never
// expires.
func (s *Store) flowTTL(expiresAt time.Time) time.Duration {
	if expiresAt.IsZero() {
		return 0
	}
	return max(expiresAt.Sub(s.now()), 0) + flowGrace
}

// Ping reports whether Redis accepts writes; store.ErrUnavailable
// otherwise. It writes one small key with a short TTL, always the same one
// (so it never grows the store), because a Redis out of memory or refusing
// writes after a failed save still answers PING and reads.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Set(ctx, s.healthKey(), "ok", time.Minute).Err(); err != nil {
		return fmt.Errorf("%w: redis store: write probe: %w", store.ErrUnavailable, err)
	}
	return nil
}

// Close ends the notification subscription and waits for its goroutine;
// it closes the client only when Open made it. Subscription channels stay
// open but receive nothing more. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ps, done := s.pubsub, s.loopDone
	s.subs = make(map[string]map[*subscriber]struct{})
	s.mu.Unlock()

	var errs []error
	if err := s.closeFeed(); err != nil && !errors.Is(err, goredis.ErrClosed) {
		errs = append(errs, fmt.Errorf("redis store: close connection feed: %w", err))
	}
	if ps != nil {
		if err := ps.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
			errs = append(errs, fmt.Errorf("redis store: close subscription: %w", err))
		}
		<-done
	}
	if s.ownsClient {
		if err := s.client.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
			errs = append(errs, fmt.Errorf("redis store: close client: %w", err))
		}
	}
	return errors.Join(errs...)
}

// --- flows ---

// CreateFlow stores a new flow and its state index; store.ErrConflict if
// the state hash or the id is taken. The state key is claimed first (SET
// NX) and released again if the flow key turns out to be taken.
func (s *Store) CreateFlow(ctx context.Context, f store.Flow) error {
	if f.ID == "" || f.StateHash == "" {
		return errors.New("redis store: create flow: ID and StateHash are required")
	}
	data := codec.EncodeFlow(f)
	ttl := s.flowTTL(f.ExpiresAt)
	ok, err := s.setNX(ctx, s.stateKey(f.StateHash), f.ID, ttl)
	if err != nil {
		return s.wrap("create flow", err)
	}
	if !ok {
		return fmt.Errorf("redis store: create flow: state hash taken: %w", store.ErrConflict)
	}
	ok, err = s.setNX(ctx, s.flowKey(f.ID), data, ttl)
	if err == nil && ok {
		return nil
	}
	// Give the state hash back; a leftover would only point at a flow
	// that ConsumeState rejects, but it would block a retry.
	if derr := s.compareAndDelete.Run(ctx, s.client, []string{s.stateKey(f.StateHash)}, f.ID).Err(); derr != nil {
		s.log.WarnContext(ctx, "redis store: release state index after failed create", "flow_id", f.ID, "error", derr)
	}
	if err != nil {
		return s.wrap("create flow", err)
	}
	return fmt.Errorf("redis store: create flow %q: %w", f.ID, store.ErrConflict)
}

func (s *Store) setNX(ctx context.Context, key string, value any, ttl time.Duration) (bool, error) {
	args := goredis.SetArgs{Mode: "NX", TTL: ttl}
	err := s.client.SetArgs(ctx, key, value, args).Err()
	if errors.Is(err, goredis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// GetFlow returns a flow; store.ErrNotFound when missing or expired.
func (s *Store) GetFlow(ctx context.Context, id string) (store.Flow, error) {
	raw, err := s.client.Get(ctx, s.flowKey(id)).Bytes()
	if err != nil {
		return store.Flow{}, s.wrap("get flow", err)
	}
	f, err := decode(codec.DecodeFlow, raw)
	if err != nil {
		return store.Flow{}, err
	}
	if s.expired(f.ExpiresAt) {
		return store.Flow{}, fmt.Errorf("redis store: get flow: expired: %w", store.ErrNotFound)
	}
	return f, nil
}

// ConsumeState removes the state index and returns its flow. The state
// key and the flow key are in different slots, so instead of a script it
// reads both and then GETDELs the state key: only the caller whose GETDEL
// returns the flow id wins; every other caller gets store.ErrNotFound.
func (s *Store) ConsumeState(ctx context.Context, stateHash string) (store.Flow, error) {
	key := s.stateKey(stateHash)
	id, err := s.client.Get(ctx, key).Result()
	if err != nil {
		return store.Flow{}, s.wrap("consume state", err)
	}
	f, err := s.GetFlow(ctx, id)
	if err != nil {
		return store.Flow{}, err
	}
	if f.StateHash != stateHash {
		return store.Flow{}, fmt.Errorf("redis store: consume state: index points at another flow: %w", store.ErrNotFound)
	}
	won, err := s.client.GetDel(ctx, key).Result()
	if err != nil {
		return store.Flow{}, s.wrap("consume state", err)
	}
	if won != id {
		return store.Flow{}, fmt.Errorf("redis store: consume state: %w", store.ErrNotFound)
	}
	return f, nil
}

// errAbort stops a WATCH transaction whose callback already has its
// answer (fn's error, a missing record).
var errAbort = errors.New("redis store: transaction aborted")

// errNeedIndex asks UpdateConnection to index a new id, outside the
// transaction, before creating its record.
var errNeedIndex = errors.New("redis store: connection id not indexed yet")

// UpdateFlow is compare-and-swap on the flow key (WATCH/MULTI/EXEC). The
// flow's Redis TTL follows the new ExpiresAt.
func (s *Store) UpdateFlow(ctx context.Context, id string, fn func(store.Flow) (store.Flow, error)) (store.Flow, error) {
	return s.UpdateFlowEvents(ctx, id, nil, fn)
}

// UpdateFlowEvents is UpdateFlow that also writes events in the same
// MULTI (see outbox.go).
func (s *Store) UpdateFlowEvents(ctx context.Context, id string, events []store.Event, fn func(store.Flow) (store.Flow, error)) (store.Flow, error) {
	key := s.flowKey(id)
	evs, err := s.prepareEvents(ctx, id, events)
	if err != nil {
		return store.Flow{}, err
	}
	var out store.Flow
	var abortErr error
	txf := func(tx *goredis.Tx) error {
		raw, err := tx.Get(ctx, key).Bytes()
		if err != nil {
			return err
		}
		cur, err := decode(codec.DecodeFlow, raw)
		if err != nil {
			abortErr = err
			return errAbort
		}
		if s.expired(cur.ExpiresAt) {
			abortErr = fmt.Errorf("redis store: update flow: expired: %w", store.ErrNotFound)
			return errAbort
		}
		next, err := fn(cur)
		if err != nil {
			abortErr = err
			return errAbort
		}
		if next.ID != cur.ID || next.StateHash != cur.StateHash {
			abortErr = fmt.Errorf("redis store: update flow %q: ID and StateHash cannot change", id)
			return errAbort
		}
		data := codec.EncodeFlow(next)
		ttl := s.flowTTL(next.ExpiresAt)
		cmds, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, key, data, ttl)
			evs.queue(ctx, p)
			return nil
		})
		err = queuedErr(cmds, err)
		out = next
		return err
	}
	if err := s.cas(ctx, "update flow", key, txf, &abortErr); err != nil {
		s.dropEvents(ctx, evs)
		return store.Flow{}, err
	}
	return out, nil
}

// cas runs txf under WATCH key until it commits, retrying lost races with
// a jittered back-off. An error the callback set in *abortErr is returned
// unchanged.
func (s *Store) cas(ctx context.Context, op, key string, txf func(*goredis.Tx) error, abortErr *error) error {
	for attempt := range casAttempts {
		*abortErr = nil
		err := s.client.Watch(ctx, txf, key)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errAbort):
			return *abortErr
		case errors.Is(err, goredis.TxFailedErr):
			// Someone wrote the key between WATCH and EXEC: try again.
		default:
			return s.wrap(op, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return fmt.Errorf("redis store: %s: %w", op, err)
		}
	}
	return fmt.Errorf("redis store: %s: lost %d races in a row: %w", op, casAttempts, store.ErrConflict)
}

// backoff waits before the next attempt of a transaction that lost a race:
// not at all for the first two, then a jittered few milliseconds. It
// returns the context's error if it ends first.
func backoff(ctx context.Context, attempt int) error {
	if attempt < 2 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(mrand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))):
		return nil
	}
}

// --- connections ---

// GetConnection returns a connection; store.ErrNotFound when missing.
func (s *Store) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	raw, err := s.client.Get(ctx, s.connKey(id)).Bytes()
	if err != nil {
		return store.Connection{}, s.wrap("get connection", err)
	}
	return decode(codec.DecodeConnection, raw)
}

// UpdateConnection is compare-and-swap create-or-update on the connection
// key (WATCH/MULTI/EXEC). A create adds the id to the connection index
// before and after the record is written (see DeleteConnection for why).
func (s *Store) UpdateConnection(ctx context.Context, id string, fn func(c store.Connection, exists bool) (store.Connection, error)) (store.Connection, error) {
	return s.UpdateConnectionEvents(ctx, id, nil, fn)
}

// UpdateConnectionEvents is UpdateConnection that also writes events in
// the same MULTI (see outbox.go).
func (s *Store) UpdateConnectionEvents(ctx context.Context, id string, events []store.Event, fn func(c store.Connection, exists bool) (store.Connection, error)) (store.Connection, error) {
	key := s.connKey(id)
	evs, err := s.prepareEvents(ctx, id, events)
	if err != nil {
		return store.Connection{}, err
	}
	var out store.Connection
	var created, indexed bool
	var abortErr error
	txf := func(tx *goredis.Tx) error {
		var cur store.Connection
		exists := true
		raw, err := tx.Get(ctx, key).Bytes()
		switch {
		case errors.Is(err, goredis.Nil):
			exists = false
		case err != nil:
			return err
		default:
			if cur, err = decode(codec.DecodeConnection, raw); err != nil {
				abortErr = err
				return errAbort
			}
		}
		counted, err := s.countsKept(ctx, tx)
		if err != nil {
			return err
		}
		if !exists && !indexed {
			// Index first, so a crash after the write leaves no record
			// ListConnections cannot see. Not from inside this callback:
			// it holds a pooled connection, and taking a second one could
			// starve the pool under contention.
			abortErr = errNeedIndex
			return errAbort
		}
		next, err := fn(cur, exists)
		if err != nil {
			abortErr = err
			return errAbort
		}
		if next.ID != id || !store.ValidID(next) {
			abortErr = fmt.Errorf("redis store: update connection %q: ID must be the id updated and pass store.ValidID", id)
			return errAbort
		}
		now := s.now()
		next.UpdatedAt = now
		if exists {
			next.CreatedAt = cur.CreatedAt
			next.Version = cur.Version + 1
		} else {
			next.CreatedAt = now
			next.Version = 1
		}
		data := codec.EncodeConnection(next)
		cmds, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, key, data, 0)
			if counted {
				var old *store.Connection
				if exists {
					old = &cur
				}
				s.queueMove(ctx, p, id, old, &next)
			}
			evs.queue(ctx, p)
			p.Publish(ctx, s.connFeedChannel(), id)
			return nil
		})
		err = queuedErr(cmds, err)
		out, created = next, !exists
		return err
	}
	err = s.cas(ctx, "update connection", key, txf, &abortErr)
	if errors.Is(err, errNeedIndex) {
		if err := s.client.ZAdd(ctx, s.connIndex(), goredis.Z{Member: id}).Err(); err != nil {
			return store.Connection{}, s.wrap("update connection: index", err)
		}
		indexed = true
		err = s.cas(ctx, "update connection", key, txf, &abortErr)
	}
	if err != nil {
		s.dropEvents(ctx, evs)
		return store.Connection{}, err
	}
	if created {
		if err := s.client.ZAdd(ctx, s.connIndex(), goredis.Z{Member: id}).Err(); err != nil {
			// The record is written and indexed by the first ZADD unless a
			// delete raced us; report the write, log the index miss.
			s.log.WarnContext(ctx, "redis store: re-index created connection", "connection_id", id, "error", err)
		}
	}
	return out, nil
}

// DeleteConnection removes a connection; store.ErrNotFound when missing.
// The index entry goes after the record; if a create of the same id wrote
// its record meanwhile, the entry is put back, so the index never misses a
// record (the create indexes after writing too).
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	return s.DeleteConnectionEvents(ctx, id, nil)
}

// DeleteConnectionEvents is DeleteConnection that also writes events in
// the same MULTI (see outbox.go).
func (s *Store) DeleteConnectionEvents(ctx context.Context, id string, events []store.Event) error {
	n, err := s.deleteWithEvents(ctx, s.connKey(id), id, events)
	if err != nil {
		return s.wrap("delete connection", err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: delete connection: %w", store.ErrNotFound)
	}
	s.unindex(ctx, s.connIndex(), s.connKey(id), id, true)
	return nil
}

// unindex removes id from an index after its record was deleted, and adds
// it back if the record exists again (a concurrent create). Failures only
// leave a stale id, which readers skip, so they are logged, not returned.
func (s *Store) unindex(ctx context.Context, index, recordKey, id string, sorted bool) {
	var err error
	if sorted {
		err = s.client.ZRem(ctx, index, id).Err()
	} else {
		err = s.client.SRem(ctx, index, id).Err()
	}
	if err == nil {
		var n int64
		n, err = s.client.Exists(ctx, recordKey).Result()
		if err == nil && n > 0 {
			if sorted {
				err = s.client.ZAdd(ctx, index, goredis.Z{Member: id}).Err()
			} else {
				err = s.client.SAdd(ctx, index, id).Err()
			}
		}
	}
	if err != nil {
		s.log.WarnContext(ctx, "redis store: update index after delete", "index", index, "id", id, "error", err)
	}
}

// ListConnections returns matching connections ordered by ID, the page
// [offset, offset+limit) and the number of matches. limit <= 0 means no
// limit. Where the store keeps indexes (counts.go: not on Cluster), a
// filter on provider and/or status alone, or no filter, reads only the
// page from its index (listPage: one script reading the page and its
// records), and a filter that also names a user or an account reads the
// records of that index. Other filters cost one ZRANGE of the whole
// connection index plus one pipelined GET per 256 indexed ids, filtered in
// Go.
func (s *Store) ListConnections(ctx context.Context, filter store.ConnectionFilter, offset, limit int) ([]store.Connection, int, error) {
	index := s.connIndex()
	if filter.UserID == "" && filter.Account == "" || filter.ProviderID != "" || filter.Status != "" {
		kept, err := s.ensureCounts(ctx)
		if err != nil && !errors.Is(err, store.ErrUnsupported) {
			return nil, 0, err
		}
		if kept {
			index = s.connIndexOf(filter.ProviderID, filter.Status)
			if filter.UserID == "" && filter.Account == "" {
				return s.listPage(ctx, index, offset, limit)
			}
		}
	}
	ids, err := s.client.ZRange(ctx, index, 0, -1).Result()
	if err != nil {
		return nil, 0, s.wrap("list connections", err)
	}
	var matches []store.Connection
	err = s.readEach(ctx, "list connections", ids, s.connKey, func(_ string, raw []byte) error {
		c, err := decode(codec.DecodeConnection, raw)
		if err != nil {
			return err
		}
		if filter.Match(c) {
			matches = append(matches, c)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	total := len(matches)
	offset = min(max(offset, 0), total)
	end := total
	if limit > 0 {
		end = min(offset+limit, total)
	}
	return matches[offset:end], total, nil
}

// readEach GETs key(id) for each id, in pipelined batches, and calls fn on
// each record found (with its id), in order. Missing records (stale index
// entries) are skipped.
func (s *Store) readEach(ctx context.Context, op string, ids []string, key func(string) string, fn func(id string, raw []byte) error) error {
	for start := 0; start < len(ids); start += listBatch {
		batch := ids[start:min(start+listBatch, len(ids))]
		cmds := make([]*goredis.StringCmd, len(batch))
		_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, id := range batch {
				cmds[i] = p.Get(ctx, key(id))
			}
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) {
			return s.wrap(op, err)
		}
		for i, cmd := range cmds {
			raw, err := cmd.Bytes()
			if errors.Is(err, goredis.Nil) {
				continue
			}
			if err != nil {
				return s.wrap(op, err)
			}
			// fn's errors (a corrupt record) are not the store being
			// unavailable: they pass through unwrapped, as Get's do.
			if err := fn(batch[i], raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// --- providers ---

// CreateProvider stores a new record; store.ErrConflict if the id exists.
func (s *Store) CreateProvider(ctx context.Context, p store.ProviderRecord) error {
	data := codec.EncodeProvider(p)
	if err := s.client.SAdd(ctx, s.providerIndex(), p.ID).Err(); err != nil {
		return s.wrap("create provider", err)
	}
	ok, err := s.setNX(ctx, s.providerKey(p.ID), data, 0)
	if err != nil {
		return s.wrap("create provider", err)
	}
	if !ok {
		return fmt.Errorf("redis store: create provider %q: %w", p.ID, store.ErrConflict)
	}
	return nil
}

// PutProvider replaces an existing record (SET XX); store.ErrNotFound when
// missing.
func (s *Store) PutProvider(ctx context.Context, p store.ProviderRecord) error {
	data := codec.EncodeProvider(p)
	err := s.client.SetArgs(ctx, s.providerKey(p.ID), data, goredis.SetArgs{Mode: "XX"}).Err()
	if err != nil {
		return s.wrap("put provider", err)
	}
	return nil
}

// UpdateProvider replaces record p.ID only if its Sealed is still old
// (WATCH/MULTI/EXEC): store.ErrConflict when it changed, store.ErrNotFound
// when missing.
func (s *Store) UpdateProvider(ctx context.Context, p store.ProviderRecord, old []byte) error {
	key := s.providerKey(p.ID)
	var abortErr error
	txf := func(tx *goredis.Tx) error {
		raw, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, goredis.Nil) {
			abortErr = fmt.Errorf("redis store: update provider %q: %w", p.ID, store.ErrNotFound)
			return errAbort
		}
		if err != nil {
			return err
		}
		cur, err := decode(codec.DecodeProvider, raw)
		if err != nil {
			abortErr = err
			return errAbort
		}
		if !bytes.Equal(cur.Sealed, old) {
			abortErr = fmt.Errorf("redis store: update provider %q: %w", p.ID, store.ErrConflict)
			return errAbort
		}
		p.CreatedAt = cur.CreatedAt
		data := codec.EncodeProvider(p)
		_, err = tx.TxPipelined(ctx, func(pl goredis.Pipeliner) error {
			pl.Set(ctx, key, data, 0)
			return nil
		})
		return err
	}
	return s.cas(ctx, "update provider", key, txf, &abortErr)
}

// GetProvider returns a record; store.ErrNotFound when missing.
func (s *Store) GetProvider(ctx context.Context, id string) (store.ProviderRecord, error) {
	raw, err := s.client.Get(ctx, s.providerKey(id)).Bytes()
	if err != nil {
		return store.ProviderRecord{}, s.wrap("get provider", err)
	}
	return decode(codec.DecodeProvider, raw)
}

// ListProviders returns every record ordered by ID.
func (s *Store) ListProviders(ctx context.Context) ([]store.ProviderRecord, error) {
	ids, err := s.client.SMembers(ctx, s.providerIndex()).Result()
	if err != nil {
		return nil, s.wrap("list providers", err)
	}
	slices.Sort(ids)
	var out []store.ProviderRecord
	err = s.readEach(ctx, "list providers", ids, s.providerKey, func(_ string, raw []byte) error {
		p, err := decode(codec.DecodeProvider, raw)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteProvider removes a record; store.ErrNotFound when missing.
func (s *Store) DeleteProvider(ctx context.Context, id string) error {
	n, err := s.client.Del(ctx, s.providerKey(id)).Result()
	if err != nil {
		return s.wrap("delete provider", err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: delete provider: %w", store.ErrNotFound)
	}
	s.unindex(ctx, s.providerIndex(), s.providerKey(id), id, false)
	return nil
}

// --- locks ---

// Lock takes the named lease with SET NX PX and returns its owner token
// (128 random bits); store.ErrLockHeld when another owner holds it. The
// lease runs on Redis's clock, not Options.Now.
func (s *Store) Lock(ctx context.Context, name string, ttl time.Duration) (string, error) {
	if ttl < time.Millisecond {
		return "", fmt.Errorf("redis store: lock %q: ttl %v is below 1ms", name, ttl)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("redis store: lock %q: token: %w", name, err)
	}
	token := hex.EncodeToString(b[:])
	ok, err := s.setNX(ctx, s.lockKey(name), token, ttl)
	if err != nil {
		return "", s.wrap("lock", err)
	}
	if !ok {
		return "", fmt.Errorf("redis store: lock %q: %w", name, store.ErrLockHeld)
	}
	return token, nil
}

// Unlock releases the lease only if token still owns it (a Lua
// compare-and-delete); a lost or expired lease is a no-op.
func (s *Store) Unlock(ctx context.Context, name, token string) error {
	if err := s.compareAndDelete.Run(ctx, s.client, []string{s.lockKey(name)}, token).Err(); err != nil {
		return s.wrap("unlock", err)
	}
	return nil
}

// Renew extends the lease to ttl only if token still owns it (a Lua
// compare-and-pexpire); store.ErrLockLost when it expired or changed hands.
func (s *Store) Renew(ctx context.Context, name, token string, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("redis store: renew lock %q: ttl %v is below 1ms", name, ttl)
	}
	n, err := s.compareAndExpire.Run(ctx, s.client, []string{s.lockKey(name)}, token, ttl.Milliseconds()).Int()
	if err != nil {
		return s.wrap("renew lock", err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: renew lock %q: %w", name, store.ErrLockLost)
	}
	return nil
}

// --- errors ---

// notNowReply reports whether a server reply means "not now" (loading,
// failing over, busy, out of memory under maxmemory with noeviction,
// refusing writes after a failed RDB save) rather than "wrong request".
// The server refused the command, so nothing was written.
func notNowReply(msg string) bool {
	for _, p := range [...]string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "BUSY", "NOREPLICAS", "OOM", "MISCONF"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// queuedErr replaces EXEC's "EXECABORT Transaction discarded because of
// previous errors" with the error of the command the server refused to
// queue (OOM, MISCONF, READONLY...), which says what went wrong.
func queuedErr(cmds []goredis.Cmder, err error) error {
	if err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		return err
	}
	for _, c := range cmds {
		if cerr := c.Err(); cerr != nil {
			return cerr
		}
	}
	return err
}

// wrap turns a go-redis error into the store's vocabulary: redis.Nil is
// store.ErrNotFound; transport errors, timeouts, pool exhaustion, a closed
// client and "not now" replies (OOM and MISCONF among them) are
// store.ErrUnavailable. go-redis errors
// name the server address at most, never the URL or password.
func (s *Store) wrap(op string, err error) error {
	var rerr goredis.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return fmt.Errorf("redis store: %s: %w", op, store.ErrNotFound)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("redis store: %s: %w", op, err)
	case errors.As(err, &rerr) && !errors.Is(err, goredis.ErrPoolTimeout) && !errors.Is(err, goredis.ErrClosed):
		if notNowReply(rerr.Error()) {
			return fmt.Errorf("%w: redis store: %s: %w", store.ErrUnavailable, op, err)
		}
		return fmt.Errorf("redis store: %s: %w", op, err)
	default:
		// Dial and read errors, timeouts (also the caller's deadline
		// while waiting on Redis), EOF, pool timeout, closed client.
		return fmt.Errorf("%w: redis store: %s: %w", store.ErrUnavailable, op, err)
	}
}
