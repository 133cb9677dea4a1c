package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine"
)

// mountAdminWebhookEvents mounts the outbox routes: events waiting for
// delivery or failed after their last attempt, and their replay.
//
//	GET  /v1/admin/webhook_events?status=failed|pending  (offset pagination)
//	POST /v1/admin/webhook_events/:id/replay             a failed event, pending again
func mountAdminWebhookEvents(admin *echo.Group, h *handlers) {
	admin.GET("/webhook_events", h.listWebhookEvents)
	admin.POST("/webhook_events/:id/replay", h.replayWebhookEvent)
	admin.GET("/audit", h.listAudit)
}

// listAudit lists the persisted audit log, newest first:
//
//	GET /v1/admin/audit?actor=&action=&target=&since=&until=  (offset pagination)
func (h *handlers) listAudit(c echo.Context) error {
	offset, limit, err := paging(c)
	if err != nil {
		return err
	}
	q := engine.AuditQuery{Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), Target: c.QueryParam("target"),
		Since: c.QueryParam("since"), Until: c.QueryParam("until")}
	list, total, err := h.engine.AuditLog(c.Request().Context(), q, offset, limit)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(list))
	for _, r := range list {
		item := map[string]any{"id": r.ID, "time": r.Time.UTC().Format(time.RFC3339Nano), "actor": r.Actor, "action": r.Action,
			"target": r.Target, "changed": r.Changed, "secret_reentered": r.SecretReentered}
		if r.Changed == nil {
			item["changed"] = []string{}
		}
		items = append(items, item)
	}
	return c.JSON(http.StatusOK, page(items, offset, limit, total))
}

func (h *handlers) listWebhookEvents(c echo.Context) error {
	offset, limit, err := paging(c)
	if err != nil {
		return err
	}
	list, total, err := h.engine.WebhookEvents(c.Request().Context(), c.QueryParam("status"), offset, limit)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(list))
	for _, ev := range list {
		items = append(items, webhookEventJSON(ev))
	}
	return c.JSON(http.StatusOK, page(items, offset, limit, total))
}

func (h *handlers) replayWebhookEvent(c echo.Context) error {
	ev, err := h.engine.ReplayWebhookEvent(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, webhookEventJSON(ev))
}

func webhookEventJSON(ev engine.WebhookEvent) map[string]any {
	item := map[string]any{
		"id": ev.ID, "type": ev.Type, "status": ev.Status, "attempts": ev.Attempts,
		"payload":    json.RawMessage(ev.Payload),
		"created_at": ev.CreatedAt.UTC().Format(time.RFC3339), "updated_at": ev.UpdatedAt.UTC().Format(time.RFC3339),
	}
	if ev.LastError != "" {
		item["last_error"] = ev.LastError
	}
	if !ev.NextAttemptAt.IsZero() {
		item["next_attempt_at"] = ev.NextAttemptAt.UTC().Format(time.RFC3339)
	}
	return item
}
