// Package events owns the engine's lifecycle events and their delivery to
// webhooks: the event types and payloads (a connection created, needing
// re-authorization, failing to refresh, disconnected or deleted; a flow
// failed), the Standard Webhooks signature, and the Deliverer that takes
// events from the store's durable outbox (store.Outbox) and posts them to
// the configured endpoints with exponential backoff and jitter, a bounded
// number of attempts, and one instance delivering at a time.
//
// The engine records an event in the same store write as the state change
// it reports (New builds the store.Event), so an event is never lost to a
// crash between the two and never reports a change that did not happen.
// The engine knows nothing of HTTP delivery; the Deliverer knows nothing
// of flows or tokens.
//
// It imports engine/store and internal packages only; it must not import
// engine (which imports it), engine/httpapi or cmd. A payload never holds
// a token, a client secret or a webhook secret.
package events
