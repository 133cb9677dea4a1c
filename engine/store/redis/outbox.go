package redis

// The outbox. Keys:
//
//	<prefix>event:{<key>}:<event id>  event record, no TTL; <key> is the
//	                                  id of the connection or flow the event is
//	                                  about, so the event shares its slot and
//	                                  is written in the same MULTI
//	<prefix>eventkeys                 hash: event id -> <key>
//	<prefix>events                    sorted set of every event id (score 0)
//	<prefix>outbox                    sorted set of pending event ids, score =
//	                                  NextAttemptAt in unix ms
//
// The three index keys live in their own slots, outside the record
// transactions. As with the connection index they are supersets: an id is
// indexed before its record is written and unindexed after it is deleted,
// and readers skip (and, once the id is older than eventGrace, remove) ids
// whose record is missing. A pending record is in <prefix>outbox whatever
// crashes: a retry or a replay makes the id due now before it writes the
// record, and sets its real score after; readers correct a score that is
// early and remove a failed event's id only if its score did not change
// since they read it.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// eventGrace is how old an indexed event id whose record is missing must
// be before a reader removes it: younger ids may belong to a write in
// flight.
const eventGrace = time.Minute

// removeIfScoreLua removes ARGV[1] from sorted set KEYS[1] only if its
// score is still ARGV[2] (the score the caller read).
const removeIfScoreLua = `local s = redis.call("zscore", KEYS[1], ARGV[1]) if s and tonumber(s) == tonumber(ARGV[2]) then return redis.call("zrem", KEYS[1], ARGV[1]) end return 0`

var removeIfScore = goredis.NewScript(removeIfScoreLua)

func (s *Store) eventKey(key, id string) string {
	return s.prefix + "event:{" + key + "}:" + id
}
func (s *Store) eventKeys() string  { return s.prefix + "eventkeys" }
func (s *Store) eventIndex() string { return s.prefix + "events" }
func (s *Store) outboxIndex() string {
	return s.prefix + "outbox"
}

// score is a pending event's place in the outbox index.
func score(t time.Time) float64 { return float64(t.UnixMilli()) }

// eventTime is the creation time an event id carries (store.NewEventID),
// or the zero time for an id that carries none.
func eventTime(id string) time.Time {
	if len(id) < 20 || id[:4] != "evt_" {
		return time.Time{}
	}
	n, err := strconv.ParseUint(id[4:20], 16, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, int64(n))
}

// preparedEvents are events encoded and indexed, ready to be queued in the
// MULTI that writes the record they are about.
type preparedEvents struct {
	keys []string
	data [][]byte
	ids  []string
}

// prepareEvents checks and encodes events about record key, and indexes
// them (before the write: the indexes are supersets).
func (s *Store) prepareEvents(ctx context.Context, key string, events []store.Event) (*preparedEvents, error) {
	if len(events) == 0 {
		return nil, nil
	}
	now := s.now()
	pe := &preparedEvents{}
	for _, ev := range events {
		if err := store.CheckEvent(ev); err != nil {
			return nil, err
		}
		if ev.Key != key {
			return nil, fmt.Errorf("redis store: event %s: its Key must be the id of the record written with it (%q)", ev.ID, key)
		}
		if ev.CreatedAt.IsZero() {
			ev.CreatedAt = now
		}
		ev.UpdatedAt = now
		data := codec.EncodeEvent(ev)
		pe.keys = append(pe.keys, s.eventKey(key, ev.ID))
		pe.data = append(pe.data, data)
		pe.ids = append(pe.ids, ev.ID)
	}
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, ev := range events {
			p.HSet(ctx, s.eventKeys(), ev.ID, key)
			p.ZAdd(ctx, s.eventIndex(), goredis.Z{Member: ev.ID})
			if ev.Status == store.EventPending {
				p.ZAdd(ctx, s.outboxIndex(), goredis.Z{Member: ev.ID, Score: score(ev.NextAttemptAt)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("index events", err)
	}
	return pe, nil
}

// queue adds the events' writes to a MULTI. A nil receiver queues nothing.
func (pe *preparedEvents) queue(ctx context.Context, p goredis.Pipeliner) {
	if pe == nil {
		return
	}
	for i, k := range pe.keys {
		p.Set(ctx, k, pe.data[i], 0)
	}
}

// dropEvents unindexes prepared events whose write did not happen (best
// effort: readers remove what is left once it is older than eventGrace).
func (s *Store) dropEvents(ctx context.Context, pe *preparedEvents) {
	if pe == nil {
		return
	}
	s.unindexEvents(context.WithoutCancel(ctx), pe.ids...)
}

func (s *Store) unindexEvents(ctx context.Context, ids ...string) {
	if len(ids) == 0 {
		return
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZRem(ctx, s.outboxIndex(), members...)
		p.ZRem(ctx, s.eventIndex(), members...)
		p.HDel(ctx, s.eventKeys(), ids...)
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "redis store: unindex events", "error", err)
	}
}

// deleteWithEvents deletes key (the record of connection id), writes
// events and announces the delete on the connection feed in one MULTI; it
// returns how many keys were deleted (0: the record was missing, and
// nothing was written).
func (s *Store) deleteWithEvents(ctx context.Context, key, id string, events []store.Event) (int64, error) {
	pe, err := s.prepareEvents(ctx, id, events)
	if err != nil {
		return 0, err
	}
	var deleted int64
	var abortErr error
	txf := func(tx *goredis.Tx) error {
		raw, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, goredis.Nil) {
			deleted = 0
			return nil
		}
		if err != nil {
			return err
		}
		counted, err := s.countsKept(ctx, tx)
		if err != nil {
			return err
		}
		// A record that cannot be decoded was never counted: it goes
		// without changing a count.
		old, derr := decode(codec.DecodeConnection, raw)
		counted = counted && derr == nil
		cmds, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Del(ctx, key)
			if counted {
				s.queueMove(ctx, p, id, &old, nil)
			}
			pe.queue(ctx, p)
			p.Publish(ctx, s.connFeedChannel(), id)
			return nil
		})
		deleted = 1
		return queuedErr(cmds, err)
	}
	if err := s.cas(ctx, "delete with events", key, txf, &abortErr); err != nil {
		s.dropEvents(ctx, pe)
		return 0, err
	}
	if deleted == 0 {
		s.dropEvents(ctx, pe)
	}
	return deleted, nil
}

// AppendEvents stores events that go with no record write. Each event is
// written on its own (SET NX): store.ErrConflict if an id is taken.
func (s *Store) AppendEvents(ctx context.Context, events ...store.Event) error {
	for _, ev := range events {
		pe, err := s.prepareEvents(ctx, ev.Key, []store.Event{ev})
		if err != nil {
			return err
		}
		ok, err := s.client.SetNX(ctx, pe.keys[0], pe.data[0], 0).Result()
		if err != nil {
			return s.wrap("append event", err)
		}
		if !ok {
			return fmt.Errorf("redis store: append event %s: %w", ev.ID, store.ErrConflict)
		}
	}
	return nil
}

// readEvents reads the records of ids (in order), skipping missing ones;
// ids missing for longer than eventGrace are unindexed.
func (s *Store) readEvents(ctx context.Context, op string, ids []string) ([]store.Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys, err := s.client.HMGet(ctx, s.eventKeys(), ids...).Result()
	if err != nil {
		return nil, s.wrap(op, err)
	}
	keyOf := make(map[string]string, len(ids))
	var stale, known []string
	for i, id := range ids {
		if k, ok := keys[i].(string); ok {
			keyOf[id] = k
			known = append(known, id)
		} else {
			stale = append(stale, id)
		}
	}
	var out []store.Event
	found := map[string]bool{}
	err = s.readEach(ctx, op, known, func(id string) string { return s.eventKey(keyOf[id], id) }, func(id string, raw []byte) error {
		ev, err := decode(codec.DecodeEvent, raw)
		if err != nil {
			return err
		}
		found[id] = true
		out = append(out, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range known {
		if !found[id] {
			stale = append(stale, id)
		}
	}
	var old []string
	for _, id := range stale {
		if t := eventTime(id); t.IsZero() || s.now().Sub(t) > eventGrace {
			old = append(old, id)
		}
	}
	s.unindexEvents(ctx, old...)
	return out, nil
}

// DueEvents returns up to limit pending events due at now, ordered by ID.
// It reads the outbox index by due time and corrects entries it finds
// wrong: a failed event's id is removed, a pending event that is not due
// yet gets its real due time.
func (s *Store) DueEvents(ctx context.Context, now time.Time, limit int) ([]store.Event, error) {
	var count int64 = -1
	if limit > 0 {
		count = int64(limit)
	}
	zs, err := s.client.ZRangeByScoreWithScores(ctx, s.outboxIndex(), &goredis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: count,
	}).Result()
	if err != nil {
		return nil, s.wrap("due events", err)
	}
	ids := make([]string, len(zs))
	scores := make(map[string]float64, len(zs))
	for i, z := range zs {
		id, _ := z.Member.(string)
		ids[i], scores[id] = id, z.Score
	}
	evs, err := s.readEvents(ctx, "due events", ids)
	if err != nil {
		return nil, err
	}
	var out []store.Event
	for _, ev := range evs {
		switch {
		case ev.Status != store.EventPending:
			if err := removeIfScore.Run(ctx, s.client, []string{s.outboxIndex()}, ev.ID, scores[ev.ID]).Err(); err != nil {
				s.log.WarnContext(ctx, "redis store: unindex a failed event", "event_id", ev.ID, "error", err)
			}
		case ev.NextAttemptAt.After(now):
			if err := s.client.ZAddGT(ctx, s.outboxIndex(), goredis.Z{Member: ev.ID, Score: score(ev.NextAttemptAt)}).Err(); err != nil {
				s.log.WarnContext(ctx, "redis store: reindex an event", "event_id", ev.ID, "error", err)
			}
		default:
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b store.Event) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// GetEvent returns an event; store.ErrNotFound when missing.
func (s *Store) GetEvent(ctx context.Context, id string) (store.Event, error) {
	key, err := s.client.HGet(ctx, s.eventKeys(), id).Result()
	if err != nil {
		return store.Event{}, s.wrap("get event", err)
	}
	raw, err := s.client.Get(ctx, s.eventKey(key, id)).Bytes()
	if err != nil {
		return store.Event{}, s.wrap("get event", err)
	}
	return decode(codec.DecodeEvent, raw)
}

// UpdateEvent is compare-and-swap on the event's key. The id is made due
// now before the write and given its real place after it, so a crash in
// between leaves a pending event findable (see the top of this file).
func (s *Store) UpdateEvent(ctx context.Context, id string, fn func(store.Event) (store.Event, error)) (store.Event, error) {
	key, err := s.client.HGet(ctx, s.eventKeys(), id).Result()
	if err != nil {
		return store.Event{}, s.wrap("update event", err)
	}
	rkey := s.eventKey(key, id)
	if err := s.client.ZAdd(ctx, s.outboxIndex(), goredis.Z{Member: id, Score: score(s.now())}).Err(); err != nil {
		return store.Event{}, s.wrap("update event: index", err)
	}
	var out store.Event
	var abortErr error
	txf := func(tx *goredis.Tx) error {
		raw, err := tx.Get(ctx, rkey).Bytes()
		if err != nil {
			return err
		}
		cur, err := decode(codec.DecodeEvent, raw)
		if err != nil {
			abortErr = err
			return errAbort
		}
		next, err := fn(cur)
		if err != nil {
			abortErr = err
			return errAbort
		}
		if next.ID != cur.ID || next.Key != cur.Key || next.Type != cur.Type || string(next.Payload) != string(cur.Payload) {
			abortErr = fmt.Errorf("redis store: update event %q: ID, Key, Type and Payload cannot change", id)
			return errAbort
		}
		if err := store.CheckEvent(next); err != nil {
			abortErr = err
			return errAbort
		}
		next.UpdatedAt = s.now()
		data := codec.EncodeEvent(next)
		cmds, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, rkey, data, 0)
			return nil
		})
		out = next
		return queuedErr(cmds, err)
	}
	err = s.cas(ctx, "update event", rkey, txf, &abortErr)
	final := out
	if err != nil {
		// Put the id back where the stored record says it belongs.
		if cur, gerr := s.GetEvent(ctx, id); gerr == nil {
			final = cur
		} else {
			return store.Event{}, err
		}
	}
	var ierr error
	if final.Status == store.EventPending {
		ierr = s.client.ZAdd(ctx, s.outboxIndex(), goredis.Z{Member: id, Score: score(final.NextAttemptAt)}).Err()
	} else {
		ierr = s.client.ZRem(ctx, s.outboxIndex(), id).Err()
	}
	if ierr != nil {
		s.log.WarnContext(ctx, "redis store: reindex an updated event", "event_id", id, "error", ierr)
	}
	if err != nil {
		return store.Event{}, err
	}
	return out, nil
}

// DeleteEvent removes an event and then its index entries.
func (s *Store) DeleteEvent(ctx context.Context, id string) error {
	key, err := s.client.HGet(ctx, s.eventKeys(), id).Result()
	if err != nil {
		return s.wrap("delete event", err)
	}
	n, err := s.client.Del(ctx, s.eventKey(key, id)).Result()
	if err != nil {
		return s.wrap("delete event", err)
	}
	s.unindexEvents(ctx, id)
	if n == 0 {
		return fmt.Errorf("redis store: delete event: %w", store.ErrNotFound)
	}
	return nil
}

// ListEvents returns the events with status (all when empty) ordered by
// ID, the page and the number of matches. It reads every event: the
// outbox holds undelivered events only.
func (s *Store) ListEvents(ctx context.Context, status store.EventStatus, offset, limit int) ([]store.Event, int, error) {
	ids, err := s.client.ZRange(ctx, s.eventIndex(), 0, -1).Result()
	if err != nil {
		return nil, 0, s.wrap("list events", err)
	}
	evs, err := s.readEvents(ctx, "list events", ids)
	if err != nil {
		return nil, 0, err
	}
	var matches []store.Event
	for _, ev := range evs {
		if status == "" || ev.Status == status {
			matches = append(matches, ev)
		}
	}
	total := len(matches)
	offset = min(max(offset, 0), total)
	end := total
	if limit > 0 {
		end = min(offset+limit, total)
	}
	return matches[offset:end], total, nil
}
