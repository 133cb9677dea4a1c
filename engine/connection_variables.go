package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/netguard"
)

// Connection variables (oauth2.connection_variables) are values an app
// gives in the authorize request, such as the tenant of a provider whose
// host differs per customer. They are checked against the provider's
// patterns, and, when they decide where a request goes, the resolved
// address must be public (unless security.allow_private_endpoints):
// checked when the flow starts, and again when each connection is made
// (the runtime client's dialer), so a name that resolves elsewhere later
// is still refused. They are kept sealed with the flow, then with the
// connection's token set, and bound to the provider for every request
// made for the connection: code exchange, refresh, user info, revocation.
// A connection's variables never change on re-authorization: an
// authorization that gives other values for an existing connection is
// refused (409) until the connection is disconnected, and one that gives
// none reuses the stored ones.

// Bounds on the connection_variables of one authorize request.
const (
	maxConnectionVariables = 16
	maxVariableName        = 64
)

// variableError is the 400 answer for a refused connection variable.
func variableError(err error) error {
	return badRequest("invalid_connection_variable", err.Error())
}

// errVariablesConflict is the 409 answer for variables that differ from
// the connection's.
func variablesConflict(p *authflow.Provider, account string) error {
	who := "the user's connection"
	if account != "" {
		who = fmt.Sprintf("the user's connection (account %q)", account)
	}
	return &RequestError{Name: "connection_variables_conflict", Status: http.StatusConflict,
		Message: fmt.Sprintf("%s to provider %q was made with other connection variables (%s); they do not change on re-authorization: disconnect it first, or connect the other tenant under another account label",
			who, p.ID(), strings.Join(p.PerConnection(), ", "))}
}

// flowVariables decides the connection variables of a new flow for p:
// those given (already checked, values), or, when none were given, those
// of the user's existing connection conn (zero when there is none).
// Variables given that differ from an existing connection's are refused.
func (e *Engine) flowVariables(p *authflow.Provider, req AuthorizeRequest, values map[string]string, conn store.Connection) (map[string]string, error) {
	if len(p.PerConnection()) == 0 {
		return nil, nil
	}
	var stored map[string]string
	if conn.ID != "" && len(conn.Sealed) > 0 {
		// A token set that cannot be opened (a root key gone) has no
		// variables to keep: the flow replaces it with those given.
		if ts, err := e.openToken(conn); err == nil {
			stored = ts.Variables
		}
	}
	switch {
	case len(req.ConnectionVariables) == 0 && len(stored) > 0:
		return stored, nil
	case len(req.ConnectionVariables) == 0:
		// None given and none kept: ConnectionValues names the first
		// variable that is required.
		_, err := p.ConnectionValues(nil)
		return nil, variableError(err)
	case len(stored) > 0 && !maps.Equal(stored, values):
		return nil, variablesConflict(p, req.Account)
	}
	return values, nil
}

// checkConnectionHosts refuses a bound provider whose endpoints, filled in
// with an app's values, are or resolve to non-public addresses, naming the
// variables. It runs when a flow starts; the runtime client's dialer
// checks every connection made later.
func (e *Engine) checkConnectionHosts(ctx context.Context, p *authflow.Provider) error {
	if e.guard == nil {
		return nil
	}
	for _, ep := range p.ConnectionEndpoints() {
		err := netguard.CheckURL(ctx, e.guard.resolver, ep.URL)
		if err == nil {
			continue
		}
		names := strings.Join(ep.Variables, ", ")
		if be, blocked := errors.AsType[*netguard.BlockedError](err); blocked {
			// The class only, not the address: a name's address is what
			// this engine's resolver answered, which the app must not
			// learn (it would map the engine's network).
			return badRequest("invalid_connection_variable", fmt.Sprintf(
				"connection variable %s of provider %q points the %s endpoint at a non-public address (%s); only public addresses are allowed (security.allow_private_endpoints: true lifts this)",
				names, p.ID(), ep.Op, be.Class))
		}
		return badRequest("invalid_connection_variable", fmt.Sprintf(
			"connection variable %s of provider %q does not make the %s endpoint a usable URL: %v", names, p.ID(), ep.Op, err))
	}
	return nil
}
