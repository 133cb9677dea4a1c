package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/authflow/discovery"
)

// Remote MCP servers registered dynamically (authflow/discovery) can
// forget the engine's registration. When such a provider's token endpoint
// refuses the client with invalid_client, the engine registers again
// through Options.Reregister and uses the new registration from then on;
// the request that met the refusal still fails (its code or refresh token
// belongs to the old client).

// reregisterFunc makes a new registration for a provider (Options.Reregister).
type reregisterFunc func(ctx context.Context, providerID string) (*authflow.Provider, error)

// SetReregister replaces Options.Reregister and forgets the registrations
// redone so far: a reloaded configuration (SetProviders) brings providers
// completed with the registrations kept in the store, and a Reregister
// that knows the reloaded MCP providers.
func (e *Engine) SetReregister(fn func(ctx context.Context, providerID string) (*authflow.Provider, error)) {
	f := reregisterFunc(fn)
	e.reregister.Store(&f)
	e.swapped.Clear()
}

// reregistered returns the provider id's newer registration, if one was
// made since start.
func (e *Engine) reregistered(id string) (*authflow.Provider, bool) {
	p, ok := e.swapped.Load(id)
	if !ok {
		return nil, false
	}
	return p.(*authflow.Provider), true
}

// clientRefused registers p again when err is its token endpoint refusing
// the client (invalid_client) and the engine knows how to.
func (e *Engine) clientRefused(ctx context.Context, p *authflow.Provider, err error) {
	fn := e.reregister.Load()
	if fn == nil || *fn == nil {
		return
	}
	if pe, ok := errors.AsType[*authflow.ProviderError](err); !ok || pe.Code != "invalid_client" {
		return
	}
	np, rerr := (*fn)(context.WithoutCancel(ctx), p.ID())
	if rerr != nil {
		e.log.WarnContext(ctx, "register again after invalid_client", "provider", p.ID(), "err", rerr)
		return
	}
	if np == nil {
		return
	}
	e.swapped.Store(p.ID(), np.WithClock(e.now))
	e.log.InfoContext(ctx, "registered again after the authorization server refused the client", "provider", p.ID())
}

// ClientMetadataDocument returns the client ID metadata document the
// engine serves for MCP provider id (Options.ClientMetadataProviders):
// the authorization server fetches it from the client id, which is its
// URL under public_url. Any other id is unknown_provider.
func (e *Engine) ClientMetadataDocument(id string) (map[string]any, error) {
	if !slices.Contains(e.clientDocs, id) {
		return nil, &RequestError{Name: "unknown_provider", Message: fmt.Sprintf("no MCP provider %q is configured", id), Status: http.StatusNotFound}
	}
	return discovery.ClientMetadataDocument(e.publicURL, e.RedirectURI(), id), nil
}
