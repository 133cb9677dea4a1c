package jsonmap

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// RequiredKey is the one key that must find a value when it is in a map: an
// access token the map fails to find is an error, never a silent empty token.
const RequiredKey = "access_token"

// ErrNoMatch is wrapped by the Apply error for a required key whose
// expression matched nothing.
var ErrNoMatch = errors.New("matched nothing")

// KeyError is a compile or apply failure of one response_map key. Compile and
// Apply join one KeyError per failing key with errors.Join.
type KeyError struct {
	Key string // the response_map key, e.g. "scope"
	Err error  // what went wrong; never holds a document value
}

// Error reads "<Field()>: <what went wrong>".
func (e *KeyError) Error() string {
	return e.Field() + ": " + e.Err.Error()
}

// Field is the key's path below the request block: response_map.<key>, or
// response_map["<key>"] when the key is not a plain identifier.
func (e *KeyError) Field() string {
	if isPlainKey(e.Key) {
		return "response_map." + e.Key
	}
	return fmt.Sprintf("response_map[%q]", e.Key)
}

func isPlainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isIdentPart(k[i]) && k[i] != '-' {
			return false
		}
	}
	return true
}

// Unwrap returns the cause.
func (e *KeyError) Unwrap() error { return e.Err }

// ResponseMap is a compiled response_map: output key → expression, parsed
// once by Compile and evaluated per response by Apply. It is immutable and
// safe for concurrent use.
type ResponseMap struct {
	keys  []string // sorted
	exprs []entry  // parallel to keys
}

type entry struct {
	src  string // the expression as written, trimmed, for error messages
	node node
}

// Compile parses a response_map once. Values are a JSONPath ($.a.b,
// $.list[0].x, $['odd key']), join('<expr>', '<delim>') or
// jwt_decode('<expr of a JWT>', '<JSONPath in its claims>'), where <expr> is a
// quoted JSONPath or a nested call: join(jwt_decode('$.access_token', '$.scp'), ' ').
//
// Every bad key is reported, each as a *KeyError naming the key and the
// offending text (response_map.scope: join() expects 2 arguments, got 1),
// joined with errors.Join in key order.
func Compile(m map[string]string) (*ResponseMap, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rm := &ResponseMap{keys: keys, exprs: make([]entry, len(keys))}
	var errs []error
	for i, k := range keys {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, &KeyError{Key: k, Err: errors.New("empty key")})
			continue
		}
		n, err := compileExpr(m[k])
		if err != nil {
			errs = append(errs, &KeyError{Key: k, Err: err})
			continue
		}
		rm.exprs[i] = entry{src: strings.TrimSpace(m[k]), node: n}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rm, nil
}

// Apply evaluates every key against doc and returns the values found.
//
// A key whose expression matches nothing (or a JSON null) is absent from the
// result, except RequiredKey, which must find a non-empty string: otherwise
// Apply fails with response_map.access_token: $.data.access_token matched
// nothing (wrapping ErrNoMatch). A join() or jwt_decode() over a value of the
// wrong shape is an error naming the key and the value's type. Every failing
// key is reported, joined with errors.Join; on error the result is nil.
//
// Values are returned as found (string, int64, float64, bool, map[string]any,
// []any); they may share structure with doc.
func (m *ResponseMap) Apply(doc map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m.keys))
	var errs []error
	for i, k := range m.keys {
		e := m.exprs[i]
		v, found, err := e.node.eval(doc)
		if err != nil {
			errs = append(errs, &KeyError{Key: k, Err: err})
			continue
		}
		if k == RequiredKey {
			if err := checkRequired(e.src, v, found); err != nil {
				errs = append(errs, &KeyError{Key: k, Err: err})
				continue
			}
		}
		if found {
			out[k] = v
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func checkRequired(src string, v any, found bool) error {
	if !found {
		return fmt.Errorf("%s %w", src, ErrNoMatch)
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("%s matched %s, want a string", src, aKind(v))
	}
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s matched an empty string", src)
	}
	return nil
}

// Keys returns the map's output keys, sorted.
func (m *ResponseMap) Keys() []string { return slices.Clone(m.keys) }
