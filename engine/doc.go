// Package engine is the authorization service: it starts authorization-code
// flows, completes them from the provider's callback, holds apps' waits until
// a flow ends, hands out access tokens (refreshing them once per connection
// however many callers ask at the same time, across every engine instance
// sharing a store), fetches client-credentials service tokens, and verifies
// users when the operator asks for it.
//
// The engine knows nothing of HTTP servers: engine/httpapi maps requests
// onto its methods. It consumes compiled providers (authflow), a token-state
// backend (engine/store) and a Sealer (engine/seal); secrets are sealed
// before they reach the store and never appear in errors or logs.
//
// The flow state machine:
//
//	Authorize ─► pending ─► Callback ─► completed
//	                │            └────► verifying ─► ConfirmUser ─► completed
//	                └─► failed (denied, provider error, expired, user mismatch)
package engine
