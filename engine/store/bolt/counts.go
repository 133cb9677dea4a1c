package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// Connection counts and the filtered-listing index are kept in two buckets
// written in the same transaction as the connection they follow, so they
// are exact at every commit:
//
//	connection_counts  CountKey.String()                -> uint64 big-endian count
//	connection_index   p NUL <provider> NUL <id>        -> empty
//	                   s NUL <status> NUL <id>          -> empty
//	                   b NUL <provider> NUL <status> NUL <id> -> empty
//
// A file written before they existed gets them built from its connections
// when it is opened (one transaction, before any write). A record that
// cannot be decoded is neither counted nor indexed (`authengine store
// check` reports it); deleting it changes no count.
var (
	bucketConnCounts = []byte("connection_counts")
	bucketConnIndex  = []byte("connection_index")
)

var _ store.ConnectionCounter = (*Store)(nil)

// statusOf is the part of a connection that its count and index entries
// depend on.
func statusOf(c store.Connection) *store.CountKey {
	k := store.CountKeyOf(c)
	return &k
}

func countKey(k *store.CountKey) []byte { return []byte(k.String()) }

// indexKeys are the index entries of connection id in state k.
func indexKeys(k *store.CountKey, id string) [3][]byte {
	return [3][]byte{
		[]byte("p\x00" + k.ProviderID + "\x00" + id),
		[]byte("s\x00" + string(k.Status) + "\x00" + id),
		[]byte("b\x00" + k.ProviderID + "\x00" + string(k.Status) + "\x00" + id),
	}
}

// indexPrefix is the index range a filter's provider and status select
// (nil when the filter names neither).
func indexPrefix(f store.ConnectionFilter) []byte {
	switch {
	case f.ProviderID != "" && f.Status != "":
		return []byte("b\x00" + f.ProviderID + "\x00" + string(f.Status) + "\x00")
	case f.ProviderID != "":
		return []byte("p\x00" + f.ProviderID + "\x00")
	case f.Status != "":
		return []byte("s\x00" + string(f.Status) + "\x00")
	}
	return nil
}

// moveConnection updates the counts and the index of connection id from
// state old to state next, inside the transaction that writes it; nil old
// is a create, nil next a delete.
func moveConnection(tx *bbolt.Tx, id string, old, next *store.CountKey) error {
	if old != nil && next != nil && *old == *next {
		return nil
	}
	counts, index := tx.Bucket(bucketConnCounts), tx.Bucket(bucketConnIndex)
	for _, step := range []struct {
		cs    *store.CountKey
		delta int64
	}{{old, -1}, {next, 1}} {
		if step.cs == nil {
			continue
		}
		key := countKey(step.cs)
		n := int64(0)
		if v := counts.Get(key); len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
		}
		var err error
		if n += step.delta; n <= 0 {
			err = counts.Delete(key)
		} else {
			err = counts.Put(key, binary.BigEndian.AppendUint64(nil, uint64(n)))
		}
		if err != nil {
			return fmt.Errorf("bolt: count connection %q: %w", id, err)
		}
		for _, k := range indexKeys(step.cs, id) {
			if step.delta < 0 {
				err = index.Delete(k)
			} else {
				err = index.Put(k, nil)
			}
			if err != nil {
				return fmt.Errorf("bolt: index connection %q: %w", id, err)
			}
		}
	}
	return nil
}

// buildConnectionCounts creates the counts and index buckets from the
// stored connections when the file has none yet (written before they
// existed). It runs in Open's transaction.
func buildConnectionCounts(tx *bbolt.Tx) error {
	if tx.Bucket(bucketConnCounts) != nil && tx.Bucket(bucketConnIndex) != nil {
		return nil
	}
	return rebuildConnectionCounts(tx)
}

// rebuildConnectionCounts replaces the counts and index buckets with ones
// built from the stored connections (Open on an older file; Compact,
// which so repairs any the check found wrong).
func rebuildConnectionCounts(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketConnCounts, bucketConnIndex} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("rebuild bucket %s: %w", name, err)
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return tx.Bucket(bucketConnections).ForEach(func(k, v []byte) error {
		c, err := decode(codec.DecodeConnection, k, v)
		if err != nil {
			return nil // not counted; store check reports it
		}
		return moveConnection(tx, string(k), nil, statusOf(c))
	})
}

// ConnectionCounts returns the kept counts of connections by provider and
// status (see store.ConnectionCounter): one read of the counts bucket.
func (s *Store) ConnectionCounts(ctx context.Context) (store.ConnectionCounts, error) {
	out := store.ConnectionCounts{}
	err := s.view(ctx, "count connections", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketConnCounts).ForEach(func(k, v []byte) error {
			key, ok := store.ParseCountKey(string(k))
			if !ok || len(v) != 8 {
				return fmt.Errorf("bolt: count connections: corrupt count %q", k)
			}
			out.Add(key, int(binary.BigEndian.Uint64(v)))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// listIndexed answers ListConnections for a filter naming a provider
// and/or a status from the index, in one read transaction (a consistent
// snapshot): it walks only the index range the filter selects (keys, no
// records) and decodes the records of the page; when the filter also
// names a user or an account, each record of the range is matched
// (codec.MatchConnection, no copies).
func (s *Store) listIndexed(ctx context.Context, filter store.ConnectionFilter, offset, limit int) ([]store.Connection, int, error) {
	prefix := indexPrefix(filter)
	rest := filter.UserID != "" || filter.Account != ""
	page := newConnPage(offset, limit)
	err := s.view(ctx, "list connections", func(tx *bbolt.Tx) error {
		conns := tx.Bucket(bucketConnections)
		c := tx.Bucket(bucketConnIndex).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id := k[len(prefix):]
			if bytes.IndexByte(id, 0) >= 0 {
				continue // another provider whose id starts with this one's and a NUL
			}
			if !rest && !page.inPage() {
				page.total++ // no record read
				continue
			}
			v := conns.Get(id)
			if v == nil {
				return fmt.Errorf("bolt: list connections: index names missing connection %q", id)
			}
			if rest {
				match, err := codec.MatchConnection(v, filter)
				if err != nil {
					return fmt.Errorf("bolt: record %q: %w", id, err)
				}
				if !match {
					continue
				}
			}
			if err := page.add(id, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return page.list, page.total, nil
}

// checkConnectionCounts compares the kept counts and index with the
// connection records, for Check: each difference is one problem, naming a
// provider, a status and a connection id at most, never a record's
// content. A file without them (written before them) has nothing to
// compare: they are built when it is next opened.
func checkConnectionCounts(tx *bbolt.Tx) []string {
	counts, index := tx.Bucket(bucketConnCounts), tx.Bucket(bucketConnIndex)
	if counts == nil || index == nil {
		return nil
	}
	want, wantIndex := store.ConnectionCounts{}, map[string]bool{}
	_ = tx.Bucket(bucketConnections).ForEach(func(k, v []byte) error {
		c, err := decode(codec.DecodeConnection, k, v)
		if err != nil {
			return nil // reported as a record problem, and never counted
		}
		key := store.CountKeyOf(c)
		want.Add(key, 1)
		for _, ik := range indexKeys(&key, string(k)) {
			wantIndex[string(ik)] = true
		}
		return nil
	})
	var problems []string
	got := store.ConnectionCounts{}
	_ = counts.ForEach(func(k, v []byte) error {
		key, ok := store.ParseCountKey(string(k))
		if !ok || len(v) != 8 {
			problems = append(problems, fmt.Sprintf("connection counts: corrupt entry %q", k))
			return nil
		}
		got.Add(key, int(binary.BigEndian.Uint64(v)))
		return nil
	})
	for _, key := range got.Differing(want) {
		problems = append(problems, store.CountProblem(key, got[key], want[key]))
	}
	_ = index.ForEach(func(k, _ []byte) error {
		if !wantIndex[string(k)] {
			problems = append(problems, fmt.Sprintf("connection index: entry %q names no such connection in that state", k))
		}
		delete(wantIndex, string(k))
		return nil
	})
	for k := range wantIndex {
		problems = append(problems, fmt.Sprintf("connection index: entry %q is missing", k))
	}
	if len(problems) > 0 {
		problems = append(problems, "connection counts and index: `authengine store compact` rebuilds them from the records")
	}
	return problems
}
