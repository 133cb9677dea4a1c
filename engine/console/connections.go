package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authengine/authengine/engine"
)

// connectionsPerPage is the size of a page of the Connections table.
const connectionsPerPage = 50

type connectionRow struct {
	ID, UserID, ProviderID, Status string
	Scopes                         []string
	ExpiresAt, UpdatedAt           time.Time
}

// StatusText words a connection status for people.
func (r connectionRow) StatusText() string {
	switch r.Status {
	case "needs_reauth":
		return "needs re-auth"
	case "":
		return "connected"
	}
	return strings.ReplaceAll(r.Status, "_", " ")
}

type connectionFilter struct {
	Provider, User, Status string
}

// pager is the Connections table's position.
type pager struct {
	Number, Pages, Total int
	PrevURL, NextURL     string
}

func (c *Console) connectionsPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := connectionFilter{Provider: strings.TrimSpace(q.Get("provider")), User: strings.TrimSpace(q.Get("user")), Status: q.Get("status")}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	list, total, err := c.engine.ListConnections(r.Context(), engine.ConnectionQuery{UserID: f.User, ProviderID: f.Provider, Status: f.Status},
		(page-1)*connectionsPerPage, connectionsPerPage)
	if err != nil {
		c.fail(w, err)
		return
	}
	rows := make([]connectionRow, 0, len(list))
	for _, conn := range list {
		rows = append(rows, connectionRow{ID: conn.ID, UserID: conn.UserID, ProviderID: conn.ProviderID, Status: conn.Status,
			Scopes: conn.Scopes, ExpiresAt: conn.ExpiresAt, UpdatedAt: conn.UpdatedAt})
	}
	pages := max((total+connectionsPerPage-1)/connectionsPerPage, 1)
	pg := pager{Number: page, Pages: pages, Total: total}
	link := func(n int) string {
		v := url.Values{}
		for k, val := range map[string]string{"provider": f.Provider, "user": f.User, "status": f.Status} {
			if val != "" {
				v.Set(k, val)
			}
		}
		v.Set("page", strconv.Itoa(n))
		return "/console/connections?" + v.Encode()
	}
	if page > 1 {
		pg.PrevURL = link(page - 1)
	}
	if page < pages {
		pg.NextURL = link(page + 1)
	}
	c.render(w, http.StatusOK, "connections.html", pageData{Title: "Connections", Nav: "connections", CSRF: s.secrets.CSRF, SignedIn: true,
		Connections: rows, Filter: f, Page: pg, Notice: q.Get("notice")})
}

func (c *Console) disconnectPage(w http.ResponseWriter, r *http.Request, s *session) {
	who := "this connection"
	if p := r.URL.Query().Get("provider"); p != "" {
		who = "the service token of " + p
		if u := r.URL.Query().Get("user"); u != "" {
			who = "user " + u + " from " + p
		}
	}
	c.render(w, http.StatusOK, "confirm_disconnect.html", pageData{Title: "Disconnect", Nav: "connections", CSRF: s.secrets.CSRF,
		SignedIn: true, Target: r.PathValue("id"), Message: who})
}

func (c *Console) disconnect(w http.ResponseWriter, r *http.Request, _ *session) {
	if err := c.engine.Disconnect(r.Context(), r.PathValue("id")); err != nil {
		c.fail(w, err)
		return
	}
	http.Redirect(w, r, "/console/connections?notice="+url.QueryEscape("Connection disconnected: its tokens are deleted; the provider stays."), http.StatusSeeOther)
}

// refresh refreshes a connection's token now (RefreshConnection, as the
// admin API does) and says how it went.
func (c *Console) refresh(w http.ResponseWriter, r *http.Request, _ *session) {
	res, err := c.engine.RefreshConnection(r.Context(), r.PathValue("id"))
	var notice string
	var pf *engine.ProviderFailedError
	var se *engine.StatusError
	var req *engine.RequestError
	switch {
	case err == nil && res.ExpiresAt.IsZero():
		notice = "Token refreshed; it does not expire."
	case err == nil:
		notice = "Token refreshed; it expires " + formatTime(res.ExpiresAt) + "."
	case errors.As(err, &pf):
		notice = "The provider refused the refresh: " + pf.Reason
	case errors.As(err, &se):
		notice = "Not refreshed: " + se.Error()
	case errors.As(err, &req):
		notice = "Not refreshed: " + req.Message
	case errors.Is(err, engine.ErrProviderUnavailable):
		notice = "Not refreshed: the provider did not answer or answered with a server error; try again later."
	default:
		c.fail(w, err)
		return
	}
	http.Redirect(w, r, "/console/connections?notice="+url.QueryEscape(notice), http.StatusSeeOther)
}
