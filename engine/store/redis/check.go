package redis

import (
	"context"
	"fmt"
	"maps"
	"slices"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

var _ store.CountsChecker = (*Store)(nil)

// checkAttempts bounds how often CheckCounts starts again because writes
// changed what it had read.
const checkAttempts = 5

// CheckCounts compares the kept connection counts and listing indexes with
// the connection records (store.CountsChecker), in one MULTI: the counts,
// the connection index, every record it names and every listing index
// (those the counts name, and any other a SCAN finds) are read at one
// instant. A write between the reads that choose the keys and that MULTI
// makes it start again. Each difference is one problem naming a provider, a status and a
// connection id at most, never a record's content. Nothing is compared
// (an error that is store.ErrUnsupported) when the counts were never built
// (they are built at first use), and on Redis Cluster, which keeps none.
func (s *Store) CheckCounts(ctx context.Context) ([]string, error) {
	if s.cluster {
		return nil, fmt.Errorf("Redis Cluster keeps no connection counts or listing indexes: %w", store.ErrUnsupported)
	}
	for range checkAttempts {
		built, err := s.client.Exists(ctx, s.countsMarker()).Result()
		if err != nil {
			return nil, s.wrap("check connection counts", err)
		}
		if built == 0 {
			return nil, fmt.Errorf("no connection counts or listing indexes built yet (an engine builds them at its first count or listing): %w", store.ErrUnsupported)
		}
		ids, err := s.client.ZRange(ctx, s.connIndex(), 0, -1).Result()
		if err != nil {
			return nil, s.wrap("check connection counts", err)
		}
		fields, err := s.client.HKeys(ctx, s.countsKey()).Result()
		if err != nil {
			return nil, s.wrap("check connection counts", err)
		}
		// The indexes the counts name, and any other there is (a stray
		// one names a state no connection is counted in).
		scanned, err := s.filteredIndexes(ctx, s.client)
		if err != nil {
			return nil, s.wrap("check connection counts", err)
		}
		indexes := s.indexesOf(fields, scanned)
		var (
			counts  *goredis.MapStringStringCmd
			again   *goredis.StringSliceCmd
			records = make([]*goredis.StringCmd, len(ids))
			members = make(map[string]*goredis.StringSliceCmd, len(indexes))
		)
		_, err = s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			counts = p.HGetAll(ctx, s.countsKey())
			again = p.ZRange(ctx, s.connIndex(), 0, -1)
			for i, id := range ids {
				records[i] = p.Get(ctx, s.connKey(id))
			}
			for _, key := range indexes {
				members[key] = p.ZRange(ctx, key, 0, -1)
			}
			return nil
		})
		if err != nil && err != goredis.Nil {
			return nil, s.wrap("check connection counts", err)
		}
		kept := counts.Val()
		if !slices.Equal(again.Val(), ids) || !slices.Equal(slices.Sorted(maps.Keys(kept)), slices.Sorted(slices.Values(fields))) {
			continue // a write came between the reads: read again
		}
		return s.compareCounts(ids, records, kept, members), nil
	}
	return nil, fmt.Errorf("redis store: check connection counts: the connections kept changing (%d attempts); run the check again when fewer writes happen", checkAttempts)
}

// indexesOf is every listing index of the providers and statuses that the
// count fields name, and the keys in also.
func (s *Store) indexesOf(fields, also []string) []string {
	set := map[string]bool{s.connIndexOf("", ""): true}
	for _, key := range also {
		set[key] = true
	}
	for _, f := range fields {
		if k, ok := store.ParseCountKey(f); ok {
			for _, index := range s.stateIndexes(k.ProviderID, k.Status) {
				set[index] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// compareCounts lists the differences between what the records say and
// the kept counts and index members read with them.
func (s *Store) compareCounts(ids []string, records []*goredis.StringCmd, kept map[string]string, members map[string]*goredis.StringSliceCmd) []string {
	var problems []string
	want := store.ConnectionCounts{}
	wantIn := map[string]map[string]bool{}
	add := func(key, id string) {
		if wantIn[key] == nil {
			wantIn[key] = map[string]bool{}
		}
		wantIn[key][id] = true
	}
	for i, id := range ids {
		raw, err := records[i].Result()
		if err != nil {
			problems = append(problems, fmt.Sprintf("connection index: entry %q names no such connection", id))
			continue
		}
		c, err := decode(codec.DecodeConnection, []byte(raw))
		if err != nil {
			continue // reported as a record problem, and never counted
		}
		key := store.CountKeyOf(c)
		want.Add(key, 1)
		add(s.connIndexOf("", ""), id)
		for _, index := range s.stateIndexes(c.ProviderID, c.Status) {
			add(index, id)
		}
	}
	got, corrupt := parseCounts(kept)
	for _, field := range corrupt {
		problems = append(problems, fmt.Sprintf("connection counts: corrupt entry %q", field))
	}
	for _, key := range got.Differing(want) {
		problems = append(problems, store.CountProblem(key, got[key], want[key]))
	}
	for _, index := range slices.Sorted(maps.Keys(members)) {
		have := map[string]bool{}
		for _, id := range members[index].Val() {
			have[id] = true
			if !wantIn[index][id] {
				problems = append(problems, fmt.Sprintf("connection index %s: entry %q names no such connection in that state", index[len(s.prefix):], id))
			}
		}
		for _, id := range slices.Sorted(maps.Keys(wantIn[index])) {
			if !have[id] {
				problems = append(problems, fmt.Sprintf("connection index %s: entry %q is missing", index[len(s.prefix):], id))
			}
		}
	}
	if len(problems) > 0 {
		problems = append(problems, fmt.Sprintf("connection counts and indexes: delete the key %sconncounts:built and restart the engines to rebuild them from the records", s.prefix))
	}
	return problems
}
