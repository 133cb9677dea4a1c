package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/store"
)

// tile is one provider on the Integrations page.
type tile struct {
	ID, Name, GrantType string
	// Service is a client-credentials provider (no user signs in).
	Service bool
	// Status is "Not configured", "Configured" or "Connected".
	Status      string
	Connected   int
	NeedsReauth int
	// Template is set for a built-in template not configured yet.
	Template string
	Disabled bool
	Problem  string
}

// statusClass is the tile's CSS class for its status.
func (t tile) StatusClass() string {
	return strings.ToLower(strings.ReplaceAll(t.Status, " ", "-"))
}

// tokenResult is what Fetch token found.
type tokenResult struct {
	Provider  string
	OK        bool
	ExpiresAt time.Time
	Scopes    []string
	Problem   string
}

// connectionCounts counts each provider's connections by status, user
// connections and service tokens alike (Engine.ConnectionCounts: the
// store's kept counts; on a store without them, this engine's writes show
// at once and other instances' within 30 s).
func (c *Console) connectionCounts(r *http.Request) (map[string]map[store.ConnectionStatus]int, error) {
	counts, err := c.engine.ConnectionCounts(r.Context())
	if err != nil {
		return nil, err
	}
	out := map[string]map[store.ConnectionStatus]int{}
	for k, n := range counts {
		if out[k.ProviderID] == nil {
			out[k.ProviderID] = map[store.ConnectionStatus]int{}
		}
		out[k.ProviderID][k.Status] += n
	}
	return out, nil
}

func (c *Console) tiles(r *http.Request) ([]tile, error) {
	infos, err := c.engine.ListProviders(r.Context())
	if err != nil {
		return nil, err
	}
	counts, err := c.connectionCounts(r)
	if err != nil {
		return nil, err
	}
	configured := map[string]bool{}
	tiles := make([]tile, 0, len(infos)+len(c.templates))
	for _, in := range infos {
		p := in.Provider
		configured[p.ID], configured[p.ProviderID] = true, true
		name := p.Description
		if name == "" {
			name = p.ID
		}
		t := tile{ID: p.ID, Name: name, GrantType: p.OAuth2.GrantType, Service: p.OAuth2.GrantType == config.GrantClientCredentials,
			Status: "Configured", Disabled: !p.IsEnabled(), Problem: in.Problem}
		m := counts[p.ID]
		t.Connected, t.NeedsReauth = m[store.ConnectionConnected], m[store.ConnectionNeedsReauth]
		if t.Connected+t.NeedsReauth > 0 {
			t.Status = "Connected"
		}
		tiles = append(tiles, t)
	}
	for _, tp := range c.templates {
		if configured[tp.ID] {
			continue
		}
		tiles = append(tiles, tile{ID: tp.ID, Name: tp.Description, GrantType: tp.GrantType,
			Service: tp.GrantType == config.GrantClientCredentials, Status: "Not configured", Template: tp.ID})
	}
	return tiles, nil
}

func (c *Console) integrationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderIntegrations(w, r, s, http.StatusOK, nil)
}

func (c *Console) renderIntegrations(w http.ResponseWriter, r *http.Request, s *session, status int, result *tokenResult) {
	tiles, err := c.tiles(r)
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, status, "integrations.html", pageData{Title: "Integrations", Nav: "integrations", CSRF: s.secrets.CSRF,
		SignedIn: true, Tiles: tiles, TokenResult: result})
}

// connect starts an authorization for a test user and answers JSON for
// console.js: the URL to open in the popup and the flow id the callback
// page posts back, or that the user is already connected.
func (c *Console) connect(w http.ResponseWriter, r *http.Request, _ *session) {
	user := strings.TrimSpace(r.PostFormValue("user_id"))
	if user == "" {
		user = "console-test-user"
	}
	auth, err := c.engine.Authorize(r.Context(), engine.AuthorizeRequest{UserID: user, ProviderID: r.PathValue("id")})
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status, msg := http.StatusInternalServerError, "the authorization could not be started"
		var req *engine.RequestError
		if errors.As(err, &req) {
			status, msg = req.HTTPStatus(), req.Message
		} else {
			c.log.Error("console connect", "provider", r.PathValue("id"), "err", err)
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	out := map[string]string{"id": auth.ID, "status": auth.Status}
	if auth.Status == "pending" {
		out["url"] = auth.URL
	}
	_ = json.NewEncoder(w).Encode(out) // never the token of a completed one
}

// fetchToken gets a client-credentials provider's service token and
// shows its expiry and granted scopes (never the token), or the
// provider's error.
func (c *Console) fetchToken(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	res := &tokenResult{Provider: id}
	auth, err := c.engine.Authorize(r.Context(), engine.AuthorizeRequest{UserID: "console", ProviderID: id})
	var pf *engine.ProviderFailedError
	var req *engine.RequestError
	switch {
	case errors.As(err, &pf):
		res.Problem = "The provider refused: " + pf.Reason
	case errors.As(err, &req):
		res.Problem = req.Message
	case errors.Is(err, engine.ErrProviderUnavailable):
		res.Problem = "The provider did not answer or answered with a server error; try again later."
	case err != nil:
		c.log.Error("console fetch token", "provider", id, "err", err)
		res.Problem = "The token could not be fetched; see the engine's log."
	case auth.Status != "completed":
		res.Problem = "The provider did not hand out a token (status " + auth.Status + ")."
	default:
		res.OK = true
		conns, err := c.providerConnections(r.Context(), id)
		if err != nil {
			c.fail(w, err)
			return
		}
		var newest engine.Connection
		for _, conn := range conns {
			if conn.UserID == "" && conn.UpdatedAt.After(newest.UpdatedAt) {
				newest = conn
			}
		}
		res.ExpiresAt, res.Scopes = newest.ExpiresAt, newest.Scopes
	}
	status := http.StatusOK
	if !res.OK {
		status = http.StatusBadGateway
	}
	c.renderIntegrations(w, r, s, status, res)
}
