// Package console is the operator console: the engine's own web pages at
// <public_url>/console/ for people holding an admin key. It owns the
// console's HTTP handlers, its html/template pages and embedded assets
// (go:embed; no build step), its sessions (sealed records in the store,
// store.SessionStore) and its CSRF tokens and security headers.
//
// Every change goes through the engine methods the admin API calls
// (CreateProvider, PatchProvider, DeleteProvider, Disconnect, Authorize),
// so the console validates exactly as the admin API and `check` do. It
// never renders a client secret, a token or a session id.
//
// It imports engine, engine/store, config and internal/ratelimit; it must
// not import engine/httpapi or cmd, and nothing but cmd imports it.
package console
