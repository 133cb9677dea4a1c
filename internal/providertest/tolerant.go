package providertest

import "testing"

// Tolerant wraps t for a test that makes the client misbehave on purpose
// (a wrong auth method, a redirect URI the stand-in refuses): the
// stand-in's protocol violations are then only recorded, for the test to
// assert through Provider.Violations, instead of failing it. Every other
// Errorf of the stand-in is dropped as well; its Fatalf still fails.
func Tolerant(t testing.TB) testing.TB { return tolerant{t} }

type tolerant struct{ testing.TB }

func (tolerant) Errorf(string, ...any) {}
