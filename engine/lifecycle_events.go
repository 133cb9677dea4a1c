package engine

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
)

// Lifecycle events (engine/events) are written into the store's outbox in
// the same write as the state change they report; cmd delivers them.
// Only the types some webhook wants are recorded (Options.EventTypes), so
// an engine without webhooks writes no event at all.

// Go runs f on a goroutine that Close stops (f's ctx ends) and waits for:
// background work cmd starts beside the engine, such as webhook delivery.
// It reports false, and does not run f, once the engine is closed.
func (e *Engine) Go(f func(ctx context.Context)) bool { return e.spawnBackground(f) }

// newEvent builds the outbox record of an event about record key, or
// returns nil when no webhook wants events of type typ.
func (e *Engine) newEvent(typ, key string, d events.Data) []store.Event {
	if !e.eventTypes[typ] {
		return nil
	}
	ev, err := events.New(typ, key, e.now(), d)
	if err != nil {
		e.log.Error("build a lifecycle event", "type", typ, "err", err)
		return nil
	}
	return []store.Event{ev}
}

// connEvent builds an event about connection c.
func (e *Engine) connEvent(typ string, c store.Connection, status store.ConnectionStatus, reason, kind string) []store.Event {
	return e.newEvent(typ, c.ID, events.Data{
		ProviderID: c.ProviderID, UserID: c.UserID, Account: c.Account, ConnectionID: c.ID,
		Status: string(status), Reason: reason, Kind: kind,
	})
}

// appendEvents stores events that go with no state change (a refresh that
// failed and changed nothing). A store that does not take them is logged:
// the refresh's caller gets its own error either way.
func (e *Engine) appendEvents(ctx context.Context, evs []store.Event) {
	if len(evs) == 0 {
		return
	}
	if err := e.store.AppendEvents(ctx, evs...); err != nil {
		e.log.WarnContext(ctx, "record a lifecycle event", "type", evs[0].Type, "err", err)
	}
}

// WebhookEvent is an outbox event as the admin API shows it.
type WebhookEvent struct {
	ID            string
	Type          string
	Status        string
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Payload is the JSON body sent to webhooks.
	Payload []byte
}

func webhookEvent(ev store.Event) WebhookEvent {
	w := WebhookEvent{
		ID: ev.ID, Type: ev.Type, Status: string(ev.Status), Attempts: ev.Attempts, LastError: ev.LastError,
		CreatedAt: ev.CreatedAt, UpdatedAt: ev.UpdatedAt, Payload: ev.Payload,
	}
	if ev.Status == store.EventPending {
		w.NextAttemptAt = ev.NextAttemptAt
	}
	return w
}

// WebhookEvents lists outbox events with a status (pending or failed;
// every status when empty), oldest first, with the total count.
func (e *Engine) WebhookEvents(ctx context.Context, status string, offset, limit int) ([]WebhookEvent, int, error) {
	st := store.EventStatus(strings.TrimSpace(status))
	if st != "" && st != store.EventPending && st != store.EventFailed {
		return nil, 0, badRequest("invalid_request", "status must be pending or failed")
	}
	list, total, err := e.store.ListEvents(ctx, st, offset, limit)
	if err != nil {
		return nil, 0, storeErr("list webhook events", err)
	}
	out := make([]WebhookEvent, 0, len(list))
	for _, ev := range list {
		out = append(out, webhookEvent(ev))
	}
	return out, total, nil
}

// ReplayWebhookEvent makes a failed event pending again, due now, with
// its attempts reset.
func (e *Engine) ReplayWebhookEvent(ctx context.Context, id string) (WebhookEvent, error) {
	ev, err := events.Replay(ctx, e.store, id, e.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return WebhookEvent{}, &RequestError{Name: "webhook_event_not_found", Message: "no webhook event has this id (a delivered event is removed)", Status: http.StatusNotFound}
	case errors.Is(err, events.ErrNotFailed):
		return WebhookEvent{}, &RequestError{Name: "webhook_event_not_failed", Message: "only a failed webhook event can be replayed; this one is still pending", Status: http.StatusConflict}
	case err != nil:
		return WebhookEvent{}, storeErr("replay webhook event", err)
	}
	e.audit(ctx, "webhook_event.replay", id, nil, false)
	return webhookEvent(ev), nil
}

// eventTypeSet is the set of event types to record.
func eventTypeSet(types []string) map[string]bool {
	set := map[string]bool{}
	for _, t := range types {
		if events.Known(t) {
			set[t] = true
		}
	}
	return set
}
