package httpapi

import (
	_ "embed"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/store"
)

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}p{line-height:1.5}</style>
{{if .FlowID}}<script src="/oauth/popup.js" defer></script>{{end}}
</head><body><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .FlowID}}<div id="authengine-result" hidden data-id="{{.FlowID}}" data-status="{{.Status}}" data-origins="{{.Origins}}"></div>{{end}}
</body></html>
`))

// pageData is a callback page. With FlowID set, the page's script posts
// {type: "authengine:authorization", id, status} to the window that opened
// it (popup mode), only to the engine's allowed origins, then closes.
type pageData struct {
	Title, Message string
	FlowID, Status string
	Origins        string // JSON list
}

// callbackPolicy lets the callback page run its one script file and
// nothing else, and never be framed.
const callbackPolicy = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

//go:embed popup.js
var popupScript []byte

// popupJS serves the callback page's script.
func popupJS(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", popupScript)
}

// forPopup adds the flow's outcome for popup mode to a page.
func (h *handlers) forPopup(p pageData, res engine.CallbackResult) pageData {
	origins, _ := json.Marshal(h.engine.AllowedOrigins())
	p.FlowID, p.Status, p.Origins = res.FlowID, string(res.Status), string(origins)
	return p
}

// callback is where providers send the browser back. It never echoes the
// code or the state, and failure pages show only the client-safe reason.
func (h *handlers) callback(c echo.Context) error {
	q := c.Request().URL.Query()
	res, err := h.engine.Callback(c.Request().Context(), engine.CallbackQuery{
		State:            q.Get("state"),
		Code:             q.Get("code"),
		Error:            q.Get("error"),
		ErrorDescription: q.Get("error_description"),
		Params:           q,
	})
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	c.Response().Header().Set("Content-Security-Policy", callbackPolicy)
	switch {
	case errors.Is(err, engine.ErrInvalidState):
		return render(c, http.StatusBadRequest, pageData{Title: "Authorization link expired or already used", Message: "This authorization could not be found. It may have expired or already been completed. Start the connection again from the app."})
	case errors.Is(err, engine.ErrStoreUnavailable):
		return render(c, http.StatusServiceUnavailable, pageData{Title: "Temporarily unavailable", Message: "The service could not complete the authorization. Please try again in a moment."})
	case err != nil:
		h.log.Warn("callback failed", "err", err)
		return render(c, http.StatusInternalServerError, pageData{Title: "Something went wrong", Message: "The authorization could not be completed. Start the connection again from the app."})
	}
	switch res.Status {
	case store.FlowFailed:
		return render(c, http.StatusBadRequest, h.forPopup(failurePage(res.ProviderID, res.Kind), res))
	case store.FlowVerifying:
		return c.Redirect(http.StatusSeeOther, res.RedirectURL)
	}
	if res.RedirectURL != "" {
		return c.Redirect(http.StatusSeeOther, res.RedirectURL)
	}
	return render(c, http.StatusOK, h.forPopup(pageData{Title: "Account connected", Message: "Your " + res.ProviderID + " account is connected. You can close this window and return to the app."}, res))
}

// failurePage words a failed authorization for the person in the browser:
// what happened, in the engine's own words, and what they can do next.
// The provider's error_description is never shown here: whoever crafted
// the redirect chose it, and this page is on the engine's origin. The app
// still reads the full reason from the flow's status.
func failurePage(provider, kind string) pageData {
	title := provider + " was not connected"
	again := "You can close this window and start the connection again from the app."
	ask := "If it keeps failing, contact the app's support and mention error code " + kind + "."
	switch kind {
	case "access_denied":
		return pageData{Title: title, Message: "Access was declined at " + provider + ", so nothing was connected. " +
			"If that was not what you meant, close this window and start the connection again from the app."}
	case "invalid_scope":
		return pageData{Title: title, Message: provider + " did not accept the permissions the app asked for. " +
			"Contact the app's support and mention error code invalid_scope."}
	case "server_error", "temporarily_unavailable", "store":
		return pageData{Title: title, Message: "Something went wrong on " + provider + " or on our side while connecting your account. " +
			"Wait a minute, then start the connection again from the app."}
	case "scope_not_granted":
		return pageData{Title: title, Message: provider + " did not grant every permission the app asked for, so the app cannot do what it needs yet. " +
			"If you unticked a permission by mistake, close this window and start the connection again from the app."}
	case "provider_removed":
		return pageData{Title: title, Message: "The app no longer offers " + provider + ". Return to the app to see what it supports now."}
	case "root_key_missing":
		return pageData{Title: title, Message: "This connection attempt can no longer be completed. " + again}
	}
	return pageData{Title: title, Message: "Your account could not be connected. " + again + " " + ask}
}

func render(c echo.Context, status int, p pageData) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return pageTmpl.Execute(c.Response(), p)
}
