package redis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// The audit log is one sorted set, <prefix>audit: score = the entry's
// time in unix milliseconds, member = the entry's record
// (engine/store/codec; its id makes every member unique). Appends are one ZADD; pruning is one
// ZREMRANGEBYSCORE; listing reads the set newest first and filters in Go
// (the log is bounded by retention).

func (s *Store) auditKey() string { return s.prefix + "audit" }

// AppendAudit stores an entry.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if e.ID == "" {
		return fmt.Errorf("redis store: append audit entry: ID is required")
	}
	b := codec.EncodeAudit(e)
	if err := s.client.ZAdd(ctx, s.auditKey(), goredis.Z{Score: float64(e.Time.UnixMilli()), Member: b}).Err(); err != nil {
		return s.wrap("append audit entry", err)
	}
	return nil
}

// ListAudit returns matching entries newest first (ties by id).
func (s *Store) ListAudit(ctx context.Context, filter store.AuditFilter, offset, limit int) ([]store.AuditEntry, int, error) {
	by := &goredis.ZRangeBy{Min: "-inf", Max: "+inf"}
	if !filter.Since.IsZero() {
		by.Min = strconv.FormatInt(filter.Since.UnixMilli(), 10)
	}
	if !filter.Until.IsZero() {
		by.Max = "(" + strconv.FormatInt(filter.Until.UnixMilli(), 10)
	}
	members, err := s.client.ZRevRangeByScore(ctx, s.auditKey(), by).Result()
	if err != nil {
		return nil, 0, s.wrap("list audit entries", err)
	}
	offset = max(offset, 0)
	var (
		list  []store.AuditEntry
		total int
	)
	entries := make([]store.AuditEntry, 0, len(members))
	for _, m := range members {
		e, err := decode(codec.DecodeAudit, []byte(m))
		if err != nil {
			return nil, 0, err
		}
		entries = append(entries, e)
	}
	// Redis orders members of one millisecond by their bytes, which for a
	// binary record is not its id: order by (millisecond, id), newest first.
	slices.SortStableFunc(entries, func(a, b store.AuditEntry) int {
		return cmp.Or(cmp.Compare(b.Time.UnixMilli(), a.Time.UnixMilli()), strings.Compare(b.ID, a.ID))
	})
	for _, e := range entries {
		if !filter.Matches(e) {
			continue
		}
		if total >= offset && (limit <= 0 || total < offset+limit) {
			list = append(list, e)
		}
		total++
	}
	return list, total, nil
}

// PruneAudit removes the entries older than before.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	n, err := s.client.ZRemRangeByScore(ctx, s.auditKey(), "-inf", "("+strconv.FormatInt(before.UnixMilli(), 10)).Result()
	if err != nil {
		return 0, s.wrap("prune audit entries", err)
	}
	return int(n), nil
}
