package httpapi

import (
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
</head><body><h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>
`))

type pageData struct{ Title, Message string }

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
	switch {
	case errors.Is(err, engine.ErrInvalidState):
		return render(c, http.StatusBadRequest, pageData{"Authorization link expired or already used", "This authorization could not be found. It may have expired or already been completed. Start the connection again from the app."})
	case errors.Is(err, engine.ErrStoreUnavailable):
		return render(c, http.StatusServiceUnavailable, pageData{"Temporarily unavailable", "The service could not complete the authorization. Please try again in a moment."})
	case err != nil:
		h.log.Warn("callback failed", "err", err)
		return render(c, http.StatusInternalServerError, pageData{"Something went wrong", "The authorization could not be completed. Start the connection again from the app."})
	}
	switch res.Status {
	case store.FlowFailed:
		return render(c, http.StatusBadRequest, failurePage(res.ProviderID, res.Kind))
	case store.FlowVerifying:
		return c.Redirect(http.StatusSeeOther, res.RedirectURL)
	}
	if res.RedirectURL != "" {
		return c.Redirect(http.StatusSeeOther, res.RedirectURL)
	}
	return render(c, http.StatusOK, pageData{"Account connected", "Your " + res.ProviderID + " account is connected. You can close this window and return to the app."})
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
		return pageData{title, "Access was declined at " + provider + ", so nothing was connected. " +
			"If that was not what you meant, close this window and start the connection again from the app."}
	case "invalid_scope":
		return pageData{title, provider + " did not accept the permissions the app asked for. " +
			"Contact the app's support and mention error code invalid_scope."}
	case "server_error", "temporarily_unavailable", "store":
		return pageData{title, "Something went wrong on " + provider + " or on our side while connecting your account. " +
			"Wait a minute, then start the connection again from the app."}
	case "scope_not_granted":
		return pageData{title, provider + " did not grant every permission the app asked for, so the app cannot do what it needs yet. " +
			"If you unticked a permission by mistake, close this window and start the connection again from the app."}
	case "provider_removed":
		return pageData{title, "The app no longer offers " + provider + ". Return to the app to see what it supports now."}
	case "root_key_missing":
		return pageData{title, "This connection attempt can no longer be completed. " + again}
	}
	return pageData{title, "Your account could not be connected. " + again + " " + ask}
}

func render(c echo.Context, status int, p pageData) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return pageTmpl.Execute(c.Response(), p)
}
