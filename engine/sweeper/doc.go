// Package sweeper refreshes tokens ahead of need: in the background it
// refreshes connections whose access token expires within a window, and
// keeps idle refresh tokens alive by refreshing connections nobody has
// used for a while, so a user's next request never waits for a refresh
// and a provider never expires a refresh token for disuse.
//
// One instance at a time sweeps: each pass holds the store's lock
// "sweeper.refresh" (renewed while it sweeps); the others skip the pass.
// Every refresh goes through the engine's own single flight and per-
// connection lock, so a sweep never races a request's refresh. Passes are
// spread by jitter and refreshes run a bounded number at a time.
//
// It uses the engine through its exported methods (DueForRefresh,
// SweepRefresh) and the store only for its lock; it imports no backend,
// no HTTP package and nothing of cmd. cmd starts it on the engine's
// lifecycle (Engine.Go), so Engine.Close stops it and waits for it.
package sweeper
