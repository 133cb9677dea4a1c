package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem with one field of the configuration.
type FieldError struct {
	// Path names the field, e.g. auth.providers[hooli].oauth2.token_request.
	Path string
	// Message says what is wrong. It never contains a secret value.
	Message string
}

// Error returns "path: message".
func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Errors is every problem found in a configuration. Load and Validate
// return it (as *Errors) so that an operator sees all mistakes at once.
type Errors struct {
	Fields []FieldError
}

// Error prints one problem per line, sorted by path.
func (e *Errors) Error() string {
	fields := e.Sorted()
	lines := make([]string, len(fields))
	for i, f := range fields {
		lines[i] = f.Error()
	}
	return strings.Join(lines, "\n")
}

// Sorted returns the problems sorted by path, then message.
func (e *Errors) Sorted() []FieldError {
	out := append([]FieldError(nil), e.Fields...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// report collects errors and warnings while a configuration is checked.
type report struct {
	errs     []FieldError
	warnings []FieldError
	// explained holds the paths whose absence an error already reported
	// explains: a reference there that did not resolve, a misspelt key
	// that would have set it, or an unknown provider_id whose template
	// would have filled it. An "is required" error at such a path, or
	// under it, is a follow-on and is dropped, so that an operator reads
	// the one root cause.
	explained map[string]bool
}

// explain marks path (and everything under it) as explained.
func (r *report) explain(path string) {
	if r.explained == nil {
		r.explained = map[string]bool{}
	}
	r.explained[path] = true
}

// followOn says whether e is an "is required" error at an explained path
// or under one.
func (r *report) followOn(e FieldError) bool {
	if len(r.explained) == 0 || !strings.HasPrefix(e.Message, "is required") {
		return false
	}
	for p := e.Path; ; {
		if r.explained[p] {
			return true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

func (r *report) errorf(path, format string, args ...any) {
	r.errs = append(r.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (r *report) warnf(path, format string, args ...any) {
	r.warnings = append(r.warnings, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// err returns the collected errors as *Errors, or nil when there are none.
func (r *report) err() error {
	errs := make([]FieldError, 0, len(r.errs))
	for _, e := range r.errs {
		if !r.followOn(e) {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &Errors{Fields: errs}
}

// warningLines returns the warnings as sorted, de-duplicated "path: message"
// lines.
func (r *report) warningLines() []string {
	sorted := (&Errors{Fields: r.warnings}).Sorted()
	out := make([]string, 0, len(sorted))
	for i, w := range sorted {
		if i > 0 && w == sorted[i-1] {
			continue
		}
		out = append(out, w.Error())
	}
	return out
}
