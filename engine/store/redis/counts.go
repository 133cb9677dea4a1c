package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// Connection counts and filtered-listing indexes (store.ConnectionCounter).
//
//	<prefix>conncounts                     hash: CountKey.String() -> count
//	<prefix>conncounts:built               "1" once the counts follow every write
//	<prefix>conns:p:<provider>             sorted set of the provider's connection ids (score 0)
//	<prefix>conns:s:<status>               sorted set of the ids in that status
//	<prefix>conns:b:<status>:<provider>    sorted set of the ids of both
//	<prefix>conns:all                      sorted set of every connection id
//
// On a standalone Redis (or Sentinel's master) every connection write
// changes them in the MULTI that writes the record, so they are exact at
// every commit, whoever writes. On a store written before they existed
// (no conncounts:built), the first count or listing builds them (the
// engine's authengine_connections gauge asks at every scrape) in one
// MULTI under WATCH of the marker, the connection index and every
// connection record: a concurrent write makes it start again, and a
// writer that read "not built" loses its WATCH on the marker when the
// build commits and retries with the counts. Every engine instance
// sharing the store must run a release that keeps them (an older one
// writes without moving them). Deleting the marker makes a store that has
// not yet seen it built build them again, counts and indexes from nothing
// (the indexes are found with SCAN and deleted in the build's MULTI); a
// running store that has seen it keeps using them until it is restarted.
//
// On Redis Cluster the record and these keys are in different slots, and
// no MULTI or script may span slots, so no write could move them
// atomically: the store keeps none there. ConnectionCounts answers
// store.ErrUnsupported (the engine counts from a listing) and listings
// read every record.

// listIndexedLua reads one page of an index and its records in one atomic
// step, so a page never mixes states: KEYS[1] is the index, ARGV[1] the
// connection key prefix ("<prefix>conn:"), ARGV[2] and ARGV[3] the ZRANGE
// bounds. It answers the index's size, then each id and its record.
const listIndexedLua = `local ids = redis.call("zrange", KEYS[1], ARGV[2], ARGV[3])
local out = {redis.call("zcard", KEYS[1])}
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call("get", ARGV[1] .. "{" .. id .. "}")
end
return out`

func (s *Store) countsKey() string    { return s.prefix + "conncounts" }
func (s *Store) countsMarker() string { return s.prefix + "conncounts:built" }

// connIndexOf is the index a filter's provider and status select (every
// connection when it names neither).
func (s *Store) connIndexOf(provider string, status store.ConnectionStatus) string {
	switch {
	case provider != "" && status != "":
		return s.prefix + "conns:b:" + string(status) + ":" + provider
	case provider != "":
		return s.prefix + "conns:p:" + provider
	case status != "":
		return s.prefix + "conns:s:" + string(status)
	}
	return s.prefix + "conns:all"
}

// stateIndexes are the listing indexes a connection of provider in
// status is a member of, besides conns:all.
func (s *Store) stateIndexes(provider string, status store.ConnectionStatus) [3]string {
	return [3]string{s.connIndexOf(provider, ""), s.connIndexOf("", status), s.connIndexOf(provider, status)}
}

// countsKept reports, inside a WATCH transaction before its MULTI,
// whether this write must move the counts. Until this Store has seen
// them built it watches the marker too, so a build committing meanwhile
// makes the write retry.
func (s *Store) countsKept(ctx context.Context, tx *goredis.Tx) (bool, error) {
	if s.cluster {
		return false, nil
	}
	if s.countsBuilt.Load() {
		return true, nil
	}
	if err := tx.Watch(ctx, s.countsMarker()).Err(); err != nil {
		return false, err
	}
	n, err := tx.Exists(ctx, s.countsMarker()).Result()
	if err != nil {
		return false, err
	}
	if n > 0 {
		s.countsBuilt.Store(true)
	}
	return n > 0, nil
}

// queueMove queues, in a MULTI, the count and index changes of connection
// id from old to next (nil: absent).
func (s *Store) queueMove(ctx context.Context, p goredis.Pipeliner, id string, old, next *store.Connection) {
	if old != nil && next != nil && store.CountKeyOf(*old) == store.CountKeyOf(*next) {
		return
	}
	for _, step := range []struct {
		c     *store.Connection
		delta int64
	}{{old, -1}, {next, 1}} {
		if step.c == nil {
			continue
		}
		p.HIncrBy(ctx, s.countsKey(), store.CountKeyOf(*step.c).String(), step.delta)
		for _, index := range s.stateIndexes(step.c.ProviderID, step.c.Status) {
			if step.delta < 0 {
				p.ZRem(ctx, index, id)
			} else {
				p.ZAdd(ctx, index, goredis.Z{Member: id})
			}
		}
	}
	switch {
	case old == nil:
		p.ZAdd(ctx, s.connIndexOf("", ""), goredis.Z{Member: id})
	case next == nil:
		p.ZRem(ctx, s.connIndexOf("", ""), id)
	}
}

// ensureCounts builds the counts and indexes when the store has none yet
// (see the comment at the top of this file); false on Redis Cluster. A
// build that loses its WATCH to writers 64 times in a row gives up with
// an error that is store.ErrUnsupported too: that call is served without
// counts (the engine counts from a listing), and the next one tries again.
func (s *Store) ensureCounts(ctx context.Context) (bool, error) {
	if s.cluster {
		return false, nil
	}
	if s.countsBuilt.Load() {
		return true, nil
	}
	for attempt := range casAttempts {
		err := s.client.Watch(ctx, func(tx *goredis.Tx) error { return s.buildCounts(ctx, tx) }, s.countsMarker(), s.connIndex())
		switch {
		case err == nil:
			s.countsBuilt.Store(true)
			return true, nil
		case errors.Is(err, goredis.TxFailedErr):
			if err := backoff(ctx, attempt); err != nil {
				return false, fmt.Errorf("redis store: build connection counts: %w", err)
			}
		default:
			return false, s.wrap("build connection counts", err)
		}
	}
	// Not built this time: the callers serve this call without them.
	return false, fmt.Errorf("redis store: build connection counts: lost %d races in a row: %w: %w", casAttempts, store.ErrConflict, store.ErrUnsupported)
}

// buildCounts counts and indexes every connection record in one MULTI,
// under WATCH of the marker, the connection index (watched by the caller)
// and every record it read.
func (s *Store) buildCounts(ctx context.Context, tx *goredis.Tx) error {
	if n, err := tx.Exists(ctx, s.countsMarker()).Result(); err != nil || n > 0 {
		return err
	}
	ids, err := tx.ZRange(ctx, s.connIndex(), 0, -1).Result()
	if err != nil {
		return err
	}
	var conns []store.Connection
	for start := 0; start < len(ids); start += listBatch {
		batch := ids[start:min(start+listBatch, len(ids))]
		keys := make([]string, len(batch))
		for i, id := range batch {
			keys[i] = s.connKey(id)
		}
		if err := tx.Watch(ctx, keys...).Err(); err != nil {
			return err
		}
		vals, err := tx.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		for _, v := range vals {
			raw, ok := v.(string)
			if !ok {
				continue // a stale index entry
			}
			c, err := decode(codec.DecodeConnection, []byte(raw))
			if err != nil {
				continue // not counted; store check reports it
			}
			conns = append(conns, c)
		}
	}
	// The indexes are rebuilt from nothing too: a build forced by deleting
	// the marker must not keep an entry for a state a connection has left
	// (or for a connection that is gone). A writer that adds an entry
	// after this scan touches a watched record (or the connection index)
	// and makes the build start again.
	indexes, err := s.filteredIndexes(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, s.countsKey())
		if len(indexes) > 0 {
			p.Del(ctx, indexes...)
		}
		for _, c := range conns {
			s.queueMove(ctx, p, c.ID, nil, &c)
		}
		p.Set(ctx, s.countsMarker(), "1", 0)
		return nil
	})
	return err
}

// filteredIndexes lists the keys of the filtered-listing indexes
// (<prefix>conns:p:..., conns:s:..., conns:b:..., conns:all) with SCAN.
func (s *Store) filteredIndexes(ctx context.Context, c goredis.Cmdable) ([]string, error) {
	var keys []string
	iter := c.Scan(ctx, 0, globEscape(s.prefix)+"conns:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// globEscape escapes the characters a Redis MATCH pattern treats as
// special, so a key prefix holding them matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ConnectionCounts returns the kept counts of connections by provider and
// status: one HGETALL. store.ErrUnsupported on Redis Cluster.
func (s *Store) ConnectionCounts(ctx context.Context) (store.ConnectionCounts, error) {
	kept, err := s.ensureCounts(ctx)
	if err != nil {
		return nil, err
	}
	if !kept {
		return nil, fmt.Errorf("redis store: count connections: Redis Cluster keeps no counts: %w", store.ErrUnsupported)
	}
	fields, err := s.client.HGetAll(ctx, s.countsKey()).Result()
	if err != nil {
		return nil, s.wrap("count connections", err)
	}
	out, corrupt := parseCounts(fields)
	if len(corrupt) > 0 {
		return nil, fmt.Errorf("redis store: count connections: corrupt count %q", corrupt[0])
	}
	maps.DeleteFunc(out, func(_ store.CountKey, n int) bool { return n < 0 })
	return out, nil
}

// parseCounts reads the counts hash's fields (negative counts included,
// for the check), and names those that do not parse.
func parseCounts(fields map[string]string) (out store.ConnectionCounts, corrupt []string) {
	out = store.ConnectionCounts{}
	for field, v := range fields {
		key, ok := store.ParseCountKey(field)
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			corrupt = append(corrupt, field)
			continue
		}
		if n != 0 {
			out.Add(key, n)
		}
	}
	slices.Sort(corrupt)
	return out, corrupt
}

// listPage reads the page [offset, offset+limit) of index and its
// records in one script, atomically (the index is exact: kept in the
// records' MULTI), and the index's size as the total.
func (s *Store) listPage(ctx context.Context, index string, offset, limit int) ([]store.Connection, int, error) {
	start, stop := int64(max(offset, 0)), int64(-1)
	if limit > 0 {
		stop = start + int64(limit) - 1
	}
	reply, err := s.listIndexScript.Run(ctx, s.client, []string{index}, s.prefix+"conn:", start, stop).Slice()
	if err != nil {
		return nil, 0, s.wrap("list connections", err)
	}
	if len(reply)%2 != 1 {
		return nil, 0, fmt.Errorf("redis store: list connections: unexpected index reply of %d items", len(reply))
	}
	size, _ := reply[0].(int64)
	var list []store.Connection
	for i := 1; i < len(reply); i += 2 {
		raw, ok := reply[i+1].(string)
		if !ok {
			return nil, 0, fmt.Errorf("redis store: list connections: index names missing connection %q", reply[i])
		}
		c, err := decode(codec.DecodeConnection, []byte(raw))
		if err != nil {
			return nil, 0, err
		}
		list = append(list, c)
	}
	return list, int(size), nil
}
