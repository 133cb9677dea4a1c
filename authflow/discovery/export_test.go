package discovery

// BearerParams exposes bearerParams to the tests.
func BearerParams(h string) map[string]string {
	p, _ := bearerParams(h)
	return p
}
