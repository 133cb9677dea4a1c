// Package jsonmap turns provider response bodies into documents and applies
// operator-written response maps to them.
//
// It owns three things: parsing a token or user-info response body (JSON, or
// application/x-www-form-urlencoded, sniffed when a provider mislabels it),
// compiling a response_map (JSONPath, join() and jwt_decode() expressions) once
// at load time, and evaluating a compiled map against a parsed document per
// request. It also normalises the two fields providers disagree about most:
// expires_in (ExpiresIn) and scope (Scopes).
//
// It does not own HTTP, token expiry arithmetic or which keys a provider needs;
// those belong to authflow and config. jsonmap imports nothing of authengine.
//
// Secrets: documents hold tokens, so no error produced here ever contains a
// document value or a response body. Errors name keys, expressions (which are
// operator configuration) and value types only.
package jsonmap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
)

// Parse turns a provider response body into a document.
//
// The body is read as JSON unless the content type says
// application/x-www-form-urlencoded or text/plain (x/oauth2 treats text/plain
// as a form, and so do we). A body declared as anything else that is not valid
// JSON but looks like a form (key=value pairs joined by '&') is parsed as a
// form: GitHub has been seen answering a form body under a JSON content type.
// A body declared as a form that starts with '{' is read as JSON.
//
// JSON must hold an object at the top level. Numbers keep their precision: an
// integer that fits int64 becomes int64 (so expires_in 3600 is int64(3600)),
// any other number that fits float64 becomes float64, and a number that fits
// neither (an integer beyond int64, or beyond float64's range) stays a
// json.Number so no digit is lost.
//
// Form values become strings; a key repeated in the body becomes []any of
// strings in body order.
//
// Errors describe what was found (kind, size, content type) and never echo
// the body, which may hold tokens.
func Parse(body []byte, contentType string) (map[string]any, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("parse response body: body is empty")
	}
	media := mediaType(contentType)
	declaredForm := media == "application/x-www-form-urlencoded" || media == "text/plain"
	if declaredForm && trimmed[0] != '{' {
		doc, err := parseForm(trimmed, false)
		if err != nil {
			return nil, fmt.Errorf("parse response body as a form (%d bytes): %w", len(body), err)
		}
		return doc, nil
	}

	doc, jsonErr := parseJSON(trimmed)
	if jsonErr == nil {
		return doc, nil
	}
	var syntax *json.SyntaxError
	if errors.As(jsonErr, &syntax) && looksLikeForm(trimmed) {
		if doc, err := parseForm(trimmed, true); err == nil {
			return doc, nil
		}
	}
	return nil, fmt.Errorf("parse response body as JSON (content type %q, %d bytes): %w", media, len(body), jsonErr)
}

// mediaType returns the lower-cased media type of a Content-Type header
// without parameters; a header mime cannot parse is cut at ';' instead.
func mediaType(contentType string) string {
	if contentType == "" {
		return ""
	}
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// jsonSyntaxError replaces encoding/json's syntax messages, which quote a
// character of the input; the offset is enough to find the problem.
type jsonSyntaxError struct {
	offset int64
	cause  *json.SyntaxError
}

func (e *jsonSyntaxError) Error() string {
	return fmt.Sprintf("not valid JSON (syntax error at byte %d)", e.offset)
}

func (e *jsonSyntaxError) Unwrap() error { return e.cause }

func parseJSON(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, &jsonSyntaxError{offset: syntax.Offset, cause: syntax}
		}
		// io.ErrUnexpectedEOF and friends carry no body content.
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return nil, &jsonSyntaxError{
			offset: dec.InputOffset(),
			cause:  &json.SyntaxError{Offset: dec.InputOffset()},
		}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("body is a JSON %s, want an object", kindOf(v))
	}
	if err := normalizeDoc(obj); err != nil {
		return nil, fmt.Errorf("body %w", err)
	}
	return obj, nil
}

// MaxDepth is the deepest nesting of objects and arrays Parse accepts (the
// top-level object is depth 1). Token and user-info responses nest a handful
// of levels; a body nesting deeper is refused rather than handed to JSONPath
// evaluation, whose cost can grow with depth.
const MaxDepth = 64

// errTooDeep is returned for documents nesting deeper than MaxDepth.
var errTooDeep = fmt.Errorf("nests deeper than %d levels", MaxDepth)

// normalizeDoc converts json.Number values in place (see Parse) and checks
// the nesting depth.
func normalizeDoc(obj map[string]any) error {
	_, err := convertNumbers(obj, 1)
	return err
}

func convertNumbers(v any, depth int) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		if depth > MaxDepth {
			return nil, errTooDeep
		}
		for k, e := range t {
			switch e.(type) {
			case json.Number, map[string]any, []any:
				c, err := convertNumbers(e, depth+1)
				if err != nil {
					return nil, err
				}
				t[k] = c
			}
		}
	case []any:
		if depth > MaxDepth {
			return nil, errTooDeep
		}
		for i, e := range t {
			switch e.(type) {
			case json.Number, map[string]any, []any:
				c, err := convertNumbers(e, depth+1)
				if err != nil {
					return nil, err
				}
				t[i] = c
			}
		}
	case json.Number:
		return convertNumber(t), nil
	}
	return v, nil
}

func convertNumber(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
		return n // an integer beyond int64: float64 would silently round it
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
		return f
	}
	return n
}

// looksLikeForm reports whether a body that failed to parse as JSON has the
// shape of a form: every '&'-separated pair is key=value with a plain key.
// It is deliberately strict, so an HTML error page or a bare token is never
// mistaken for a form.
func looksLikeForm(body []byte) bool {
	switch body[0] {
	case '{', '[', '"', '<':
		return false
	}
	for pair := range bytes.SplitSeq(body, []byte{'&'}) {
		key, _, ok := bytes.Cut(pair, []byte{'='})
		if !ok || len(key) == 0 {
			return false
		}
		for _, c := range key {
			if !isFormKeyByte(c) {
				return false
			}
		}
	}
	return true
}

func isFormKeyByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("_-.:[]%+", c) >= 0
}

// parseForm parses an application/x-www-form-urlencoded body. strict (used
// when sniffing) refuses empty pairs as well as malformed escapes.
func parseForm(body []byte, strict bool) (map[string]any, error) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		// url errors quote the offending escape, which is part of the body.
		return nil, errors.New("malformed form encoding")
	}
	if len(values) == 0 {
		return nil, errors.New("form holds no key=value pairs")
	}
	doc := make(map[string]any, len(values))
	for k, vs := range values {
		if strict && k == "" {
			return nil, errors.New("form holds an empty key")
		}
		if len(vs) == 1 {
			doc[k] = vs[0]
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		doc[k] = list
	}
	return doc, nil
}

// kindOf names the JSON kind of a document value for error messages, which
// may name a value's type but never the value.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "number"
	case map[string]any:
		return "object"
	case []any, []string:
		return "array"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// aKind is kindOf with its article: "a string", "an array".
func aKind(v any) string {
	k := kindOf(v)
	if strings.IndexByte("aeiou", k[0]) >= 0 {
		return "an " + k
	}
	return "a " + k
}
