package httpapi

import (
	"cmp"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
)

// The admin provider API speaks Arcade's admin provider object:
//
//	{"id", "description", "provider_id", "status": "active"|"inactive", "type": "oauth2",
//	 "oauth2": {"client_id", "client_secret", "scope_delimiter", "default_scopes", "allowed_scopes",
//	            "pkce": {...}, "authorize_request": R, "token_request": R, "refresh_request": R,
//	            "user_info_request": R + "triggers"}}
//
// The engine works on engine.yaml's shape (one auth.providers entry), so
// this file translates: oauth2.client_id and oauth2.client_secret become
// client_id and client_secret, status becomes enabled, refresh_request
// becomes refresh_token_request; and error paths go back the other way.
// In answers the client secret is only described (exists, a hint of its
// last characters), never returned.

// responseOnlyKeys are fields of an answer that a client may send back
// unchanged in a create or patch body; they are ignored.
var responseOnlyKeys = []string{"source", "created_at", "updated_at", "redirect_uri", "binding", "problem"}

// mountAdminProviders mounts the admin provider routes on the admin group.
func mountAdminProviders(admin *echo.Group, h *handlers) {
	admin.GET("/auth_providers", h.listProviders)
	admin.POST("/auth_providers", h.createProvider)
	admin.GET("/auth_providers/:id", h.getProvider)
	admin.PATCH("/auth_providers/:id", h.patchProvider)
	admin.DELETE("/auth_providers/:id", h.deleteProvider)
}

func (h *handlers) listProviders(c echo.Context) error {
	list, err := h.engine.ListProviders(c.Request().Context())
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(list))
	for _, info := range list {
		items = append(items, h.providerJSON(info))
	}
	return c.JSON(http.StatusOK, page(items, 0, len(items), len(items)))
}

func (h *handlers) getProvider(c echo.Context) error {
	info, err := h.engine.GetProvider(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.providerJSON(info))
}

func (h *handlers) createProvider(c echo.Context) error {
	doc, err := bindProvider(c)
	if err != nil {
		return err
	}
	info, err := h.engine.CreateProvider(c.Request().Context(), doc)
	if err != nil {
		return adminProviderError(err)
	}
	return c.JSON(http.StatusCreated, h.providerJSON(info))
}

func (h *handlers) patchProvider(c echo.Context) error {
	doc, err := bindProvider(c)
	if err != nil {
		return err
	}
	info, err := h.engine.PatchProvider(c.Request().Context(), c.Param("id"), doc)
	if err != nil {
		return adminProviderError(err)
	}
	return c.JSON(http.StatusOK, h.providerJSON(info))
}

func (h *handlers) deleteProvider(c echo.Context) error {
	if err := h.engine.DeleteProvider(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "deleted": true})
}

// bindProvider reads an admin provider object and returns it in
// engine.yaml's shape.
func bindProvider(c echo.Context) (map[string]any, error) {
	var body map[string]any
	if err := bindJSON(c, &body); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, &apiError{status: http.StatusBadRequest, Name: "invalid_json", Message: "the body must be a JSON object"}
	}
	for _, k := range responseOnlyKeys {
		delete(body, k)
	}
	if raw, ok := body["status"]; ok {
		delete(body, "status")
		switch raw {
		case "active":
			body["enabled"] = true
		case "inactive":
			body["enabled"] = false
		case nil:
		default:
			return nil, &apiError{status: http.StatusBadRequest, Name: "invalid_provider", Message: `the provider is invalid: status: must be "active" or "inactive"`}
		}
	}
	if o, ok := body["oauth2"].(map[string]any); ok {
		delete(o, "redirect_uri")
		for _, k := range []string{"client_id", "client_secret"} {
			v, ok := o[k]
			if !ok {
				continue
			}
			delete(o, k)
			if _, described := v.(map[string]any); described && k == "client_secret" {
				// The secret's description from an answer, sent back
				// unchanged: keep the stored secret.
				continue
			}
			body[k] = v
		}
		if alias, ok := o["refresh_request"]; ok {
			if _, both := o["refresh_token_request"]; !both {
				delete(o, "refresh_request")
				o["refresh_token_request"] = alias
			}
		}
	}
	return body, nil
}

// adminProviderError turns an invalid provider into invalid_provider,
// listing every problem with its path in the admin object's terms.
func adminProviderError(err error) error {
	var ipe *engine.InvalidProviderError
	if !errors.As(err, &ipe) {
		return err
	}
	lines := make([]string, len(ipe.Fields))
	for i, f := range ipe.Fields {
		f.Path = adminPath(f.Path)
		f.Message = strings.ReplaceAll(f.Message, "oauth2.refresh_token_request", "oauth2.refresh_request")
		lines[i] = f.Error()
	}
	return &apiError{status: http.StatusBadRequest, Name: "invalid_provider",
		Message: "the provider is invalid: " + strings.Join(lines, "; ")}
}

// adminPath maps an engine.yaml field path to the admin object's.
func adminPath(p string) string {
	switch {
	case p == "client_id" || p == "client_secret":
		return "oauth2." + p
	case p == "enabled":
		return "status"
	}
	if rest, ok := strings.CutPrefix(p, "oauth2.refresh_token_request"); ok {
		return "oauth2.refresh_request" + rest
	}
	return p
}

// providerJSON is the admin provider object for info; the secret is only
// described.
func (h *handlers) providerJSON(info engine.ProviderInfo) map[string]any {
	p := info.Provider
	status := "active"
	if !p.IsEnabled() {
		status = "inactive"
	}
	out := map[string]any{
		"id": p.ID, "description": p.Description, "provider_id": p.ProviderID,
		"status": status, "type": cmp.Or(p.Type, config.ProviderTypeOAuth2),
		"source": string(info.Source), "redirect_uri": h.engine.RedirectURI(),
		"binding": map[string]any{"type": "static"},
	}
	if p.GuideURL != "" {
		out["guide_url"] = p.GuideURL
	}
	if info.Problem != "" {
		out["problem"] = info.Problem
		out["status"] = "inactive"
	}
	if !info.CreatedAt.IsZero() {
		out["created_at"] = info.CreatedAt.UTC().Format(time.RFC3339)
		out["updated_at"] = info.UpdatedAt.UTC().Format(time.RFC3339)
	}
	o := p.OAuth2
	oauth2 := map[string]any{
		"client_id": p.ClientID,
		"client_secret": map[string]any{
			"binding": "static", "editable": info.Source == engine.SourceAdmin,
			"exists": info.HasSecret, "hint": info.SecretHint,
		},
		"redirect_uri":    h.engine.RedirectURI(),
		"grant_type":      o.GrantType,
		"scope_delimiter": o.ScopeDelimiter,
		"pkce":            map[string]any{"enabled": o.PKCE.Enabled, "code_challenge_method": o.PKCE.CodeChallengeMethod},
	}
	if len(o.DefaultScopes) > 0 {
		oauth2["default_scopes"] = o.DefaultScopes
	}
	if len(o.AllowedScopes) > 0 {
		oauth2["allowed_scopes"] = o.AllowedScopes
	}
	for name, r := range map[string]*config.Request{
		"authorize_request": o.AuthorizeRequest, "token_request": o.TokenRequest,
		"refresh_request": o.RefreshTokenRequest, "user_info_request": o.UserInfoRequest,
		"revocation_request": o.RevocationRequest,
	} {
		if r != nil {
			oauth2[name] = requestJSON(r, name == "user_info_request")
		}
	}
	out["oauth2"] = oauth2
	return out
}

func requestJSON(r *config.Request, triggers bool) map[string]any {
	out := map[string]any{"endpoint": r.Endpoint, "method": r.Method}
	for k, v := range map[string]string{
		"auth_method": r.AuthMethod, "request_content_type": r.RequestContentType,
		"response_content_type": r.ResponseContentType,
	} {
		if v != "" {
			out[k] = v
		}
	}
	for k, m := range map[string]map[string]string{"params": r.Params, "headers": r.Headers, "response_map": r.ResponseMap} {
		if len(m) > 0 {
			out[k] = m
		}
	}
	if triggers {
		out["triggers"] = map[string]any{"on_token_grant": r.Triggers.OnTokenGrant, "on_token_refresh": r.Triggers.OnTokenRefresh}
	}
	return out
}
