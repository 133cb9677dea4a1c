package bolt

import "github.com/authengine/authengine/engine/store"

var _ store.ConnectionFeed = (*Store)(nil)

// WatchConnections announces every connection write of this Store once its
// transaction has committed, on the writer's goroutine, before the write
// returns. The file belongs to one process, so every writer is in this
// process and nothing can be lost: the feed is up from Open until Close.
func (s *Store) WatchConnections(changed func(id string), up func(bool)) (cancel func()) {
	return s.feed.Watch(changed, up)
}
