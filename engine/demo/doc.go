// Package demo is the engine's built-in demo OAuth 2.0 provider, served
// under /demo/oauth/ by the engine itself in development mode only, so a
// newcomer sees a complete authorization (consent page, code with PKCE,
// token, refresh, user info) with no other process and no account
// anywhere.
//
// It owns the demo provider's HTTP endpoints and its in-memory state
// (pending consents, codes, tokens; bounded, lost on restart). It is not
// an identity provider: anyone who reaches the consent page may sign in
// under any name, and its client credentials are published constants.
// cmd mounts it only when api.development is true; with development off
// its routes do not exist.
//
// It imports nothing of the engine: the engine reaches it over HTTP like
// any provider, through the `demo` entry of engine.yaml.
package demo
