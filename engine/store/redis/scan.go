package redis

import (
	"context"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// Scan calls fn with every connection, runtime provider and discovery
// record (read through their indexes) and every unexpired flow and
// console session (found with SCAN on every master, as they have no
// index). A record that cannot be decoded is
// passed with Err set; a Redis failure ends the scan with
// store.ErrUnavailable.
func (s *Store) Scan(ctx context.Context, fn func(store.SealedRecord) error) error {
	conns, err := s.client.ZRange(ctx, s.connIndex(), 0, -1).Result()
	if err != nil {
		return s.wrap("scan connections", err)
	}
	err = s.scanEach(ctx, store.KindConnection, conns, s.connKey, func(raw []byte) ([]byte, bool, error) {
		c, err := codec.DecodeConnection(raw)
		return c.Sealed, true, err
	}, fn)
	if err != nil {
		return err
	}
	providers, err := s.client.SMembers(ctx, s.providerIndex()).Result()
	if err != nil {
		return s.wrap("scan providers", err)
	}
	err = s.scanEach(ctx, store.KindProvider, providers, s.providerKey, func(raw []byte) ([]byte, bool, error) {
		p, err := codec.DecodeProvider(raw)
		return p.Sealed, true, err
	}, fn)
	if err != nil {
		return err
	}
	if err := s.scanDiscovery(ctx, fn); err != nil {
		return err
	}
	flows, err := s.keyIDs(ctx, "flow")
	if err != nil {
		return err
	}
	err = s.scanEach(ctx, store.KindFlow, flows, s.flowKey, func(raw []byte) ([]byte, bool, error) {
		f, err := codec.DecodeFlow(raw)
		return f.Sealed, err != nil || !s.expired(f.ExpiresAt), err
	}, fn)
	if err != nil {
		return err
	}
	sessions, err := s.keyIDs(ctx, "session")
	if err != nil {
		return err
	}
	return s.scanEach(ctx, store.KindSession, sessions, s.sessionKey, func(raw []byte) ([]byte, bool, error) {
		sess, err := codec.DecodeSession(raw)
		return sess.Sealed, err != nil || !s.expired(sess.ExpiresAt), err
	}, fn)
}

// keyIDs lists the ids of the records of one unindexed kind (flow,
// session: keys prefix+kind+":{<id>}"), with SCAN on every master of a
// cluster.
func (s *Store) keyIDs(ctx context.Context, kind string) ([]string, error) {
	pattern := s.prefix + kind + ":{*}"
	var ids []string
	scan := func(ctx context.Context, c goredis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			for _, k := range keys {
				ids = append(ids, strings.TrimSuffix(strings.TrimPrefix(k, s.prefix+kind+":{"), "}"))
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var err error
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		// ForEachMaster runs the masters concurrently; their appends
		// take turns.
		var mu sync.Mutex
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return scan(ctx, c)
		})
	} else {
		err = scan(ctx, s.client)
	}
	if err != nil {
		return nil, s.wrap("scan "+kind+"s", err)
	}
	return ids, nil
}

// scanEach reads key(id) for each id and passes each record found to fn,
// decoded by open (keep=false skips it). Records gone since the listing
// are skipped; one that does not decode is passed with Err set.
func (s *Store) scanEach(ctx context.Context, kind string, ids []string, key func(string) string, open func([]byte) ([]byte, bool, error), fn func(store.SealedRecord) error) error {
	return s.readEach(ctx, "scan "+kind+"s", ids, key, func(id string, raw []byte) error {
		rec := store.SealedRecord{Kind: kind, ID: id}
		sealed, keep, err := open(raw)
		switch {
		case err != nil:
			rec.Err = fmt.Errorf("redis store: %s %q: %w", kind, id, err)
		case !keep:
			return nil
		default:
			rec.Sealed = sealed
		}
		return fn(rec)
	})
}
