package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/netguard"
)

// Where and how a provider's requests are sent decides who receives its
// client secret and its users' tokens. Changing it through the admin API
// (an endpoint's host, a request's auth method, method, body type, params
// or headers, or the built-in template the provider starts from) requires
// the request to carry client_secret: whoever redirects the secret must
// know it or replace it, so the stored secret never travels to a
// destination it was not entered for.

// requestBlock names one request block of a provider and its field path.
type requestBlock struct {
	path string
	req  *config.Request
}

// requestBlocks lists p's request blocks that are set.
func requestBlocks(p config.Provider) []requestBlock {
	o := p.OAuth2
	refresh := o.RefreshTokenRequest
	if refresh == nil {
		refresh = o.RefreshRequest
	}
	var out []requestBlock
	for _, b := range []requestBlock{
		{"oauth2.authorize_request", o.AuthorizeRequest},
		{"oauth2.token_request", o.TokenRequest},
		{"oauth2.refresh_token_request", refresh},
		{"oauth2.user_info_request", o.UserInfoRequest},
		{"oauth2.revocation_request", o.RevocationRequest},
	} {
		if b.req != nil {
			out = append(out, b)
		}
	}
	return out
}

// secretRoutingChanges lists the fields whose change between before and
// after changes where or how the client secret and tokens are sent. A
// block removed sends nothing new and is not listed.
func secretRoutingChanges(before, after config.Provider) []string {
	var out []string
	if before.ProviderID != after.ProviderID {
		out = append(out, "provider_id")
	}
	old := map[string]*config.Request{}
	for _, b := range requestBlocks(before) {
		old[b.path] = b.req
	}
	for _, b := range requestBlocks(after) {
		was, r := old[b.path], b.req
		if was == nil {
			out = append(out, b.path)
			continue
		}
		if endpointOrigin(was.Endpoint, before) != endpointOrigin(r.Endpoint, after) {
			out = append(out, b.path+".endpoint")
		}
		for _, f := range []struct {
			name     string
			was, now string
		}{
			{"auth_method", was.AuthMethod, r.AuthMethod},
			{"method", was.Method, r.Method},
			{"request_content_type", was.RequestContentType, r.RequestContentType},
		} {
			if !strings.EqualFold(strings.TrimSpace(f.was), strings.TrimSpace(f.now)) {
				out = append(out, b.path+"."+f.name)
			}
		}
		if !maps.Equal(was.Params, r.Params) {
			out = append(out, b.path+".params")
		}
		if !maps.Equal(was.Headers, r.Headers) {
			out = append(out, b.path+".headers")
		}
	}
	// A connection variable's pattern decides which hosts an app's value
	// may make the endpoints send to (a fixed value shows in the endpoints
	// above): widening one, or adding one, moves the secret as an endpoint
	// does.
	oldVars, newVars := before.OAuth2.ConnectionVariables, after.OAuth2.ConnectionVariables
	for _, name := range slices.Sorted(maps.Keys(newVars)) {
		was, ok := oldVars[name]
		now := newVars[name]
		if !ok || was.Pattern != now.Pattern {
			out = append(out, "oauth2.connection_variables."+name)
		}
	}
	return out
}

// anyPlaceholder matches a <<name>> template placeholder.
var anyPlaceholder = regexp.MustCompile(`<<\s*([A-Za-z0-9_.-]+)\s*>>`)

// endpointURL renders an endpoint template of p far enough to know where
// it sends: <<client_id>> filled in (a tenant in the host), connection
// variables by their example (an app's value is checked when a flow
// starts), token metadata that starts the URL as a stand-in origin, and
// other placeholders as a fixed stand-in.
func endpointURL(endpoint string, p config.Provider) string {
	s := config.SampleTemplate(strings.TrimSpace(endpoint), p.OAuth2.ConnectionVariables)
	return anyPlaceholder.ReplaceAllStringFunc(s, func(m string) string {
		name := anyPlaceholder.FindStringSubmatch(m)[1]
		switch {
		case name == "client_id":
			return p.ClientID
		case strings.HasPrefix(name, "metadata.") && strings.HasPrefix(s, m):
			return "https://metadata.invalid"
		}
		return "placeholder"
	})
}

// endpointOrigin is the scheme, host and port an endpoint template of p
// sends to; "" when it does not parse.
func endpointOrigin(endpoint string, p config.Provider) string {
	u, err := url.Parse(endpointURL(endpoint, p))
	if err != nil {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	scheme := strings.ToLower(u.Scheme)
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// checkSecretReentry refuses a patch that changes where or how a stored
// client secret is sent unless the patch carried client_secret
// (reentered). before is the stored entry; after the patched provider.
// A stored entry that no longer parses is compared as changed.
func checkSecretReentry(before map[string]any, after config.Provider, reentered bool) error {
	if reentered {
		return nil
	}
	old, _, err := config.ParseProvider(before, "")
	stored, _ := before["client_secret"].(string)
	if stored == "" {
		return nil
	}
	changes := []string{"the stored provider, which no longer validates"}
	if err == nil {
		if changes = secretRoutingChanges(old, after); len(changes) == 0 {
			return nil
		}
	}
	return &InvalidProviderError{Fields: []config.FieldError{{Path: "client_secret",
		Message: fmt.Sprintf("must be sent again in the same request (the current secret or a new one): the change to %s alters where or how the client secret and users' tokens are sent",
			strings.Join(changes, ", "))}}}
}

// Providers added through the admin API may reach only public addresses
// unless security.allow_private_endpoints is set: their endpoints are
// checked when written (endpointGuard), and their requests go through a
// client whose dialer refuses private addresses (guardedClient), which
// also defeats a name that resolves differently later (DNS rebinding).
// The authorize endpoint is checked too: it is the URL a user's browser
// is sent to, and must not aim the browser at the user's own network.

// endpointGuard checks a runtime provider's endpoints when it is written.
type endpointGuard struct {
	resolver netguard.Resolver
}

// check returns one field error per endpoint of p that is, or resolves
// to, a non-public address.
func (g *endpointGuard) check(ctx context.Context, p config.Provider) []config.FieldError {
	var out []config.FieldError
	for _, b := range requestBlocks(p) {
		err := netguard.CheckURL(ctx, g.resolver, endpointURL(b.req.Endpoint, p))
		if err == nil {
			continue
		}
		msg := err.Error()
		if _, blocked := errors.AsType[*netguard.BlockedError](err); blocked {
			msg = "points at " + msg + "; providers added through the admin API may reach only public addresses (security.allow_private_endpoints: true lifts this)"
		}
		out = append(out, config.FieldError{Path: b.path + ".endpoint", Message: msg})
	}
	return out
}

// checkEndpoints is the guard's check as an *InvalidProviderError, nil
// when the guard is off or every endpoint is public.
func (e *Engine) checkEndpoints(ctx context.Context, p config.Provider) error {
	if e.guard == nil {
		return nil
	}
	if fields := e.guard.check(ctx, p); len(fields) > 0 {
		return &InvalidProviderError{Fields: fields}
	}
	return nil
}

// guardedClient returns a copy of c whose connections to private
// addresses are refused when they are made. A transport that is not an
// *http.Transport cannot be given a dialer: the copy then uses a guarded
// clone of http.DefaultTransport instead (set Options.RuntimeHTTPClient to
// choose another).
func guardedClient(c *http.Client) *http.Client {
	base, _ := c.Transport.(*http.Transport)
	guarded := *c
	guarded.Transport = netguard.Transport(base)
	return &guarded
}
