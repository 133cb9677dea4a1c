package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
)

// The audit log is one sorted set, <prefix>audit: score = the entry's
// time in unix milliseconds, member = the entry as JSON (its id makes
// every member unique). Appends are one ZADD; pruning is one
// ZREMRANGEBYSCORE; listing reads the set newest first and filters in Go
// (the log is bounded by retention).

func (s *Store) auditKey() string { return s.prefix + "audit" }

type auditWire struct {
	ID              string    `json:"id"`
	Time            time.Time `json:"time"`
	Actor           string    `json:"actor"`
	Action          string    `json:"action"`
	Target          string    `json:"target,omitempty"`
	Changed         []string  `json:"changed,omitempty"`
	SecretReentered bool      `json:"secret_reentered,omitempty"`
}

// AppendAudit stores an entry.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if e.ID == "" {
		return fmt.Errorf("redis store: append audit entry: ID is required")
	}
	b, err := json.Marshal(auditWire{ID: e.ID, Time: utc(e.Time), Actor: e.Actor, Action: e.Action, Target: e.Target,
		Changed: e.Changed, SecretReentered: e.SecretReentered})
	if err != nil {
		return fmt.Errorf("redis store: encode audit entry: %w", err)
	}
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
	for _, m := range members {
		var w auditWire
		if err := json.Unmarshal([]byte(m), &w); err != nil {
			return nil, 0, fmt.Errorf("redis store: decode audit entry: %w", err)
		}
		e := store.AuditEntry{ID: w.ID, Time: w.Time, Actor: w.Actor, Action: w.Action, Target: w.Target,
			Changed: w.Changed, SecretReentered: w.SecretReentered}
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
