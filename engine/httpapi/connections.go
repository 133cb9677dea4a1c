package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine"
)

// mountAdminConnections mounts the admin routes of user connections
// beyond Arcade's list and delete: one connection, and a forced refresh.
func mountAdminConnections(admin *echo.Group, h *handlers) {
	admin.GET("/user_connections/:id", h.getConnection)
	admin.POST("/user_connections/:id/refresh", h.refreshConnection)
}

// connectionJSON is a connection as the admin API shows it (Arcade's
// user connection fields, plus the lifecycle's); it never holds a token.
func connectionJSON(conn engine.Connection) map[string]any {
	item := map[string]any{
		"id": conn.ID, "connection_id": conn.ID, "user_id": conn.UserID, "provider_id": conn.ProviderID,
		"connection_status": conn.Status, "status": conn.Status, "scopes": nonNil(conn.Scopes),
		"created_at": conn.CreatedAt.UTC().Format(time.RFC3339), "updated_at": conn.UpdatedAt.UTC().Format(time.RFC3339),
	}
	return withLifecycle(item, conn)
}

// withLifecycle adds the fields a connection has only sometimes: its
// expiry, account label and declined scopes.
func withLifecycle(item map[string]any, conn engine.Connection) map[string]any {
	if !conn.ExpiresAt.IsZero() {
		item["expires_at"] = conn.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if conn.Account != "" {
		item["account"] = conn.Account
	}
	if len(conn.DeclinedScopes) > 0 {
		item["declined_scopes"] = conn.DeclinedScopes
	}
	return item
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *handlers) listConnections(c echo.Context) error {
	offset, limit, err := paging(c)
	if err != nil {
		return err
	}
	q := engine.ConnectionQuery{UserID: c.QueryParam("user_id"), ProviderID: c.QueryParam("provider_id"),
		Status: c.QueryParam("status"), Account: c.QueryParam("account")}
	list, total, err := h.engine.ListConnections(c.Request().Context(), q, offset, limit)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(list))
	for _, conn := range list {
		items = append(items, connectionJSON(conn))
	}
	return c.JSON(http.StatusOK, page(items, offset, limit, total))
}

func (h *handlers) getConnection(c echo.Context) error {
	conn, err := h.engine.GetConnection(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, connectionJSON(conn))
}

func (h *handlers) refreshConnection(c echo.Context) error {
	res, err := h.engine.RefreshConnection(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	out := map[string]any{"connection_id": res.ConnectionID, "refreshed": true}
	if !res.ExpiresAt.IsZero() {
		out["expires_at"] = res.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return c.JSON(http.StatusOK, out)
}

// userConnections answers an app's GET /v1/auth/connections?user_id=:
// the user's connections (provider, status, scopes, expiry, account),
// never a token.
func (h *handlers) userConnections(c echo.Context) error {
	list, err := h.engine.UserConnections(c.Request().Context(), c.QueryParam("user_id"))
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(list))
	for _, conn := range list {
		items = append(items, withLifecycle(map[string]any{
			"id": conn.ID, "provider_id": conn.ProviderID, "status": conn.Status, "scopes": nonNil(conn.Scopes),
			"updated_at": conn.UpdatedAt.UTC().Format(time.RFC3339),
		}, conn))
	}
	return c.JSON(http.StatusOK, map[string]any{"user_id": c.QueryParam("user_id"), "items": items})
}
