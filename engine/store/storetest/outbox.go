package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// newEvent returns a pending event about record key, due now.
func newEvent(clock *Clock, key, typ string) store.Event {
	return store.Event{
		ID: store.NewEventID(clock.Now()), Key: key, Type: typ,
		Payload: []byte(`{"type":"` + typ + `","data":{"key":"` + key + `"}}`),
		Status:  store.EventPending, NextAttemptAt: clock.Now(),
	}
}

// eventIDs lists the ids of events.
func eventIDs(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// mustDue returns the ids of the events due at the clock's time.
func mustDue(t *testing.T, s store.Store, clock *Clock) []string {
	t.Helper()
	due, err := s.DueEvents(t.Context(), clock.Now(), 0)
	if err != nil {
		t.Fatalf("DueEvents: %v", err)
	}
	return eventIDs(due)
}

var errRefused = errors.New("refused by fn")

func runOutbox(t *testing.T, newStore NewStore) {
	t.Run("an event written with a connection's update is stored with it, and not when fn refuses", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := connectionFor(clock, "github", uid("user"))
		ev := newEvent(clock, c.ID, "connection.created")
		if _, err := s.UpdateConnectionEvents(t.Context(), c.ID, []store.Event{ev}, func(store.Connection, bool) (store.Connection, error) {
			return c, nil
		}); err != nil {
			t.Fatalf("UpdateConnectionEvents: %v", err)
		}
		got, err := s.GetEvent(t.Context(), ev.ID)
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		if got.Key != c.ID || got.Type != ev.Type || string(got.Payload) != string(ev.Payload) || got.Status != store.EventPending {
			t.Errorf("stored event = %+v, want %+v", got, ev)
		}
		assertTime(t, "CreatedAt", got.CreatedAt, clock.Now())

		refused := newEvent(clock, c.ID, "connection.needs_reauth")
		_, err = s.UpdateConnectionEvents(t.Context(), c.ID, []store.Event{refused}, func(cur store.Connection, _ bool) (store.Connection, error) {
			return cur, errRefused
		})
		assertErrIs(t, "UpdateConnectionEvents with a refusing fn", err, errRefused)
		_, err = s.GetEvent(t.Context(), refused.ID)
		assertErrIs(t, "GetEvent of the refused write's event", err, store.ErrNotFound)
		if ids := mustDue(t, s, clock); !slices.Equal(ids, []string{ev.ID}) {
			t.Errorf("due events = %v, want only %s", ids, ev.ID)
		}
	})

	t.Run("an event written with a delete is stored only when the connection existed", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := putConnection(t, s, connectionFor(clock, "github", uid("user")))
		missing := newEvent(clock, store.ConnectionID("github", uid("nobody")), "connection.deleted")
		err := s.DeleteConnectionEvents(t.Context(), missing.Key, []store.Event{missing})
		assertErrIs(t, "DeleteConnectionEvents of a missing connection", err, store.ErrNotFound)
		_, err = s.GetEvent(t.Context(), missing.ID)
		assertErrIs(t, "GetEvent of the missing delete's event", err, store.ErrNotFound)

		ev := newEvent(clock, c.ID, "connection.deleted")
		if err := s.DeleteConnectionEvents(t.Context(), c.ID, []store.Event{ev}); err != nil {
			t.Fatalf("DeleteConnectionEvents: %v", err)
		}
		_, err = s.GetConnection(t.Context(), c.ID)
		assertErrIs(t, "GetConnection after delete", err, store.ErrNotFound)
		if _, err := s.GetEvent(t.Context(), ev.ID); err != nil {
			t.Errorf("GetEvent after delete: %v", err)
		}
	})

	t.Run("an event written with a flow's update is stored with it", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		mustCreateFlow(t, s, f)
		ev := newEvent(clock, f.ID, "flow.failed")
		if _, err := s.UpdateFlowEvents(t.Context(), f.ID, []store.Event{ev}, func(cur store.Flow) (store.Flow, error) {
			cur.Status, cur.Error = store.FlowFailed, "access_denied"
			return cur, nil
		}); err != nil {
			t.Fatalf("UpdateFlowEvents: %v", err)
		}
		if ids := mustDue(t, s, clock); !slices.Equal(ids, []string{ev.ID}) {
			t.Errorf("due events = %v, want %s", ids, ev.ID)
		}
	})

	t.Run("due events are the pending ones whose time has come, in id order, up to the limit", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		var evs []store.Event
		for i := range 4 {
			ev := newEvent(clock, uid("conn"), "connection.refresh_failed")
			ev.NextAttemptAt = clock.Now().Add(time.Duration(i) * time.Minute)
			evs = append(evs, ev)
			clock.Advance(time.Millisecond)
		}
		failed := newEvent(clock, uid("conn"), "flow.failed")
		failed.Status = store.EventFailed
		if err := s.AppendEvents(t.Context(), append(slices.Clone(evs), failed)...); err != nil {
			t.Fatalf("AppendEvents: %v", err)
		}
		if ids := mustDue(t, s, clock); !slices.Equal(ids, []string{evs[0].ID}) {
			t.Errorf("due now = %v, want %v", ids, evs[0].ID)
		}
		clock.Advance(2 * time.Minute)
		if ids := mustDue(t, s, clock); !slices.Equal(ids, eventIDs(evs[:3])) {
			t.Errorf("due in 2m = %v, want %v", ids, eventIDs(evs[:3]))
		}
		two, err := s.DueEvents(t.Context(), clock.Now(), 2)
		if err != nil || len(two) != 2 {
			t.Errorf("DueEvents(limit 2) = %d events, %v; want 2", len(two), err)
		}
		if err := s.AppendEvents(t.Context(), evs[0]); !errors.Is(err, store.ErrConflict) {
			t.Errorf("AppendEvents of a stored id: %v, want ErrConflict", err)
		}
	})

	t.Run("UpdateEvent reschedules, fails and replays an event; DeleteEvent removes it", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		ev := newEvent(clock, uid("conn"), "connection.created")
		if err := s.AppendEvents(t.Context(), ev); err != nil {
			t.Fatalf("AppendEvents: %v", err)
		}
		later := clock.Now().Add(time.Minute)
		got, err := s.UpdateEvent(t.Context(), ev.ID, func(cur store.Event) (store.Event, error) {
			cur.Attempts++
			cur.NextAttemptAt = later
			cur.LastError = "receiver answered 503"
			return cur, nil
		})
		if err != nil || got.Attempts != 1 {
			t.Fatalf("UpdateEvent = %+v, %v", got, err)
		}
		if ids := mustDue(t, s, clock); len(ids) != 0 {
			t.Errorf("due before the retry time = %v, want none", ids)
		}
		clock.Advance(time.Minute)
		if ids := mustDue(t, s, clock); !slices.Equal(ids, []string{ev.ID}) {
			t.Errorf("due at the retry time = %v, want %s", ids, ev.ID)
		}
		if _, err := s.UpdateEvent(t.Context(), ev.ID, func(cur store.Event) (store.Event, error) {
			cur.Status = store.EventFailed
			return cur, nil
		}); err != nil {
			t.Fatalf("UpdateEvent(failed): %v", err)
		}
		if ids := mustDue(t, s, clock); len(ids) != 0 {
			t.Errorf("due after failing = %v, want none", ids)
		}
		failed, total, err := s.ListEvents(t.Context(), store.EventFailed, 0, 10)
		if err != nil || total != 1 || len(failed) != 1 || failed[0].ID != ev.ID || failed[0].LastError != "receiver answered 503" {
			t.Errorf("ListEvents(failed) = %+v, %d, %v", failed, total, err)
		}
		if _, total, _ := s.ListEvents(t.Context(), store.EventPending, 0, 10); total != 0 {
			t.Errorf("ListEvents(pending) total = %d, want 0", total)
		}
		if _, err := s.UpdateEvent(t.Context(), ev.ID, func(cur store.Event) (store.Event, error) {
			cur.Type = "changed"
			return cur, nil
		}); err == nil {
			t.Error("UpdateEvent changing Type succeeded")
		}
		if _, err := s.UpdateEvent(t.Context(), ev.ID, func(cur store.Event) (store.Event, error) {
			cur.Status, cur.Attempts, cur.NextAttemptAt = store.EventPending, 0, clock.Now()
			return cur, nil
		}); err != nil {
			t.Fatalf("UpdateEvent(replay): %v", err)
		}
		if ids := mustDue(t, s, clock); !slices.Equal(ids, []string{ev.ID}) {
			t.Errorf("due after replay = %v, want %s", ids, ev.ID)
		}
		if err := s.DeleteEvent(t.Context(), ev.ID); err != nil {
			t.Fatalf("DeleteEvent: %v", err)
		}
		_, err = s.GetEvent(t.Context(), ev.ID)
		assertErrIs(t, "GetEvent after delete", err, store.ErrNotFound)
		assertErrIs(t, "DeleteEvent again", s.DeleteEvent(t.Context(), ev.ID), store.ErrNotFound)
		_, err = s.UpdateEvent(t.Context(), ev.ID, func(cur store.Event) (store.Event, error) { return cur, nil })
		assertErrIs(t, "UpdateEvent of a deleted event", err, store.ErrNotFound)
		if ids := mustDue(t, s, clock); len(ids) != 0 {
			t.Errorf("due after delete = %v, want none", ids)
		}
	})

	t.Run("ListEvents pages in id order and counts every match", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		var want []string
		for range 5 {
			ev := newEvent(clock, uid("conn"), "connection.deleted")
			if err := s.AppendEvents(t.Context(), ev); err != nil {
				t.Fatalf("AppendEvents: %v", err)
			}
			want = append(want, ev.ID)
			clock.Advance(time.Millisecond)
		}
		page, total, err := s.ListEvents(t.Context(), "", 1, 3)
		if err != nil || total != 5 || !slices.Equal(eventIDs(page), want[1:4]) {
			t.Errorf("ListEvents(1,3) = %v, %d, %v; want %v, 5", eventIDs(page), total, err, want[1:4])
		}
	})

	t.Run("an event that is not well formed is refused and nothing is written", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := connectionFor(clock, "github", uid("user"))
		bad := newEvent(clock, c.ID, "")
		if _, err := s.UpdateConnectionEvents(t.Context(), c.ID, []store.Event{bad}, func(store.Connection, bool) (store.Connection, error) {
			return c, nil
		}); err == nil {
			t.Fatal("UpdateConnectionEvents with an event without a type succeeded")
		}
		_, err := s.GetConnection(t.Context(), c.ID)
		assertErrIs(t, "GetConnection after the refused write", err, store.ErrNotFound)
	})
}
