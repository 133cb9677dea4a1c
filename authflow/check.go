package authflow

import (
	"errors"

	"github.com/authengine/authengine/config"
)

// Problems compiles one provider on its own and returns its problems
// (templates, JSONPath, URLs, scope patterns), nil when it compiles. It is
// the config.ProviderCheck that has a configuration with other errors
// report these too, in the same report.
func Problems(p config.Provider) []config.FieldError {
	_, err := Compile(p, "http://localhost/oauth/callback")
	if ce, ok := errors.AsType[*CompileError](err); ok {
		return ce.Fields
	}
	return nil
}
