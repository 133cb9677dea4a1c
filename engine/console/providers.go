package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/config/catalog"
	"github.com/authengine/authengine/engine"
)

// providerRow is one line of the OAuth credentials table. It never holds
// the client secret, only its hint.
type providerRow struct {
	ID, Template, GrantType, ClientID, SecretHint, Problem string
	ReadOnly                                               bool
}

// templateInfo is a built-in catalog template as the console shows it.
type templateInfo struct {
	ID, Description, GrantType string
	Provider                   config.Provider
}

// catalogTemplates reads every built-in template's effective fields, by
// parsing it as a provider that names it.
func catalogTemplates() []templateInfo {
	var out []templateInfo
	for _, id := range catalog.IDs() {
		p, _, err := config.ParseProvider(map[string]any{"id": id, "provider_id": id, "client_id": "-", "client_secret": "-"}, "")
		if err != nil {
			continue
		}
		desc := p.Description
		if desc == "" {
			desc = id
		}
		out = append(out, templateInfo{ID: id, Description: desc, GrantType: p.OAuth2.GrantType, Provider: p})
	}
	return out
}

func (c *Console) template(id string) (templateInfo, bool) {
	for _, t := range c.templates {
		if t.ID == id {
			return t, true
		}
	}
	return templateInfo{}, false
}

func displaySecretHint(hint string) string {
	if hint == "" {
		return "not set"
	}
	return strings.Replace(hint, "****", "•••• ", 1)
}

func (c *Console) providersPage(w http.ResponseWriter, r *http.Request, s *session) {
	infos, err := c.engine.ListProviders(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	rows := make([]providerRow, 0, len(infos))
	for _, in := range infos {
		rows = append(rows, providerRow{
			ID: in.Provider.ID, Template: in.Provider.ProviderID, GrantType: in.Provider.OAuth2.GrantType,
			ClientID: in.Provider.ClientID, SecretHint: displaySecretHint(in.SecretHint), Problem: in.Problem,
			ReadOnly: in.Source == engine.SourceConfig,
		})
	}
	c.render(w, http.StatusOK, "providers.html", pageData{Title: "OAuth credentials", Nav: "providers", CSRF: s.secrets.CSRF,
		SignedIn: true, RedirectURI: c.redirectURI, Providers: rows, Notice: r.URL.Query().Get("notice")})
}

// providerForm is the Add provider / edit form: its values by document
// path, and the problems by the same paths.
type providerForm struct {
	Editing bool
	// Shown holds, when editing, the values the form showed (the
	// provider's effective configuration): only fields changed from them
	// go into the patch.
	Shown      map[string]string
	ID         string
	Values     map[string]string
	Errors     map[string]string
	General    []string
	SecretHint string
	Templates  []templateInfo
}

// The form's fields, by their path in the provider document (the shape
// of one auth.providers entry of engine.yaml), so that the engine's
// field errors land next to the field they name.
const (
	fID          = "id"
	fTemplate    = "provider_id"
	fDescription = "description"
	fClientID    = "client_id"
	fSecret      = "client_secret"
	fGrant       = "oauth2.grant_type"
	fAuthURL     = "oauth2.authorize_request.endpoint"
	fTokenURL    = "oauth2.token_request.endpoint"
	fScopes      = "oauth2.default_scopes"
	fAuthMethod  = "oauth2.token_request.auth_method"
	fPKCE        = "oauth2.pkce.enabled"
	fRefreshURL  = "oauth2.refresh_token_request.endpoint"
	fUserInfoURL = "oauth2.user_info_request.endpoint"
	fResponseMap = "oauth2.token_request.response_map"
	fDelimiter   = "oauth2.scope_delimiter"
)

// formFields are the fields errors are matched against, longest first.
var formFields = []string{fResponseMap, fUserInfoURL, fRefreshURL, fAuthMethod, fTokenURL, fAuthURL, fScopes, fDelimiter, fPKCE, fGrant, fSecret, fClientID, fDescription, fTemplate, fID}

// valuesOf fills the form from a provider's effective configuration
// (never its secret).
func valuesOf(p config.Provider) map[string]string {
	v := map[string]string{
		fID: p.ID, fTemplate: p.ProviderID, fDescription: p.Description, fClientID: p.ClientID,
		fGrant: p.OAuth2.GrantType, fScopes: strings.Join(p.OAuth2.DefaultScopes, " "), fDelimiter: p.OAuth2.ScopeDelimiter,
	}
	if p.OAuth2.PKCE.Enabled {
		v[fPKCE] = "on"
	} else {
		v[fPKCE] = "off"
	}
	if q := p.OAuth2.AuthorizeRequest; q != nil {
		v[fAuthURL] = q.Endpoint
	}
	if q := p.OAuth2.TokenRequest; q != nil {
		v[fTokenURL] = q.Endpoint
		v[fAuthMethod] = q.AuthMethod
		v[fResponseMap] = formatResponseMap(q.ResponseMap)
	}
	if q := p.OAuth2.RefreshTokenRequest; q != nil {
		v[fRefreshURL] = q.Endpoint
	}
	if q := p.OAuth2.UserInfoRequest; q != nil {
		v[fUserInfoURL] = q.Endpoint
	}
	return v
}

func formatResponseMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + " = " + m[k] + "\n")
	}
	return b.String()
}

// parseResponseMap reads "name = JSONPath" lines.
func parseResponseMap(s string) (map[string]any, bool) {
	out := map[string]any{}
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return nil, false
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, true
}

func toStrings(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

// formValues reads the submitted fields.
func formValues(r *http.Request) map[string]string {
	v := map[string]string{}
	for _, f := range formFields {
		v[f] = strings.TrimSpace(r.PostFormValue(f))
	}
	v[fSecret] = r.PostFormValue(fSecret) // a secret is taken as typed
	return v
}

// setPath sets doc[a][b]...=value along a dotted path, creating objects.
func setPath(doc map[string]any, path string, value any) {
	parts := strings.Split(path, ".")
	m := doc
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = value
}

// document turns the form into a provider document: for a new provider
// the fields given (a provider without a template also gets the standard
// request parameters), for an edit a merge patch in which a field left
// empty removes the value (so the template's, or the default, applies)
// and an empty client secret keeps the stored one.
func (f *providerForm) document() map[string]any {
	v := f.Values
	doc := map[string]any{}
	put := func(path string, value any, empty bool) {
		switch {
		case f.Editing && f.Shown != nil && v[path] == f.Shown[path]:
			// unchanged: the stored value (or the template's) stays
		case !empty:
			setPath(doc, path, value)
		case f.Editing && strings.HasSuffix(path, ".endpoint"):
			// A request emptied of its endpoint goes as a whole (the
			// template's, if any, applies again).
			setPath(doc, strings.TrimSuffix(path, ".endpoint"), nil)
		case f.Editing:
			setPath(doc, path, nil)
		}
	}
	if !f.Editing {
		put(fID, v[fID], v[fID] == "")
	}
	put(fTemplate, v[fTemplate], v[fTemplate] == "")
	put(fDescription, v[fDescription], v[fDescription] == "")
	put(fClientID, v[fClientID], v[fClientID] == "")
	if v[fSecret] != "" {
		doc[fSecret] = v[fSecret]
	}
	put(fGrant, v[fGrant], v[fGrant] == "")
	put(fAuthURL, v[fAuthURL], v[fAuthURL] == "")
	put(fTokenURL, v[fTokenURL], v[fTokenURL] == "")
	scopes := []any{}
	for _, s := range strings.Fields(v[fScopes]) {
		scopes = append(scopes, s)
	}
	put(fScopes, scopes, len(scopes) == 0)
	put(fDelimiter, v[fDelimiter], v[fDelimiter] == "")
	put(fAuthMethod, v[fAuthMethod], v[fAuthMethod] == "")
	if !f.Editing || f.Shown == nil || v[fPKCE] != f.Shown[fPKCE] {
		switch v[fPKCE] {
		case "on":
			setPath(doc, fPKCE, true)
		case "off":
			setPath(doc, fPKCE, false)
		}
	}
	put(fRefreshURL, v[fRefreshURL], v[fRefreshURL] == "")
	put(fUserInfoURL, v[fUserInfoURL], v[fUserInfoURL] == "")
	if rm, ok := parseResponseMap(v[fResponseMap]); ok && (f.Shown == nil || formatResponseMap(toStrings(rm)) != f.Shown[fResponseMap]) {
		if len(rm) > 0 {
			setPath(doc, fResponseMap, rm)
		} else if f.Editing {
			setPath(doc, fResponseMap, nil)
		}
	}
	if !f.Editing && v[fTemplate] == "" {
		standardRequests(doc, v)
	}
	return doc
}

// standardRequests gives a provider without a template the parameters of
// a plain OAuth 2.0 provider: the authorization request's response_type,
// client_id, redirect_uri and scope, the code exchange's redirect_uri (or
// the client-credentials scope), the refresh and user-info requests'
// authentication.
func standardRequests(doc map[string]any, v map[string]string) {
	if v[fAuthURL] != "" {
		setPath(doc, "oauth2.authorize_request.params", map[string]any{
			"response_type": "code", "client_id": "<<client_id>>", "redirect_uri": "<<redirect_uri>>", "scope": "<<scopes>>",
		})
	}
	switch {
	case v[fTokenURL] == "":
	case v[fGrant] == config.GrantClientCredentials:
		setPath(doc, "oauth2.token_request.params", map[string]any{"scope": "<<scopes>>"})
	default:
		setPath(doc, "oauth2.token_request.params", map[string]any{"redirect_uri": "<<redirect_uri>>"})
	}
	if v[fRefreshURL] != "" {
		setPath(doc, "oauth2.refresh_token_request.params", map[string]any{"grant_type": "refresh_token", "refresh_token": "<<refresh_token>>"})
		if v[fAuthMethod] != "" {
			setPath(doc, "oauth2.refresh_token_request.auth_method", v[fAuthMethod])
		}
	}
	if v[fUserInfoURL] != "" {
		setPath(doc, "oauth2.user_info_request.auth_method", config.AuthBearerAccessToken)
	}
}

// problems puts an engine error next to the fields it names; what names
// no field is listed at the top of the form.
func (f *providerForm) problems(err error) {
	f.Errors = map[string]string{}
	var inv *engine.InvalidProviderError
	var req *engine.RequestError
	switch {
	case errors.As(err, &inv):
		for _, fe := range inv.Fields {
			field := fieldFor(fe.Path)
			if field == "" {
				f.General = append(f.General, fe.Path+": "+fe.Message)
				continue
			}
			msg := fe.Message
			if fe.Path != field {
				msg = fe.Path + ": " + msg
			}
			if prev := f.Errors[field]; prev != "" {
				msg = prev + "; " + msg
			}
			f.Errors[field] = msg
		}
	case errors.As(err, &req) && req.Name == "provider_exists", errors.As(err, &req) && req.Name == "provider_read_only" && !f.Editing:
		f.Errors[fID] = req.Message
	case errors.As(err, &req):
		f.General = append(f.General, req.Message)
	default:
		f.General = append(f.General, "The provider could not be saved: the store did not answer. Nothing was changed; try again.")
	}
}

// fieldFor is the form field a document path belongs to ("" for none).
func fieldFor(path string) string {
	path = strings.TrimPrefix(path, "auth.providers[].")
	if path == "oauth2.client_secret" {
		return fSecret
	}
	for _, f := range formFields {
		if path == f || strings.HasPrefix(path, f+".") || strings.HasPrefix(path, f+"[") {
			return f
		}
	}
	for _, f := range []struct{ prefix, field string }{
		{"oauth2.authorize_request", fAuthURL}, {"oauth2.token_request", fTokenURL},
		{"oauth2.refresh_token_request", fRefreshURL}, {"oauth2.user_info_request", fUserInfoURL},
		{"oauth2.pkce", fPKCE}, {"oauth2.allowed_scopes", fScopes},
	} {
		if strings.HasPrefix(path, f.prefix) {
			return f.field
		}
	}
	return ""
}

func (c *Console) newProviderPage(w http.ResponseWriter, r *http.Request, s *session) {
	form := &providerForm{Values: map[string]string{fGrant: config.GrantAuthorizationCode, fPKCE: "on"}, Templates: c.templates}
	if t, ok := c.template(r.URL.Query().Get("template")); ok {
		form.Values = valuesOf(t.Provider)
		form.Values[fID], form.Values[fClientID] = t.ID, ""
		if c.providerExists(r.Context(), t.ID) {
			form.Values[fID] = ""
		}
	}
	c.renderForm(w, http.StatusOK, s, form)
}

func (c *Console) providerExists(ctx context.Context, id string) bool {
	_, err := c.engine.GetProvider(ctx, id)
	return err == nil
}

func (c *Console) renderForm(w http.ResponseWriter, status int, s *session, form *providerForm) {
	title := "Add provider"
	if form.Editing {
		title = "Edit provider " + form.ID
	}
	c.render(w, status, "provider_form.html", pageData{Title: title, Nav: "providers", CSRF: s.secrets.CSRF, SignedIn: true,
		RedirectURI: c.redirectURI, Form: form})
}

func (c *Console) createProvider(w http.ResponseWriter, r *http.Request, s *session) {
	form := &providerForm{Values: formValues(r), Templates: c.templates}
	_, err := c.engine.CreateProvider(r.Context(), form.document())
	if err != nil {
		form.Values[fSecret] = "" // never sent back
		form.problems(err)
		c.renderForm(w, http.StatusBadRequest, s, form)
		return
	}
	http.Redirect(w, r, "/console/providers?notice="+url.QueryEscape("Provider "+form.Values[fID]+" saved."), http.StatusSeeOther)
}

// editable returns a runtime provider, or answers for a missing or
// engine.yaml one.
func (c *Console) editable(w http.ResponseWriter, r *http.Request) (engine.ProviderInfo, bool) {
	info, err := c.engine.GetProvider(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, err)
		return info, false
	}
	if info.Source == engine.SourceConfig {
		c.render(w, http.StatusConflict, "message.html", pageData{Title: "Read-only provider", SignedIn: true,
			Message: "Provider " + info.Provider.ID + " is declared in engine.yaml and is read-only here; change it in engine.yaml."})
		return info, false
	}
	return info, true
}

func (c *Console) editProviderPage(w http.ResponseWriter, r *http.Request, s *session) {
	info, ok := c.editable(w, r)
	if !ok {
		return
	}
	form := &providerForm{Editing: true, ID: info.Provider.ID, Values: valuesOf(info.Provider), SecretHint: displaySecretHint(info.SecretHint), Templates: c.templates}
	if info.Problem != "" {
		form.General = []string{info.Problem}
	}
	c.renderForm(w, http.StatusOK, s, form)
}

func (c *Console) updateProvider(w http.ResponseWriter, r *http.Request, s *session) {
	info, ok := c.editable(w, r)
	if !ok {
		return
	}
	form := &providerForm{Editing: true, ID: info.Provider.ID, Values: formValues(r), Shown: valuesOf(info.Provider),
		SecretHint: displaySecretHint(info.SecretHint), Templates: c.templates}
	if _, err := c.engine.PatchProvider(r.Context(), info.Provider.ID, form.document()); err != nil {
		form.Values[fSecret] = ""
		form.problems(err)
		c.renderForm(w, http.StatusBadRequest, s, form)
		return
	}
	http.Redirect(w, r, "/console/providers?notice="+url.QueryEscape("Provider "+info.Provider.ID+" saved."), http.StatusSeeOther)
}

// providerConnections lists every connection of a provider.
func (c *Console) providerConnections(ctx context.Context, id string) ([]engine.Connection, error) {
	list, _, err := c.engine.Connections(ctx, "", id, 0, 0)
	return list, err
}

func (c *Console) deleteProviderPage(w http.ResponseWriter, r *http.Request, s *session) {
	info, ok := c.editable(w, r)
	if !ok {
		return
	}
	conns, err := c.providerConnections(r.Context(), info.Provider.ID)
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, http.StatusOK, "confirm_delete.html", pageData{Title: "Delete provider " + info.Provider.ID, Nav: "providers",
		CSRF: s.secrets.CSRF, SignedIn: true, Target: info.Provider.ID, Count: len(conns)})
}

// deleteProvider removes the provider, then every connection it holds
// (their tokens), through the same engine methods as the admin API.
func (c *Console) deleteProvider(w http.ResponseWriter, r *http.Request, _ *session) {
	info, ok := c.editable(w, r)
	if !ok {
		return
	}
	id := info.Provider.ID
	// The engine deletes the provider's connections with it (each revoked
	// at the provider and announced as connection.deleted); they are
	// counted first for the notice.
	conns, err := c.providerConnections(r.Context(), id)
	if err != nil {
		c.fail(w, err)
		return
	}
	if err := c.engine.DeleteProvider(r.Context(), id); err != nil {
		c.fail(w, err)
		return
	}
	http.Redirect(w, r, "/console/providers?notice="+url.QueryEscape("Provider "+id+" deleted with "+plural(len(conns), "connection", "connections")+"."), http.StatusSeeOther)
}

// fail answers an engine error with a page: the engine's client-safe
// message for a request error, a generic one otherwise (logged).
func (c *Console) fail(w http.ResponseWriter, err error) {
	var req *engine.RequestError
	if errors.As(err, &req) {
		c.render(w, req.HTTPStatus(), "message.html", pageData{Title: "Not done", Message: req.Message, SignedIn: true})
		return
	}
	if errors.Is(err, engine.ErrConnectionNotFound) {
		c.render(w, http.StatusNotFound, "message.html", pageData{Title: "Not found", Message: "That connection no longer exists.", SignedIn: true})
		return
	}
	c.log.Error("console", "err", err)
	status, msg := http.StatusInternalServerError, "Something went wrong; nothing was changed. Try again."
	if errors.Is(err, engine.ErrStoreUnavailable) {
		status, msg = http.StatusServiceUnavailable, "The token store did not answer; nothing was changed. Try again in a moment."
	}
	c.render(w, status, "message.html", pageData{Title: "Not done", Message: msg, SignedIn: true})
}
