package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// clientMetadata serves an MCP provider's client ID metadata document
// (GET /oauth/client-metadata/:id): public, as authorization servers
// fetch it without credentials.
func (h *handlers) clientMetadata(c echo.Context) error {
	doc, err := h.engine.ClientMetadataDocument(c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.JSON(http.StatusOK, doc)
}
