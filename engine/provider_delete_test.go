package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
)

// TestDeletingAProviderDeletesItsConnections: deleting a runtime provider
// takes every token it holds with it (revoked at the provider first), one
// connection.deleted event each, and leaves other providers' connections
// alone. Without it, a provider re-added under the same id would find the
// old tokens, issued to another client, still stored.
func TestDeletingAProviderDeletesItsConnections(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, rigOptions{events: events.Types})
	c := r.idp.Config("acme")
	o := c.OAuth2
	req := func(r *config.Request) map[string]any {
		params := map[string]any{}
		for k, v := range r.Params {
			params[k] = v
		}
		return map[string]any{"endpoint": r.Endpoint, "method": "POST", "auth_method": r.AuthMethod, "params": params}
	}
	doc := map[string]any{
		"id": "acme", "client_id": c.ClientID, "client_secret": c.ClientSecret,
		"oauth2": map[string]any{
			"pkce":               map[string]any{"enabled": o.PKCE.Enabled},
			"authorize_request":  map[string]any{"endpoint": o.AuthorizeRequest.Endpoint, "params": req(o.AuthorizeRequest)["params"]},
			"token_request":      req(o.TokenRequest),
			"refresh_request":    req(o.RefreshTokenRequest),
			"revocation_request": req(r.idp.RevocationRequest()),
		},
	}
	if _, err := r.eng.CreateProvider(ctx, doc); err != nil {
		t.Fatalf("CreateProvider: %v", err)
	}
	var acme []string
	for _, user := range []string{"ada", "grace"} {
		start, err := r.eng.Authorize(ctx, AuthorizeRequest{UserID: user, ProviderID: "acme"})
		if err != nil {
			t.Fatalf("authorize %s at acme: %v", user, err)
		}
		if res := r.consent(start); res.Status != store.FlowCompleted {
			t.Fatalf("callback for %s: %+v", user, res)
		}
		acme = append(acme, store.ConnectionID("acme", user))
	}
	kept := r.connect("ada") // at hooli, a provider from the configuration

	if err := r.eng.DeleteProvider(ctx, "acme"); err != nil {
		t.Fatalf("DeleteProvider: %v", err)
	}
	for _, id := range acme {
		if _, err := r.st.GetConnection(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("connection %s of the deleted provider: %v, want not found", id, err)
		}
	}
	if _, err := r.st.GetConnection(ctx, kept); err != nil {
		t.Errorf("hooli's connection went with acme: %v", err)
	}
	deleted := r.outbox(events.ConnectionDeleted)
	if len(deleted) != len(acme) {
		t.Fatalf("connection.deleted events = %+v, want %d", deleted, len(acme))
	}
	for _, ev := range deleted {
		if ev.Data.ProviderID != "acme" || ev.Data.Revocation == nil || ev.Data.Revocation.Outcome != "revoked" {
			t.Errorf("connection.deleted = %+v, want acme with its token revoked", ev.Data)
		}
	}
	if n := r.idp.Counts().Revocations; n != len(acme) {
		t.Errorf("revocations at the provider = %d, want %d", n, len(acme))
	}
	if got := r.outbox(events.ConnectionDisconnected); len(got) != 0 {
		t.Errorf("connection.disconnected events = %+v, want none", got)
	}
	if err := r.eng.DeleteProvider(ctx, "acme"); err == nil {
		t.Error("a second DeleteProvider succeeded")
	}
}
