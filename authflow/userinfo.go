package authflow

// HasUserInfo reports whether the provider has a user-info request
// (configured, or found by discovery), whatever its triggers.
func (p *Provider) HasUserInfo() bool { return p.userInfo != nil }
