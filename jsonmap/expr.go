package jsonmap

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/PaesslerAG/gval"
	"github.com/PaesslerAG/jsonpath"
)

// The expression grammar of a response_map value:
//
//	value    = jsonpath | expr            (a value starting with '$' is one bare JSONPath)
//	expr     = string | call              (a quoted string is a JSONPath)
//	call     = ident "(" [ arg { "," arg } ] ")"
//	arg      = string | call
//	string   = "'" { char | "\'" | "\\" } "'" | '"' { char | '\"' | "\\" } '"'
//	ident    = letter { letter | digit | "_" }
//
// Functions:
//
//	join(expr, 'delim')            array of strings joined by delim; a string passes unchanged
//	jwt_decode(expr, 'jsonpath')   JSONPath evaluated in the claims of the JWT expr yields
//
// The first argument of join and jwt_decode is a quoted JSONPath or a nested
// call; the second is always a quoted string.

// maxDepth bounds call nesting so a hostile or mistyped expression cannot
// recurse without limit. Real maps nest two deep.
const maxDepth = 8

// node is one compiled expression. eval reports found=false when the
// expression matched nothing; err is reserved for values of the wrong shape,
// and never contains a document value.
type node interface {
	eval(doc any) (v any, found bool, err error)
}

// pathNode is a compiled JSONPath.
type pathNode struct {
	src string
	ev  gval.Evaluable
}

func compilePath(src string) (*pathNode, error) {
	if !strings.HasPrefix(src, "$") {
		return nil, fmt.Errorf("bad JSONPath %q: must start with $", src)
	}
	if err := checkPathShape(src); err != nil {
		return nil, fmt.Errorf("bad JSONPath %q: %w", src, err)
	}
	norm := doubleQuote(src)
	ev, err := jsonpath.New(norm)
	if err != nil {
		// gval prefixes "parsing error: <path>\t:"; the path is already quoted.
		msg := strings.TrimPrefix(err.Error(), "parsing error: "+norm+"\t:")
		return nil, fmt.Errorf("bad JSONPath %q: %s", src, msg)
	}
	return &pathNode{src: src, ev: ev}, nil
}

// checkPathShape refuses what the JSONPath library would accept but a
// response map must not use. The library parses a full gval expression, so
// "$.a == 1" would compile to a boolean; outside brackets a path here is only
// $ followed by .key, .* and [...] selectors. Recursive descent (..) is
// refused everywhere outside strings: the library's implementation costs
// O(depth²) per node, and a provider body of arrays nested 1000 deep took
// over a second to walk. Non-ASCII key names are left to the library.
func checkPathShape(path string) error {
	depth := 0
	var quote byte // the open string's quote, or 0
	for i := 1; i < len(path); i++ {
		c := path[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '.' && i+1 < len(path) && path[i+1] == '.':
			return errors.New("recursive descent (..) is not supported, spell the path out")
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0 && c != '.' && c != '*' && c < utf8.RuneSelf && !isIdentPart(c):
			r, _ := utf8.DecodeRuneInString(path[i:])
			return fmt.Errorf("unexpected %q at offset %d: outside brackets a path has only .key, .* and [...] selectors", r, i)
		}
	}
	return nil
}

// doubleQuote rewrites the single-quoted strings of a JSONPath ($['odd key'],
// the common spelling) as double-quoted ones: the library scans with
// text/scanner, which reads '...' as a one-character literal.
func doubleQuote(path string) string {
	if !strings.Contains(path, "'") {
		return path
	}
	var b strings.Builder
	b.Grow(len(path) + 2)
	inDouble, inSingle := false, false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case (inDouble || inSingle) && c == '\\' && i+1 < len(path):
			if inSingle && path[i+1] == '\'' {
				b.WriteByte('\'') // \' needs no escape inside "..."
			} else {
				b.WriteByte(c)
				b.WriteByte(path[i+1])
			}
			i++
		case inSingle && c == '"':
			b.WriteString(`\"`)
		case inSingle && c == '\'':
			inSingle = false
			b.WriteByte('"')
		case inDouble && c == '"':
			inDouble = false
			b.WriteByte(c)
		case !inDouble && !inSingle && c == '\'':
			inSingle = true
			b.WriteByte('"')
		case !inDouble && !inSingle && c == '"':
			inDouble = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// eval treats every evaluation failure of the JSONPath library (unknown key,
// index out of bounds, selecting into a string) as "matched nothing": they
// all mean the document does not have the shape the path describes, and the
// library's messages can quote document keys. A JSON null is also nothing.
func (p *pathNode) eval(doc any) (any, bool, error) {
	v, err := p.ev(context.Background(), doc)
	if err != nil || v == nil {
		return nil, false, nil
	}
	return v, true, nil
}

// joinNode is join(arg, 'delim').
type joinNode struct {
	arg   node
	delim string
}

func (j *joinNode) eval(doc any) (any, bool, error) {
	v, found, err := j.arg.eval(doc)
	if err != nil || !found {
		return nil, found, err
	}
	switch t := v.(type) {
	case string:
		return t, true, nil
	case []string:
		return strings.Join(t, j.delim), true, nil
	case []any:
		var b strings.Builder
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, false, fmt.Errorf("join() over an array holding %s at index %d, want strings", aKind(e), i)
			}
			if i > 0 {
				b.WriteString(j.delim)
			}
			b.WriteString(s)
		}
		return b.String(), true, nil
	default:
		return nil, false, fmt.Errorf("join() over %s, want an array of strings or a string", aKind(v))
	}
}

// jwtNode is jwt_decode(arg, 'claims path').
//
// The signature is deliberately NOT verified: the JWT is a token the provider
// just handed us over TLS from its own token endpoint, and we read it only for
// data the provider put there about itself (granted scopes, ids). We are not
// its audience, usually hold no key to verify it, and make no trust decision
// from it; the provider verifies the token when it is presented back.
type jwtNode struct {
	arg    node
	claims *pathNode
}

func (j *jwtNode) eval(doc any) (any, bool, error) {
	v, found, err := j.arg.eval(doc)
	if err != nil || !found {
		return nil, found, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, false, fmt.Errorf("jwt_decode() over %s, want a JWT string", aKind(v))
	}
	claims, err := decodeJWTClaims(s)
	if err != nil {
		return nil, false, fmt.Errorf("jwt_decode(): %w", err)
	}
	return j.claims.eval(claims)
}

// decodeJWTClaims returns the payload of a compact JWS as a document, numbers
// converted as Parse does. Its errors never quote the token.
func decodeJWTClaims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("value is not a JWT: want 3 dot-separated parts, got %d", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errors.New("JWT payload is not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims any
	if err := dec.Decode(&claims); err != nil {
		return nil, errors.New("JWT payload is not JSON")
	}
	obj, ok := claims.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("JWT payload is a JSON %s, want an object", kindOf(claims))
	}
	if err := normalizeDoc(obj); err != nil {
		return nil, fmt.Errorf("JWT payload %w", err)
	}
	return obj, nil
}

// token is one lexical token of an expression.
type token struct {
	kind tokenKind
	text string // identifier name, or the unquoted string value
	pos  int    // byte offset in the expression
}

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokIdent
	tokString
	tokLParen
	tokRParen
	tokComma
)

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokIdent:
		return fmt.Sprintf("identifier %q", t.text)
	case tokString:
		return fmt.Sprintf("string %q", t.text)
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	default:
		return `","`
	}
}

// tokenize splits an expression into tokens.
func tokenize(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{kind: tokLParen, pos: i})
			i++
		case c == ')':
			toks = append(toks, token{kind: tokRParen, pos: i})
			i++
		case c == ',':
			toks = append(toks, token{kind: tokComma, pos: i})
			i++
		case c == '\'' || c == '"':
			s, n, err := scanString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: s, pos: i})
			i = n
		case isIdentStart(c):
			start := i
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			toks = append(toks, token{kind: tokIdent, text: src[start:i], pos: start})
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, fmt.Errorf("unexpected character %q at offset %d", r, i)
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(src)}), nil
}

// scanString reads a quoted string starting at src[start]; a backslash
// escapes the quote character or a backslash, and is kept otherwise so a
// JSONPath inside can carry its own escapes.
func scanString(src string, start int) (string, int, error) {
	quote := src[start]
	var b strings.Builder
	for i := start + 1; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src) && (src[i+1] == quote || src[i+1] == '\\'):
			b.WriteByte(src[i+1])
			i++
		case c == quote:
			return b.String(), i + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated string starting at offset %d", start)
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

// parser is a recursive-descent parser over the tokens of one expression.
type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// compileExpr compiles one response_map value.
func compileExpr(src string) (node, error) {
	trimmed := strings.TrimSpace(src)
	if trimmed == "" {
		return nil, errors.New("empty expression")
	}
	if trimmed[0] == '$' {
		return compilePath(trimmed)
	}
	toks, err := tokenize(trimmed)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.parseExpr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %s at offset %d after the expression", t, t.pos)
	}
	return n, nil
}

// arg is a parsed call argument: a literal string, or a compiled call.
type arg struct {
	tok  token
	call node // nil for a string literal
}

func (p *parser) parseExpr(depth int) (node, error) {
	a, err := p.parseArg(depth)
	if err != nil {
		return nil, err
	}
	return a.asExpr()
}

// asExpr turns an argument in an expression position into a node: a string
// there is a JSONPath.
func (a arg) asExpr() (node, error) {
	if a.call != nil {
		return a.call, nil
	}
	return compilePath(a.tok.text)
}

func (p *parser) parseArg(depth int) (arg, error) {
	t := p.next()
	switch t.kind {
	case tokString:
		return arg{tok: t}, nil
	case tokIdent:
		n, err := p.parseCall(t, depth)
		if err != nil {
			return arg{}, err
		}
		return arg{tok: t, call: n}, nil
	default:
		return arg{}, fmt.Errorf("expected a quoted JSONPath or a function call at offset %d, got %s", t.pos, t)
	}
}

func (p *parser) parseCall(name token, depth int) (node, error) {
	if depth >= maxDepth {
		return nil, fmt.Errorf("calls nest deeper than %d at offset %d", maxDepth, name.pos)
	}
	if name.text != "join" && name.text != "jwt_decode" {
		return nil, fmt.Errorf("unknown function %q at offset %d (want join or jwt_decode)", name.text, name.pos)
	}
	if t := p.next(); t.kind != tokLParen {
		return nil, fmt.Errorf("expected \"(\" after %s at offset %d, got %s", name.text, t.pos, t)
	}
	var args []arg
	if p.peek().kind == tokRParen {
		p.next()
	} else {
		for {
			a, err := p.parseArg(depth + 1)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			t := p.next()
			if t.kind == tokRParen {
				break
			}
			if t.kind != tokComma {
				return nil, fmt.Errorf("expected \",\" or \")\" in %s() at offset %d, got %s", name.text, t.pos, t)
			}
		}
	}
	if len(args) != 2 {
		return nil, fmt.Errorf("%s() expects 2 arguments, got %d", name.text, len(args))
	}
	first, err := args[0].asExpr()
	if err != nil {
		return nil, fmt.Errorf("%s() argument 1: %w", name.text, err)
	}
	second := args[1]
	if second.call != nil {
		what := "delimiter"
		if name.text == "jwt_decode" {
			what = "claims JSONPath"
		}
		return nil, fmt.Errorf("%s() argument 2 must be a quoted %s, got a call to %s()", name.text, what, second.tok.text)
	}
	if name.text == "join" {
		return &joinNode{arg: first, delim: second.tok.text}, nil
	}
	claims, err := compilePath(second.tok.text)
	if err != nil {
		return nil, fmt.Errorf("jwt_decode() argument 2: %w", err)
	}
	return &jwtNode{arg: first, claims: claims}, nil
}
