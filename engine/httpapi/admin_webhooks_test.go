package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/internal/providertest"
)

func TestAdminWebhookEvents(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{eventTypes: events.Types, providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretPost, RequirePKCE: true,
			AccessTokenTTL: time.Hour, Now: h.clock.Now})
		return []config.Provider{idp.Config("hooli")}
	}})
	h.connect(idp, "ada", "hooli", "read")

	type item struct {
		ID       string         `json:"id"`
		Type     string         `json:"type"`
		Status   string         `json:"status"`
		Attempts int            `json:"attempts"`
		Payload  events.Payload `json:"payload"`
	}
	var list struct {
		Items      []item `json:"items"`
		TotalCount int    `json:"total_count"`
	}
	if code := h.doKey(adminKey, "GET", "/v1/admin/webhook_events?status=pending", nil, &list); code != 200 {
		t.Fatalf("list: HTTP %d", code)
	}
	if list.TotalCount != 1 || list.Items[0].Type != events.ConnectionCreated || list.Items[0].Payload.Data.UserID != "ada" || list.Items[0].Status != "pending" {
		t.Fatalf("pending events = %+v", list)
	}
	id := list.Items[0].ID
	var failed struct {
		TotalCount int `json:"total_count"`
	}
	if code := h.doKey(adminKey, "GET", "/v1/admin/webhook_events?status=failed", nil, &failed); code != 200 || failed.TotalCount != 0 {
		t.Errorf("failed events: HTTP %d, %d events; want none", code, failed.TotalCount)
	}
	var apiErr struct {
		Name string `json:"name"`
	}
	for _, tc := range []struct {
		name, key, method, path string
		code                    int
		errName                 string
	}{
		{"an app key cannot list events", apiKey, "GET", "/v1/admin/webhook_events", 401, "unauthorized"},
		{"an app key cannot replay", apiKey, "POST", "/v1/admin/webhook_events/" + id + "/replay", 401, "unauthorized"},
		{"an unknown status is a bad request", adminKey, "GET", "/v1/admin/webhook_events?status=delivered", 400, "invalid_request"},
		{"a pending event is not replayed", adminKey, "POST", "/v1/admin/webhook_events/" + id + "/replay", 409, "webhook_event_not_failed"},
		{"an unknown event is not found", adminKey, "POST", "/v1/admin/webhook_events/evt_0000/replay", 404, "webhook_event_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apiErr.Name = ""
			if code := h.doKey(tc.key, tc.method, tc.path, nil, &apiErr); code != tc.code || apiErr.Name != tc.errName {
				t.Errorf("HTTP %d %q, want %d %q", code, apiErr.Name, tc.code, tc.errName)
			}
		})
	}
}

func TestAdminAuditLogListsAdminChangesWithTheKeyFingerprint(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretPost, RequirePKCE: true,
			AccessTokenTTL: time.Hour, Now: h.clock.Now})
		return []config.Provider{idp.Config("hooli")}
	}})
	done := h.connect(idp, "ada", "hooli", "read")
	var conns struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if code := h.doKey(adminKey, "GET", "/v1/admin/user_connections?user_id=ada", nil, &conns); code != 200 || len(conns.Items) != 1 {
		t.Fatalf("connections: HTTP %d %+v (%s)", code, conns, done.Status)
	}
	if code := h.doKey(adminKey, "DELETE", "/v1/admin/user_connections/"+conns.Items[0].ID, nil, nil); code != 200 {
		t.Fatalf("delete: HTTP %d", code)
	}
	var audit struct {
		Items []struct {
			Actor   string   `json:"actor"`
			Action  string   `json:"action"`
			Target  string   `json:"target"`
			Changed []string `json:"changed"`
			Time    string   `json:"time"`
		} `json:"items"`
		TotalCount int `json:"total_count"`
	}
	if code := h.doKey(adminKey, "GET", "/v1/admin/audit?action=connection.delete", nil, &audit); code != 200 || audit.TotalCount != 1 {
		t.Fatalf("audit: HTTP %d %+v", code, audit)
	}
	e := audit.Items[0]
	if e.Target != conns.Items[0].ID || e.Time == "" || !strings.HasPrefix(e.Actor, "admin_key:") || strings.Contains(e.Actor, adminKey) {
		t.Errorf("audit entry = %+v, want the delete by the admin key's fingerprint", e)
	}
	if code := h.doKey(apiKey, "GET", "/v1/admin/audit", nil, nil); code != 401 {
		t.Errorf("an app key reads the audit log: HTTP %d, want 401", code)
	}
}
