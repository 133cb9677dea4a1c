package authflow

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/authengine/authengine/config"
)

// Connection variables (oauth2.connection_variables) are values an app
// gives per connection, such as the tenant of a provider whose host
// differs per customer. The engine checks them with ConnectionValues when
// a flow starts, keeps them with the connection, and binds them with
// WithConnection before every request made for it.

// VariableError reports a connection variable the provider refuses: one
// missing, not matching its pattern, unknown, or fixed by the operator.
// It names the variable and the pattern, never the value given.
type VariableError struct {
	Provider string
	Name     string
	Pattern  string
	Reason   string
}

// Error names the variable, the provider and what is wrong.
func (e *VariableError) Error() string {
	return fmt.Sprintf("connection variable %q of provider %q %s", e.Name, e.Provider, e.Reason)
}

// Variables returns the connection variables the provider declares.
func (p *Provider) Variables() map[string]config.ConnectionVariable { return p.variables }

// PerConnection returns the names of the variables an app gives per
// connection (those the operator did not fix), sorted.
func (p *Provider) PerConnection() []string {
	var out []string
	for _, n := range sortedKeys(p.variables) {
		if p.variables[n].Value == "" {
			out = append(out, n)
		}
	}
	return out
}

// ConnectionValues checks the connection variables an app gave: every
// per-connection variable must be given and match its pattern whole; a
// variable the operator fixed may be left out or given with its fixed
// value; any other name is refused. It returns the per-connection values
// to keep with the connection (nil when the provider has none), or a
// *VariableError.
func (p *Provider) ConnectionValues(given map[string]string) (map[string]string, error) {
	for _, n := range sortedKeys(given) {
		v, ok := p.variables[n]
		switch {
		case !ok:
			reason := "does not exist: the provider takes no connection variables"
			if names := sortedKeys(p.variables); len(names) > 0 {
				reason = "does not exist: the provider takes " + strings.Join(names, ", ")
			}
			return nil, &VariableError{Provider: p.id, Name: n, Reason: reason}
		case v.Value != "" && given[n] != v.Value:
			return nil, &VariableError{Provider: p.id, Name: n, Pattern: v.Pattern,
				Reason: "is fixed by the engine's configuration; leave it out"}
		}
	}
	var out map[string]string
	for _, n := range p.PerConnection() {
		v := p.variables[n]
		val, ok := given[n]
		if !ok || val == "" {
			reason := fmt.Sprintf("is required (a value matching %s, such as %q)", v.Pattern, v.Example)
			if v.Description != "" {
				reason += ": " + v.Description
			}
			return nil, &VariableError{Provider: p.id, Name: n, Pattern: v.Pattern, Reason: reason}
		}
		if len(val) > config.MaxVariableLength || strings.IndexFunc(val, unsafeRune) >= 0 || !p.patterns[n].MatchString(val) {
			return nil, &VariableError{Provider: p.id, Name: n, Pattern: v.Pattern,
				Reason: fmt.Sprintf("does not match the pattern %s (at most %d bytes, no spaces or control characters)", v.Pattern, config.MaxVariableLength)}
		}
		if out == nil {
			out = map[string]string{}
		}
		out[n] = val
	}
	return out, nil
}

// unsafeRune: spaces and control characters, refused in any value
// whatever the pattern says, as they would change a URL's meaning.
func unsafeRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// WithConnection returns the provider with a connection's variables bound
// (values as ConnectionValues returned them, as stored). A provider
// without per-connection variables, or nil values, is returned as is.
func (p *Provider) WithConnection(values map[string]string) *Provider {
	if len(values) == 0 || len(p.PerConnection()) == 0 {
		return p
	}
	bound := *p
	bound.conn = maps.Clone(values)
	bound.base = p.Unbound()
	return &bound
}

// Unbound returns the provider WithConnection (or WithNonce) was called
// on (p itself when it carries no connection's values and no nonce).
func (p *Provider) Unbound() *Provider {
	if p.base != nil {
		return p.base
	}
	return p
}

// BoundValues returns the connection values bound by WithConnection (nil
// when none are).
func (p *Provider) BoundValues() map[string]string { return maps.Clone(p.conn) }

// connValues are the values placeholders render: the operator's fixed
// values, then the bound ones.
func (p *Provider) connValues() map[string]string {
	if len(p.variables) == 0 {
		return nil
	}
	out := make(map[string]string, len(p.variables))
	for n, v := range p.variables {
		if v.Value != "" {
			out[n] = v.Value
		} else if val, ok := p.conn[n]; ok {
			out[n] = val
		}
	}
	return out
}

// Endpoint is one request's endpoint as a bound provider renders it.
type Endpoint struct {
	// Op is the request: authorize, token, refresh, user_info, revoke.
	Op  string
	URL string
	// Variables are the per-connection variables that decide the
	// endpoint's host (those the endpoint uses, when none does alone).
	Variables []string
}

// ConnectionEndpoints renders the endpoints whose host or path uses a
// per-connection variable, with the bound values: those an app decides,
// which the engine checks before it sends anything there.
func (p *Provider) ConnectionEndpoints() []Endpoint {
	per := p.PerConnection()
	v := p.vars()
	var out []Endpoint
	for _, r := range []*request{p.authorize, p.token, p.refresh, p.userInfo, p.revoke} {
		if r == nil {
			continue
		}
		var used []string
		for _, n := range r.endpoint.conn {
			if slices.Contains(per, n) {
				used = append(used, n)
			}
		}
		if len(used) == 0 {
			continue
		}
		slices.Sort(used)
		rendered := r.endpoint.render(&v)
		out = append(out, Endpoint{Op: r.op, URL: rendered, Variables: p.hostDeciders(r, v, rendered, used)})
	}
	return out
}

// RemoteHosts reports whether some endpoint's host may be decided by an
// app or a remote server rather than by the operator: it uses a
// per-connection variable or token metadata (Salesforce's instance_url).
// The engine sends such a provider's requests through the client that
// refuses private addresses.
func (p *Provider) RemoteHosts() bool {
	per := p.PerConnection()
	for _, r := range []*request{p.authorize, p.token, p.refresh, p.userInfo, p.revoke} {
		if r == nil {
			continue
		}
		if r.endpoint.uses&phMetadata != 0 {
			return true
		}
		for _, n := range r.endpoint.conn {
			if slices.Contains(per, n) {
				return true
			}
		}
	}
	return false
}

// hostDeciders returns the variables of used whose value decides the
// host of r's endpoint: with the variable's example in its place the host
// differs. All of used when none does alone.
func (p *Provider) hostDeciders(r *request, v vars, rendered string, used []string) []string {
	host := hostname(rendered)
	var out []string
	for _, n := range used {
		alt := v
		alt.conn = maps.Clone(v.conn)
		alt.conn[n] = p.variables[n].Example
		if alt.conn[n] == v.conn[n] {
			alt.conn[n] += "x"
		}
		if hostname(r.endpoint.render(&alt)) != host {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return used
	}
	return out
}

// hostname is the host of a URL, "" when it does not parse.
func hostname(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
