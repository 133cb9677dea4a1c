package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
)

// outbox returns the rig's recorded events of type typ (every type when
// empty), oldest first, with their payloads decoded.
func (r *rig) outbox(typ string) []events.Payload {
	r.t.Helper()
	list, _, err := r.st.ListEvents(context.Background(), "", 0, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []events.Payload
	for _, ev := range list {
		if typ != "" && ev.Type != typ {
			continue
		}
		var p events.Payload
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			r.t.Fatalf("event %s payload: %v", ev.ID, err)
		}
		if p.Type != ev.Type {
			r.t.Errorf("event %s: payload type %q, record type %q", ev.ID, p.Type, ev.Type)
		}
		out = append(out, p)
	}
	return out
}

func TestLifecycleEventsAreRecordedWithTheirStateChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T, now func() time.Time) store.Store
	}{{"bolt", nil}, {"redis", redisStore}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{store: tc.store, events: events.Types})
			ctx := context.Background()
			id := r.connect("ada")
			ts := r.storedToken(id)
			created := r.outbox(events.ConnectionCreated)
			if len(created) != 1 {
				t.Fatalf("connection.created events = %d, want 1", len(created))
			}
			if d := created[0].Data; d.ConnectionID != id || d.ProviderID != "hooli" || d.UserID != "ada" || d.Status != "connected" || d.FlowID == "" {
				t.Errorf("connection.created data = %+v", d)
			}

			// invalid_grant on refresh: needs_reauth, one event, even with
			// several callers at once.
			r.idp.ExpireAccessTokens()
			r.clock.Advance(2 * time.Hour)
			r.idp.FailNext(1, 400, "invalid_grant")
			for range 3 {
				if a, err := r.authorize(ctx, "ada"); err != nil || a.Status != StatusPending {
					t.Fatalf("authorize after invalid_grant: %+v, %v; want a new flow", a, err)
				}
			}
			reauth := r.outbox(events.ConnectionNeedsReauth)
			if len(reauth) != 1 {
				t.Fatalf("connection.needs_reauth events = %d, want 1", len(reauth))
			}
			if d := reauth[0].Data; d.ConnectionID != id || d.Status != "needs_reauth" || d.Kind != "invalid_grant" || d.Reason == "" {
				t.Errorf("connection.needs_reauth data = %+v", d)
			}

			// A refused authorization: flow.failed with the reason.
			start, err := r.authorize(ctx, "grace")
			if err != nil {
				t.Fatal(err)
			}
			cb, err := r.idp.Deny(ctx, start.URL)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(cb)
			if _, err := r.eng.Callback(ctx, CallbackQuery{State: u.Query().Get("state"), Error: u.Query().Get("error")}); err != nil {
				t.Fatal(err)
			}
			failed := r.outbox(events.FlowFailed)
			if len(failed) != 1 || failed[0].Data.UserID != "grace" || failed[0].Data.Kind != "access_denied" || failed[0].Data.Status != "failed" {
				t.Fatalf("flow.failed events = %+v, want one for grace, access_denied", failed)
			}

			// Disconnect: connection.disconnected; a second one records nothing.
			if err := r.eng.Disconnect(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := r.eng.Disconnect(ctx, id); !errors.Is(err, ErrConnectionNotFound) {
				t.Fatalf("second Disconnect: %v, want ErrConnectionNotFound", err)
			}
			deleted := r.outbox(events.ConnectionDisconnected)
			if len(deleted) != 1 || deleted[0].Data.ConnectionID != id || deleted[0].Data.UserID != "ada" {
				t.Fatalf("connection.disconnected events = %+v, want one for %s", deleted, id)
			}
			list, _, err := r.st.ListEvents(ctx, "", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range list {
				for _, secret := range []string{r.idp.ClientSecret(), ts.AccessToken, ts.RefreshToken} {
					if strings.Contains(string(ev.Payload), secret) {
						t.Errorf("event %s payload holds a secret", ev.Type)
					}
				}
			}
		})
	}
}

func TestRefreshFailuresThatChangeNothingAreRecorded(t *testing.T) {
	r := newRig(t, rigOptions{events: []string{events.ConnectionRefreshFailed}})
	ctx := context.Background()
	id := r.connect("ada")
	r.idp.ExpireAccessTokens()
	r.clock.Advance(2 * time.Hour)
	r.idp.FailNext(1, 503, "temporarily_unavailable")
	if _, err := r.authorize(ctx, "ada"); err == nil {
		t.Fatal("authorize with the provider down succeeded")
	}
	got := r.outbox(events.ConnectionRefreshFailed)
	if len(got) != 1 || got[0].Data.ConnectionID != id || got[0].Data.Kind != "retryable_error" || got[0].Data.Status != "connected" {
		t.Fatalf("connection.refresh_failed events = %+v", got)
	}
	if n := len(r.outbox(events.ConnectionCreated)); n != 0 {
		t.Errorf("%d connection.created events recorded while no webhook wants them", n)
	}
}

func TestNoEventIsRecordedWithoutWebhooks(t *testing.T) {
	r := newRig(t, rigOptions{})
	id := r.connect("ada")
	if err := r.eng.Disconnect(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got := r.outbox(""); len(got) != 0 {
		t.Errorf("events recorded without EventTypes: %+v", got)
	}
}

func TestFailedWebhookEventsAreListedAndReplayed(t *testing.T) {
	r := newRig(t, rigOptions{events: events.Types})
	ctx := context.Background()
	r.connect("ada")
	list, total, err := r.eng.WebhookEvents(ctx, "pending", 0, 10)
	if err != nil || total != 1 || list[0].Type != events.ConnectionCreated {
		t.Fatalf("pending events = %+v, %d, %v", list, total, err)
	}
	id := list[0].ID
	if _, err := r.eng.ReplayWebhookEvent(ctx, id); !isRequestError(err, "webhook_event_not_failed") {
		t.Errorf("replay of a pending event: %v, want webhook_event_not_failed", err)
	}
	if _, err := r.st.UpdateEvent(ctx, id, func(ev store.Event) (store.Event, error) {
		ev.Status, ev.Attempts, ev.LastError = store.EventFailed, 8, "https://app.example.com answered 500"
		return ev, nil
	}); err != nil {
		t.Fatal(err)
	}
	failed, total, err := r.eng.WebhookEvents(ctx, "failed", 0, 10)
	if err != nil || total != 1 || failed[0].ID != id || failed[0].Attempts != 8 {
		t.Fatalf("failed events = %+v, %d, %v", failed, total, err)
	}
	ev, err := r.eng.ReplayWebhookEvent(ctx, id)
	if err != nil || ev.Status != "pending" || ev.Attempts != 0 {
		t.Fatalf("replay = %+v, %v", ev, err)
	}
	if _, err := r.eng.ReplayWebhookEvent(ctx, "evt_missing"); !isRequestError(err, "webhook_event_not_found") {
		t.Errorf("replay of a missing event: %v, want webhook_event_not_found", err)
	}
	if _, _, err := r.eng.WebhookEvents(ctx, "delivered", 0, 10); !isRequestError(err, "invalid_request") {
		t.Errorf("status=delivered: %v, want invalid_request", err)
	}
}

func isRequestError(err error, name string) bool {
	var re *RequestError
	return errors.As(err, &re) && re.Name == name
}

func TestEventsNameTheConnectionsAccount(t *testing.T) {
	r := newRig(t, rigOptions{events: events.Types})
	ctx := context.Background()
	start, err := r.eng.Authorize(ctx, AuthorizeRequest{UserID: "ada", ProviderID: "hooli", Account: "work"})
	if err != nil {
		t.Fatal(err)
	}
	if res := r.consent(start); res.Status != store.FlowCompleted {
		t.Fatalf("callback: %+v", res)
	}
	created := r.outbox(events.ConnectionCreated)
	if len(created) != 1 || created[0].Data.Account != "work" || created[0].Data.ConnectionID != store.AccountConnectionID("hooli", "ada", "work") {
		t.Fatalf("connection.created = %+v, want account work", created)
	}
	if err := r.eng.Disconnect(ctx, created[0].Data.ConnectionID); err != nil {
		t.Fatal(err)
	}
	if d := r.outbox(events.ConnectionDisconnected); len(d) != 1 || d[0].Data.Account != "work" {
		t.Fatalf("connection.disconnected = %+v, want account work", d)
	}
}
