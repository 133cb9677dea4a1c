package authflow

import "time"

// WithClock returns a copy of p that computes token expiry (from
// expires_in) with now instead of time.Now, so an engine with an injected
// clock and its providers agree on when a token expires.
func (p *Provider) WithClock(now func() time.Time) *Provider {
	c := *p
	c.now = now
	return &c
}
