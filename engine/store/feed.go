package store

import "sync"

// FeedWatchers is the list of watchers a ConnectionFeed keeps, for
// backends to embed: Watch registers one, Changed and SetUp call them all,
// one call at a time. The zero value is a feed that is down and has no
// watchers.
type FeedWatchers struct {
	mu   sync.Mutex
	up   bool
	next uint64
	ws   map[uint64]feedWatcher
}

type feedWatcher struct {
	changed func(id string)
	up      func(bool)
}

// Watch registers a watcher and calls its up with the feed's current
// state before it returns (see ConnectionFeed.WatchConnections).
func (f *FeedWatchers) Watch(changed func(id string), up func(bool)) (cancel func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ws == nil {
		f.ws = map[uint64]feedWatcher{}
	}
	f.next++
	key := f.next
	f.ws[key] = feedWatcher{changed: changed, up: up}
	up(f.up)
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.ws, key)
	}
}

// Changed announces a write of connection id to every watcher.
func (f *FeedWatchers) Changed(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.ws {
		w.changed(id)
	}
}

// SetUp records the feed's health and tells every watcher when it changed.
func (f *FeedWatchers) SetUp(up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setUpLocked(up)
}

func (f *FeedWatchers) setUpLocked(up bool) {
	if f.up == up {
		return
	}
	f.up = up
	for _, w := range f.ws {
		w.up(up)
	}
}

// Restart tells every watcher that announcements may have been lost even
// though the feed looked up (a subscription re-established before its loss
// was noticed): down, then up.
func (f *FeedWatchers) Restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setUpLocked(false)
	f.setUpLocked(true)
}

// Up reports the feed's health.
func (f *FeedWatchers) Up() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.up
}
