package authflow

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasttemplate"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/jsonmap"
)

// Template tags: <<client_id>>.
const (
	startTag = "<<"
	endTag   = ">>"
)

// placeholder is one <<name>> a template may use, as a bit in a set.
type placeholder uint16

const (
	phClientID placeholder = 1 << iota
	phClientSecret
	phRedirectURI
	phScopes
	phExistingScopes
	phRefreshToken
	phAccessToken
	// phConnection is any <<connection.NAME>>: a value the app gave for
	// the connection (oauth2.connection_variables).
	phConnection
	// phMetadata is any <<metadata.NAME>>: token metadata (response_map's
	// extra keys, oauth2.redirect_metadata).
	phMetadata
)

// Prefixes of the placeholders that name a value of their own.
const (
	connectionPrefix = "connection."
	metadataPrefix   = "metadata."
)

// secretPlaceholders render to secrets: they may never reach a browser.
const secretPlaceholders = phClientSecret | phRefreshToken | phAccessToken

// placeholderNames maps template names to placeholders.
var placeholderNames = map[string]placeholder{
	"client_id":       phClientID,
	"client_secret":   phClientSecret,
	"redirect_uri":    phRedirectURI,
	"scopes":          phScopes,
	"existing_scopes": phExistingScopes,
	"refresh_token":   phRefreshToken,
	"access_token":    phAccessToken,
}

// Placeholders each kind of request may use. The authorize request is a
// URL handed to the user's browser (and to the app that starts the
// authorization), so it may use no secret placeholder.
const (
	allowAuthorize         = phClientID | phRedirectURI | phScopes | phExistingScopes | phConnection
	allowToken             = phClientID | phClientSecret | phRedirectURI | phScopes | phConnection
	allowRefresh           = allowToken | phRefreshToken | phAccessToken | phMetadata
	allowUserInfo          = phClientID | phAccessToken | phConnection | phMetadata
	allowClientCredentials = phClientID | phClientSecret | phScopes
	allowRevoke            = phClientID | phClientSecret | phRefreshToken | phAccessToken | phConnection | phMetadata
)

// requestPlaceholders names each request block with the placeholders it
// may use, in the order messages list them.
var requestPlaceholders = []struct {
	name    string
	allowed placeholder
}{
	{"authorize_request", allowAuthorize},
	{"token_request (grant_type authorization_code)", allowToken},
	{"token_request (grant_type client_credentials)", allowClientCredentials},
	{"refresh_token_request", allowRefresh},
	{"user_info_request", allowUserInfo},
	{"revocation_request", allowRevoke},
}

// availableIn lists the request blocks that may use ph.
func availableIn(ph placeholder) string {
	var names []string
	for _, r := range requestPlaceholders {
		if r.allowed&ph != 0 {
			names = append(names, r.name)
		}
	}
	return strings.Join(names, ", ")
}

// rules are what a template may use: placeholders, and the connection
// variables the provider declares.
type rules struct {
	allowed   placeholder
	variables map[string]config.ConnectionVariable
}

// vars are the values placeholders render to for one request.
type vars struct {
	clientID, clientSecret, redirectURI string
	scopes, existingScopes              string
	refreshToken, accessToken           string
	// conn are the connection variables' values; metadata the token's.
	conn     map[string]string
	metadata map[string]any
}

// value returns the value of a placeholder name; unknown names were
// refused at compile time and render empty.
func (v *vars) value(name string) string {
	switch strings.TrimSpace(name) {
	case "client_id":
		return v.clientID
	case "client_secret":
		return v.clientSecret
	case "redirect_uri":
		return v.redirectURI
	case "scopes":
		return v.scopes
	case "existing_scopes":
		return v.existingScopes
	case "refresh_token":
		return v.refreshToken
	case "access_token":
		return v.accessToken
	}
	name = strings.TrimSpace(name)
	if n, ok := strings.CutPrefix(name, connectionPrefix); ok {
		return v.conn[n]
	}
	if n, ok := strings.CutPrefix(name, metadataPrefix); ok {
		return scalarString(v.metadata[n])
	}
	return ""
}

// scalarString renders a response value: a string as is, a number
// formatted (some providers send numeric ids; QuickBooks' realmId may
// arrive as either), anything else "".
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	return ""
}

// tag is a fasttemplate.TagFunc over v.
func (v *vars) tag(w io.Writer, name string) (int, error) {
	return io.WriteString(w, v.value(name))
}

// text is one compiled template: a constant, a lone placeholder, or a
// parsed fasttemplate.
type text struct {
	static string
	tmpl   *fasttemplate.Template
	uses   placeholder
	// only is set when the template is exactly one placeholder
	// ("<<client_id>>", the common case): rendering is then a lookup.
	only string
	// conn names the connection variables the template uses.
	conn []string
}

// render fills the template in.
func (t *text) render(v *vars) string {
	switch {
	case t.only != "":
		return v.value(t.only)
	case t.tmpl == nil:
		return t.static
	}
	return t.tmpl.ExecuteFuncString(v.tag)
}

// compileText parses s once and checks its placeholders against allowed.
// path names the field for errors.
func compileText(path, s string, rs rules) (text, error) {
	allowed := rs.allowed
	if !strings.Contains(s, startTag) {
		return text{static: s}, nil
	}
	tmpl, err := fasttemplate.NewTemplate(s, startTag, endTag)
	if err != nil {
		return text{}, (&problems{{Path: path, Message: fmt.Sprintf("unterminated placeholder: missing %q", endTag)}}).err()
	}
	var uses placeholder
	var conn []string
	var ps problems
	// Executing once with a recording tag function is how fasttemplate
	// exposes the tags it parsed.
	tmpl.ExecuteFuncString(func(w io.Writer, name string) (int, error) {
		trimmed := strings.TrimSpace(name)
		if n, ok := strings.CutPrefix(trimmed, connectionPrefix); ok {
			switch _, declared := rs.variables[n]; {
			case allowed&phConnection == 0:
				ps.addf(path, "%s%s%s is not available in this request; it is available in %s", startTag, name, endTag, availableIn(phConnection))
			case !declared:
				ps.addf(path, "unknown placeholder %s%s%s: declare %q under oauth2.connection_variables", startTag, name, endTag, n)
			default:
				uses |= phConnection
				if !slices.Contains(conn, n) {
					conn = append(conn, n)
				}
			}
			return 0, nil
		}
		if n, ok := strings.CutPrefix(trimmed, metadataPrefix); ok {
			switch {
			case allowed&phMetadata == 0:
				ps.addf(path, "%s%s%s is not available in this request (token metadata exists only once a token does); it is available in %s", startTag, name, endTag, availableIn(phMetadata))
			case !metadataNameRE.MatchString(n):
				ps.addf(path, "placeholder %s%s%s must name a metadata key (letters, digits, '_' and '-')", startTag, name, endTag)
			default:
				uses |= phMetadata
			}
			return 0, nil
		}
		ph, ok := placeholderNames[trimmed]
		if ok && ph&secretPlaceholders != 0 && allowed == allowAuthorize {
			ps.addf(path, "%s%s%s is not allowed in the authorize request: it is a URL the user's browser opens, and the secret would be exposed there; it is available in %s", startTag, name, endTag, availableIn(ph))
			return 0, nil
		}
		if !ok {
			ps.addf(path, "unknown placeholder %s%s%s", startTag, name, endTag)
			return 0, nil
		}
		if ph&allowed == 0 {
			ps.addf(path, "%s%s%s is not available in this request; it is available in %s", startTag, name, endTag, availableIn(ph))
			return 0, nil
		}
		uses |= ph
		return 0, nil
	})
	if err := ps.err(); err != nil {
		return text{}, err
	}
	out := text{tmpl: tmpl, uses: uses, conn: conn}
	// Only a template that is one tag and nothing else may take the
	// lookup shortcut: the tag ends at the first ">>", so "<<client_id>>x>>"
	// and "<<scopes>>>" are a tag followed by text.
	if inner, ok := strings.CutPrefix(s, startTag); ok && !strings.Contains(inner, startTag) {
		if end := strings.Index(inner, endTag); end >= 0 && end == len(inner)-len(endTag) {
			out.only = inner[:end]
		}
	}
	return out, nil
}

// param is one templated request parameter or header.
type param struct {
	key   string
	value text
	// scope marks a param that carries scopes: it is trimmed and
	// de-duplicated by the scope delimiter after rendering.
	scope bool
}

// kv is one rendered key and value.
type kv struct{ key, value string }

// request is one compiled request block.
type request struct {
	op         string // token, refresh, client_credentials, user_info, authorize
	method     string
	endpoint   text
	baseURL    string  // the endpoint without its query, when static
	baseQuery  []kv    // the static endpoint's own query parameters
	params     []param // sorted by key
	headers    []param // sorted by key
	authMethod string
	jsonBody   bool
	// responseType is the configured response_content_type, used when the
	// response has no Content-Type.
	responseType string
	responseMap  *jsonmap.ResponseMap
	uses         placeholder
	hasParam     map[string]bool
}

// compileRequest compiles one request block, adding its problems to ps;
// path is its config path.
func compileRequest(op, path string, r *config.Request, rs rules, defaultMethod, defaultAuth string, ps *problems) *request {
	allowed := rs.allowed
	out := &request{
		op:           op,
		method:       strings.ToUpper(strings.TrimSpace(r.Method)),
		authMethod:   strings.TrimSpace(r.AuthMethod),
		responseType: strings.TrimSpace(r.ResponseContentType),
		hasParam:     make(map[string]bool, len(r.Params)),
	}
	if out.method == "" {
		out.method = defaultMethod
	}
	if out.method != http.MethodGet && out.method != http.MethodPost {
		ps.addf(path+".method", "must be GET or POST, not %q", r.Method)
	}
	if out.authMethod == "" {
		out.authMethod = defaultAuth
	}
	switch out.authMethod {
	case config.AuthNone, config.AuthClientSecretBasic, config.AuthClientSecretPost:
	case config.AuthBearerAccessToken:
		if allowed&phAccessToken == 0 {
			ps.addf(path+".auth_method", "bearer_access_token needs an access token, which this request does not have")
		}
	default:
		ps.addf(path+".auth_method", "unknown auth method %q (want none, client_secret_basic, client_secret_post or bearer_access_token)", r.AuthMethod)
	}
	switch ct := strings.TrimSpace(r.RequestContentType); ct {
	case "", config.ContentTypeForm:
	case config.ContentTypeJSON:
		out.jsonBody = true
	default:
		ps.addf(path+".request_content_type", "unsupported content type %q (want %s or %s)", ct, config.ContentTypeForm, config.ContentTypeJSON)
	}
	if out.responseType == "" {
		out.responseType = config.ContentTypeJSON
	}

	endpoint, err := compileText(path+".endpoint", strings.TrimSpace(r.Endpoint), rs)
	if err != nil {
		ps.add(err)
	} else {
		out.setEndpoint(path, endpoint, rs.variables, ps)
	}
	out.uses |= endpoint.uses

	for _, key := range sortedKeys(r.Params) {
		t, err := compileText(path+".params."+key, r.Params[key], rs)
		if err != nil {
			ps.add(err)
			continue
		}
		out.uses |= t.uses
		out.hasParam[key] = true
		out.params = append(out.params, param{key: key, value: t, scope: t.uses&(phScopes|phExistingScopes) != 0})
	}
	for _, key := range sortedKeys(r.Headers) {
		t, err := compileText(path+".headers."+key, r.Headers[key], rs)
		if err != nil {
			ps.add(err)
			continue
		}
		out.uses |= t.uses
		out.headers = append(out.headers, param{key: http.CanonicalHeaderKey(key), value: t})
	}
	if len(r.ResponseMap) > 0 {
		m, err := jsonmap.Compile(r.ResponseMap)
		if err != nil {
			// One problem per failing key, each with the full field path.
			keyErrs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				keyErrs = j.Unwrap()
			}
			for _, e := range keyErrs {
				if ke, ok := errors.AsType[*jsonmap.KeyError](e); ok {
					ps.addf(path+"."+ke.Field(), "%v", ke.Err)
				} else {
					ps.addf(path+".response_map", "%v", e)
				}
			}
		}
		out.responseMap = m
	}
	return out
}

// setEndpoint validates the endpoint, adding its problems to ps, and,
// when it is a constant, parses it once so rendering does not.
func (r *request) setEndpoint(path string, t text, variables map[string]config.ConnectionVariable, ps *problems) {
	r.endpoint = t
	if t.static == "" && t.tmpl == nil {
		ps.addf(path+".endpoint", "required")
		return
	}
	// Render with stand-in values so a templated endpoint is checked too:
	// connection variables by their examples, metadata that starts the
	// URL (Salesforce's instance_url) as an origin.
	conn := make(map[string]string, len(variables))
	for n, v := range variables {
		conn[n] = cmp.Or(v.Value, v.Example, "x")
	}
	meta := metadataSample{}
	if strings.HasPrefix(strings.TrimSpace(t.templateText()), startTag+metadataPrefix) {
		meta.origin = true
	}
	sample := t.render(&vars{clientID: "x", clientSecret: "x", redirectURI: "x", scopes: "x", existingScopes: "x", refreshToken: "x", accessToken: "x", conn: conn, metadata: meta.values(t)})
	u, err := url.Parse(sample)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.addf(path+".endpoint", "%q is not an absolute http(s) URL", t.templateText())
		return
	}
	if u.Fragment != "" {
		ps.addf(path+".endpoint", "%q must not have a fragment", t.templateText())
		return
	}
	if t.tmpl == nil {
		r.baseQuery = queryPairs(u.RawQuery)
		u.RawQuery = ""
		r.baseURL = u.String()
	}
}

// metadataSample gives every metadata placeholder of a template a stand-in
// value: "x", or an origin when the template starts with one.
type metadataSample struct{ origin bool }

func (m metadataSample) values(t text) map[string]any {
	out := map[string]any{}
	if t.tmpl == nil {
		return out
	}
	first := true
	t.tmpl.ExecuteFuncString(func(w io.Writer, name string) (int, error) {
		if n, ok := strings.CutPrefix(strings.TrimSpace(name), metadataPrefix); ok {
			if _, seen := out[n]; !seen {
				out[n] = "x"
				if first && m.origin {
					out[n] = "https://metadata.example"
				}
			}
		}
		first = false
		return 0, nil
	})
	return out
}

// metadataNameRE is a metadata key a placeholder may name.
var metadataNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (t text) templateText() string {
	if t.tmpl == nil {
		return t.static
	}
	return t.tmpl.ExecuteFuncString(func(w io.Writer, name string) (int, error) {
		return io.WriteString(w, startTag+name+endTag)
	})
}

// queryPairs parses a raw query into pairs, in order.
func queryPairs(raw string) []kv {
	if raw == "" {
		return nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil
	}
	var out []kv
	for _, k := range sortedKeys(values) {
		for _, v := range values[k] {
			out = append(out, kv{k, v})
		}
	}
	return out
}

// renderParams fills in the params, dropping those that render empty and
// normalising scope params. extra pairs (state, code, ...) are added after
// and override params of the same key. The result is sorted by key.
func (r *request) renderParams(dst []kv, v *vars, delim string, extra ...kv) []kv {
	for i := range r.params {
		p := &r.params[i]
		val := p.value.render(v)
		if p.scope {
			val = normalizeScopes(val, delim)
		}
		if strings.TrimSpace(val) == "" {
			continue
		}
		dst = append(dst, kv{p.key, val})
	}
	for _, e := range extra {
		dst = setPair(dst, e)
	}
	sortPairs(dst)
	return dst
}

// setPair replaces the value of e.key in pairs, or appends e.
func setPair(pairs []kv, e kv) []kv {
	for i := range pairs {
		if pairs[i].key == e.key {
			pairs[i].value = e.value
			return pairs
		}
	}
	return append(pairs, e)
}

// sortPairs sorts by key, stably; insertion sort, as the lists are short.
func sortPairs(pairs []kv) {
	for i := 1; i < len(pairs); i++ {
		for j := i; j > 0 && pairs[j].key < pairs[j-1].key; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
}

// encodePairs form-encodes pairs in their order.
func encodePairs(b *strings.Builder, pairs []kv) {
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		queryEscape(b, p.key)
		b.WriteByte('=')
		queryEscape(b, p.value)
	}
}

// queryEscape writes s escaped exactly as url.QueryEscape does, without
// allocating.
func queryEscape(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

// url renders the endpoint with query, merged over the endpoint's own
// query parameters (query wins), sorted by key.
func (r *request) url(v *vars, query []kv) (string, error) {
	s, own := r.baseURL, r.baseQuery
	if s == "" {
		u, err := url.Parse(r.endpoint.render(v))
		if err != nil {
			return "", fmt.Errorf("render %s endpoint: invalid URL", r.op)
		}
		own = queryPairs(u.RawQuery)
		u.RawQuery = ""
		s = u.String()
	}
	if len(own) > 0 {
		merged := make([]kv, 0, len(own)+len(query))
		for _, p := range own {
			if !hasKey(query, p.key) {
				merged = append(merged, p)
			}
		}
		merged = append(merged, query...)
		sortPairs(merged)
		query = merged
	}
	if len(query) == 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s) + 256)
	b.WriteString(s)
	b.WriteByte('?')
	encodePairs(&b, query)
	return b.String(), nil
}

func hasKey(pairs []kv, key string) bool {
	for _, p := range pairs {
		if p.key == key {
			return true
		}
	}
	return false
}

// credentials are the client's id and secret.
type credentials struct{ id, secret string }

// build renders the request: params (plus extra, which override), the
// client authentication of r.authMethod, headers and the body.
func (r *request) build(ctx context.Context, v *vars, cred credentials, delim string, extra ...kv) (*http.Request, error) {
	if r.authMethod == config.AuthClientSecretPost {
		// Add the client credentials unless the operator placed them
		// (perhaps under another name, e.g. client_key: <<client_id>>).
		if !r.hasParam["client_id"] && r.uses&phClientID == 0 {
			extra = append(extra, kv{"client_id", cred.id})
		}
		if !r.hasParam["client_secret"] && r.uses&phClientSecret == 0 {
			extra = append(extra, kv{"client_secret", cred.secret})
		}
	}
	pairs := r.renderParams(make([]kv, 0, len(r.params)+len(extra)), v, delim, extra...)

	var body io.Reader
	var contentType, target string
	var err error
	if r.method == http.MethodGet {
		target, err = r.url(v, pairs)
	} else {
		target, err = r.url(v, nil)
		if r.jsonBody {
			m := make(map[string]string, len(pairs))
			for _, p := range pairs {
				m[p.key] = p.value
			}
			// Keys sorted (encoding/json sorts maps), no HTML escaping:
			// providers see the values as they are.
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(m) // a map of strings always encodes
			body, contentType = bytes.NewReader(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), config.ContentTypeJSON
		} else {
			var b strings.Builder
			encodePairs(&b, pairs)
			body, contentType = strings.NewReader(b.String()), config.ContentTypeForm
		}
	}
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("build %s request: invalid endpoint", r.op)
	}
	req.Header.Set("Accept", config.ContentTypeJSON)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := range r.headers {
		h := &r.headers[i]
		if val := strings.TrimSpace(h.value.render(v)); val != "" {
			req.Header.Set(h.key, val)
		}
	}
	switch r.authMethod {
	case config.AuthClientSecretBasic:
		// RFC 6749 2.3.1: the id and secret are form-encoded before they
		// are joined, so a ':' in either survives.
		raw := url.QueryEscape(cred.id) + ":" + url.QueryEscape(cred.secret)
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(raw)))
	case config.AuthBearerAccessToken:
		req.Header.Set("Authorization", "Bearer "+v.accessToken)
	}
	return req, nil
}

// normalizeScopes trims a rendered scope string and removes empty and
// repeated scopes. Scope tokens never contain spaces (RFC 6749 3.3), so
// whitespace separates scopes too, whatever the delimiter.
func normalizeScopes(s, delim string) string {
	if delim == "" {
		delim = " "
	}
	var b strings.Builder
	b.Grow(len(s))
	for part := range strings.SplitSeq(s, delim) {
		for scope := range strings.FieldsSeq(part) {
			if b.Len() > 0 && containsScope(b.String(), scope, delim) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString(delim)
			}
			b.WriteString(scope)
		}
	}
	return b.String()
}

// containsScope reports whether the delim-joined list holds scope.
func containsScope(list, scope, delim string) bool {
	for s := range strings.SplitSeq(list, delim) {
		if s == scope {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
