// Package cluster holds the tests that run several engine instances on one
// Redis, the production shape behind a load balancer: a flow started on one
// instance, completed on a second and waited for on a third; one refresh per
// connection however many callers ask on however many instances; Redis
// going away and coming back under traffic; a lost pub/sub subscription.
//
// It has no code of its own: every instance is the real engine.New and
// httpapi.New on its own httptest.Server with its own Redis client (opened
// with engine/store/redis.Open), and all of them share one key prefix and
// one public URL, a small round-robin front that plays the load balancer.
// The tests need a real Redis (internal/redistest); they never skip.
package cluster
