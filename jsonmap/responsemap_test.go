package jsonmap_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authengine/authengine/jsonmap"
)

// unsignedJWT builds a compact JWT with alg "none" and an empty signature:
// jwt_decode reads claims without verifying, so no key is needed.
func unsignedJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."
}

func mustCompile(t testing.TB, m map[string]string) *jsonmap.ResponseMap {
	t.Helper()
	rm, err := jsonmap.Compile(m)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return rm
}

func mustParse(t testing.TB, body string) map[string]any {
	t.Helper()
	doc, err := jsonmap.Parse([]byte(body), "application/json")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return doc
}

func TestCompileRejectsBadExpressions(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want string
	}{
		{"an empty value is refused", "  ", "response_map.k: empty expression"},
		{"join with one argument names the count", "join('$.scope')", "response_map.k: join() expects 2 arguments, got 1"},
		{"join with three arguments names the count", "join('$.a', ' ', ',')", "response_map.k: join() expects 2 arguments, got 3"},
		{"join with no arguments names the count", "join()", "response_map.k: join() expects 2 arguments, got 0"},
		{"jwt_decode with one argument names the count", "jwt_decode('$.access_token')", "response_map.k: jwt_decode() expects 2 arguments, got 1"},
		{"an unknown function is named", "split('$.a', ' ')", `response_map.k: unknown function "split" at offset 0 (want join or jwt_decode)`},
		{"a bare word is an unknown function", "scope", `response_map.k: unknown function "scope" at offset 0 (want join or jwt_decode)`},
		{"a missing closing parenthesis is found at the end", "join('$.a', ' '", `response_map.k: expected "," or ")" in join() at offset 15, got end of expression`},
		{"an unterminated string names where it starts", "join('$.a, ' ')", "response_map.k: unterminated string starting at offset 13"},
		{"a trailing comma is a missing argument", "join('$.a', )", `response_map.k: expected a quoted JSONPath or a function call at offset 12, got ")"`},
		{"a missing parenthesis after a function name is found", "join '$.a'", `response_map.k: expected "(" after join at offset 5, got string "$.a"`},
		{"text after the expression is refused", "join('$.a', ' ') extra", `response_map.k: unexpected identifier "extra" at offset 17 after the expression`},
		{"a stray character is named", "join('$.a' ; ' ')", `response_map.k: unexpected character ';' at offset 11`},
		{"a number is not an expression", "42", `response_map.k: unexpected character '4' at offset 0`},
		{"a closing parenthesis cannot start an expression", ")", `response_map.k: expected a quoted JSONPath or a function call at offset 0, got ")"`},
		{"a quoted path must start with $", "join('data.scope', ' ')", `response_map.k: join() argument 1: bad JSONPath "data.scope": must start with $`},
		{"a bad JSONPath inside join is reported by the library", "join('$.[', ' ')", `response_map.k: join() argument 1: bad JSONPath "$.[": 1:3 - 1:4 unexpected "[" while scanning JSON select expected Ident, "." or "*"`},
		{"a bad bare JSONPath is reported by the library", "$.data.", `response_map.k: bad JSONPath "$.data.": 1:8 - 1:8 unexpected EOF while scanning JSON select expected Ident, "." or "*"`},
		{"a join delimiter cannot be a call", "join('$.a', join('$.b', ' '))", "response_map.k: join() argument 2 must be a quoted delimiter, got a call to join()"},
		{"jwt_decode claims cannot be a call", "jwt_decode('$.t', join('$.b', ' '))", "response_map.k: jwt_decode() argument 2 must be a quoted claims JSONPath, got a call to join()"},
		{"jwt_decode claims must be a JSONPath", "jwt_decode('$.t', 'scp')", `response_map.k: jwt_decode() argument 2: bad JSONPath "scp": must start with $`},
		{"errors inside a nested call are reported", "join(jwt_decode('$.t'), ' ')", "response_map.k: jwt_decode() expects 2 arguments, got 1"},
		{"slow-input finding: recursive descent is refused because it is quadratic in body depth", "$..id", `response_map.k: bad JSONPath "$..id": recursive descent (..) is not supported, spell the path out`},
		{"slow-input finding: recursive descent inside join is refused", "join('$.data..scope', ' ')", `response_map.k: join() argument 1: bad JSONPath "$.data..scope": recursive descent (..) is not supported, spell the path out`},
		{"slow-input finding: recursive descent in jwt claims is refused", "jwt_decode('$.t', '$..scp')", `response_map.k: jwt_decode() argument 2: bad JSONPath "$..scp": recursive descent (..) is not supported, spell the path out`},
		{"a comparison is not a path", "$.a == 1", `response_map.k: bad JSONPath "$.a == 1": unexpected ' ' at offset 3: outside brackets a path has only .key, .* and [...] selectors`},
		{"a dashed key needs brackets", "$.x-team", `response_map.k: bad JSONPath "$.x-team": unexpected '-' at offset 3: outside brackets a path has only .key, .* and [...] selectors`},
		{"recursive descent inside a filter is refused", "$.items[?(@..id)]", `response_map.k: bad JSONPath "$.items[?(@..id)]": recursive descent (..) is not supported, spell the path out`},
		{"calls nested too deep are refused", strings.Repeat("join(", 9) + "'$.a'" + strings.Repeat(", ' ')", 9), "response_map.k: calls nest deeper than 8 at offset 40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm, err := jsonmap.Compile(map[string]string{"k": tt.expr})
			if err == nil {
				t.Fatalf("Compile(%q) succeeded with keys %v, want %q", tt.expr, rm.Keys(), tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("Compile(%q)\n got: %s\nwant: %s", tt.expr, err, tt.want)
			}
			var ke *jsonmap.KeyError
			if !errors.As(err, &ke) || ke.Key != "k" {
				t.Fatalf("error %v is not a *KeyError for key k", err)
			}
		})
	}
}

func TestCompileAcceptsTheGrammar(t *testing.T) {
	for _, expr := range []string{
		"$.a",
		"  $.a.b  ",
		"$.list[0].x",
		"$['odd key']",
		`$["odd key"]`,
		`$['it\'s']`,
		"'$.a'",
		`"$.a"`,
		"join('$.scope', ' ')",
		`join("$['odd key']", ',')`,
		`join('$[\'odd key\']', ',')`,
		"join( '$.scope' ,' ' )",
		"jwt_decode('$.access_token', '$.scp')",
		"join(jwt_decode('$.access_token', '$.scp'), ' ')",
		"join(join('$.a', ','), ' ')",
		"join('$.items[*].name', '')",
		"$['a..b']",
		`$["a..b"].c`,
	} {
		t.Run(fmt.Sprintf("%s compiles", expr), func(t *testing.T) {
			if _, err := jsonmap.Compile(map[string]string{"k": expr}); err != nil {
				t.Fatalf("Compile: %v", err)
			}
		})
	}
}

func TestCompileReportsEveryBadKeyAtOnce(t *testing.T) {
	_, err := jsonmap.Compile(map[string]string{
		"access_token": "$.access_token",
		"scope":        "join('$.scope')",
		"expires_in":   "expires_in",
		"":             "$.a",
	})
	if err == nil {
		t.Fatal("Compile succeeded, want errors for three keys")
	}
	want := `response_map[""]: empty key` + "\n" +
		`response_map.expires_in: unknown function "expires_in" at offset 0 (want join or jwt_decode)` + "\n" +
		"response_map.scope: join() expects 2 arguments, got 1"
	if err.Error() != want {
		t.Fatalf("error\n got: %s\nwant: %s", err, want)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T does not unwrap to a list", err)
	}
	var keys []string
	for _, e := range joined.Unwrap() {
		var ke *jsonmap.KeyError
		if !errors.As(e, &ke) {
			t.Fatalf("%v is not a *KeyError", e)
		}
		keys = append(keys, ke.Key)
	}
	if want := []string{"", "expires_in", "scope"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

func TestApply(t *testing.T) {
	jwt := unsignedJWT(t, map[string]any{
		"scp":   []any{"Mail.Read", "User.Read"},
		"oid":   "user-1",
		"roles": []any{"a", 7},
		"ver":   2,
	})
	tests := []struct {
		name string
		body string
		m    map[string]string
		want map[string]any
	}{
		{
			name: "a nested path finds its value",
			body: `{"data":{"access_token":"at","expires_in":3600}}`,
			m:    map[string]string{"access_token": "$.data.access_token", "expires_in": "$.data.expires_in"},
			want: map[string]any{"access_token": "at", "expires_in": int64(3600)},
		},
		{
			name: "an array index finds its element",
			body: `{"access_token":"at","list":[{"x":"first"},{"x":"second"}]}`,
			m:    map[string]string{"second": "$.list[1].x"},
			want: map[string]any{"second": "second"},
		},
		{
			name: "a quoted key holding two dots is not recursive descent",
			body: `{"a..b":"v"}`,
			m:    map[string]string{"k": "$['a..b']"},
			want: map[string]any{"k": "v"},
		},
		{
			name: "a bracketed key with a space finds its value",
			body: `{"odd key":{"it's":"v"}}`,
			m:    map[string]string{"a": "$['odd key']['it\\'s']", "b": `$["odd key"]["it's"]`},
			want: map[string]any{"a": "v", "b": "v"},
		},
		{
			name: "join over an array of strings joins them",
			body: `{"scope":["read","write","admin"]}`,
			m:    map[string]string{"scope": "join('$.scope', ' ')"},
			want: map[string]any{"scope": "read write admin"},
		},
		{
			name: "join over a string returns it unchanged",
			body: `{"scope":"read,write"}`,
			m:    map[string]string{"scope": "join('$.scope', ' ')"},
			want: map[string]any{"scope": "read,write"},
		},
		{
			name: "join over an empty array gives an empty string",
			body: `{"scope":[]}`,
			m:    map[string]string{"scope": "join('$.scope', ' ')"},
			want: map[string]any{"scope": ""},
		},
		{
			name: "join over a wildcard path joins every match",
			body: `{"grants":[{"s":"a"},{"s":"b"}]}`,
			m:    map[string]string{"scope": "join('$.grants[*].s', ',')"},
			want: map[string]any{"scope": "a,b"},
		},
		{
			name: "jwt_decode reads a claim of the token without verifying it",
			body: `{"access_token":"` + jwt + `"}`,
			m:    map[string]string{"user": "jwt_decode('$.access_token', '$.oid')", "ver": "jwt_decode('$.access_token', '$.ver')"},
			want: map[string]any{"user": "user-1", "ver": int64(2)},
		},
		{
			name: "join over jwt_decode joins the scopes inside the token",
			body: `{"access_token":"` + jwt + `"}`,
			m:    map[string]string{"access_token": "$.access_token", "scope": "join(jwt_decode('$.access_token', '$.scp'), ' ')"},
			want: map[string]any{"access_token": jwt, "scope": "Mail.Read User.Read"},
		},
		{
			name: "jwt_decode of a claim the token lacks is absent",
			body: `{"access_token":"` + jwt + `"}`,
			m:    map[string]string{"tenant": "jwt_decode('$.access_token', '$.tid')", "scope": "join(jwt_decode('$.access_token', '$.scope'), ' ')"},
			want: map[string]any{},
		},
		{
			name: "jwt_decode of a path that finds nothing is absent",
			body: `{"other":"x"}`,
			m:    map[string]string{"scope": "jwt_decode('$.id_token', '$.scp')"},
			want: map[string]any{},
		},
		{
			name: "optional keys that find nothing are absent",
			body: `{"access_token":"at"}`,
			m:    map[string]string{"access_token": "$.access_token", "refresh_token": "$.refresh_token", "expires_in": "$.data.expires_in", "first": "$.list[0]"},
			want: map[string]any{"access_token": "at"},
		},
		{
			name: "a JSON null is absent",
			body: `{"access_token":"at","refresh_token":null}`,
			m:    map[string]string{"refresh_token": "$.refresh_token", "scope": "join('$.refresh_token', ' ')"},
			want: map[string]any{},
		},
		{
			name: "selecting into a string finds nothing rather than failing",
			body: `{"data":"flat"}`,
			m:    map[string]string{"x": "$.data.access_token", "y": "$.data[0]"},
			want: map[string]any{},
		},
		{
			name: "an object is returned whole",
			body: `{"team":{"id":"T1","n":2}}`,
			m:    map[string]string{"team": "$.team"},
			want: map[string]any{"team": map[string]any{"id": "T1", "n": int64(2)}},
		},
		{
			name: "an empty map gives an empty result",
			body: `{"access_token":"at"}`,
			m:    map[string]string{},
			want: map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustCompile(t, tt.m).Apply(mustParse(t, tt.body))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Apply\n got: %#v\nwant: %#v", got, tt.want)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	const secret = "s3cr3t-t0ken-value"
	tests := []struct {
		name      string
		body      string
		m         map[string]string
		want      string
		noMatched bool // errors.Is(err, ErrNoMatch)
	}{
		{
			name:      "a required access_token that matches nothing names the key and the path",
			body:      `{"data":{"token":"` + secret + `"}}`,
			m:         map[string]string{"access_token": "$.data.access_token"},
			want:      "response_map.access_token: $.data.access_token matched nothing",
			noMatched: true,
		},
		{
			name:      "a required access_token that is null matches nothing",
			body:      `{"access_token":null}`,
			m:         map[string]string{"access_token": "  $.access_token "},
			want:      "response_map.access_token: $.access_token matched nothing",
			noMatched: true,
		},
		{
			name:      "a required access_token from a nested call names the whole expression",
			body:      `{"id_token":"x"}`,
			m:         map[string]string{"access_token": "join('$.tokens', '')"},
			want:      "response_map.access_token: join('$.tokens', '') matched nothing",
			noMatched: true,
		},
		{
			name: "an empty access_token is never returned silently",
			body: `{"access_token":"  "}`,
			m:    map[string]string{"access_token": "$.access_token"},
			want: "response_map.access_token: $.access_token matched an empty string",
		},
		{
			name: "an access_token that is not a string names the type",
			body: `{"access_token":{"value":"` + secret + `"}}`,
			m:    map[string]string{"access_token": "$.access_token"},
			want: "response_map.access_token: $.access_token matched an object, want a string",
		},
		{
			name: "join over an array holding a non-string names the key and the type",
			body: `{"scope":["` + secret + `",true]}`,
			m:    map[string]string{"scope": "join('$.scope', ' ')"},
			want: "response_map.scope: join() over an array holding a boolean at index 1, want strings",
		},
		{
			name: "join over a number names the type",
			body: `{"scope":42}`,
			m:    map[string]string{"scope": "join('$.scope', ' ')"},
			want: "response_map.scope: join() over a number, want an array of strings or a string",
		},
		{
			name: "jwt_decode of a token that is not a JWT does not quote it",
			body: `{"access_token":"` + secret + `"}`,
			m:    map[string]string{"scope": "jwt_decode('$.access_token', '$.scp')"},
			want: "response_map.scope: jwt_decode(): value is not a JWT: want 3 dot-separated parts, got 1",
		},
		{
			name: "jwt_decode of a payload that is not base64url does not quote it",
			body: `{"access_token":"a.` + secret + `!.c"}`,
			m:    map[string]string{"scope": "jwt_decode('$.access_token', '$.scp')"},
			want: "response_map.scope: jwt_decode(): JWT payload is not base64url",
		},
		{
			name: "jwt_decode of a payload that is not JSON does not quote it",
			body: `{"access_token":"a.` + base64.RawURLEncoding.EncodeToString([]byte(secret)) + `.c"}`,
			m:    map[string]string{"scope": "jwt_decode('$.access_token', '$.scp')"},
			want: "response_map.scope: jwt_decode(): JWT payload is not JSON",
		},
		{
			name: "jwt_decode of a payload that is a JSON array names the kind",
			body: `{"access_token":"a.` + base64.RawURLEncoding.EncodeToString([]byte(`["`+secret+`"]`)) + `.c"}`,
			m:    map[string]string{"scope": "jwt_decode('$.access_token', '$.scp')"},
			want: "response_map.scope: jwt_decode(): JWT payload is a JSON array, want an object",
		},
		{
			name: "slow-input finding: a JWT payload nested deeper than MaxDepth is refused",
			body: `{"access_token":"a.` + base64.RawURLEncoding.EncodeToString([]byte(`{"x":`+strings.Repeat("[", jsonmap.MaxDepth)+strings.Repeat("]", jsonmap.MaxDepth)+`}`)) + `.c"}`,
			m:    map[string]string{"scope": "jwt_decode('$.access_token', '$.scp')"},
			want: "response_map.scope: jwt_decode(): JWT payload nests deeper than 64 levels",
		},
		{
			name: "jwt_decode over a number names the type",
			body: `{"access_token":12}`,
			m:    map[string]string{"scope": "jwt_decode('$.access_token', '$.scp')"},
			want: "response_map.scope: jwt_decode() over a number, want a JWT string",
		},
		{
			name: "every failing key is reported at once in key order",
			body: `{"scope":[1],"roles":{"a":"` + secret + `"}}`,
			m: map[string]string{
				"access_token": "$.access_token",
				"roles":        "join('$.roles', ',')",
				"scope":        "join('$.scope', ' ')",
			},
			want: "response_map.access_token: $.access_token matched nothing\n" +
				"response_map.roles: join() over an object, want an array of strings or a string\n" +
				"response_map.scope: join() over an array holding a number at index 0, want strings",
			noMatched: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustCompile(t, tt.m).Apply(mustParse(t, tt.body))
			if err == nil {
				t.Fatalf("Apply succeeded with %v, want %q", got, tt.want)
			}
			if got != nil {
				t.Fatalf("Apply returned %v alongside an error, want nil", got)
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr") {
				t.Fatalf("error %q contains a document value", err)
			}
			if errors.Is(err, jsonmap.ErrNoMatch) != tt.noMatched {
				t.Fatalf("errors.Is(err, ErrNoMatch) = %v, want %v", !tt.noMatched, tt.noMatched)
			}
			var ke *jsonmap.KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("error %T holds no *KeyError", err)
			}
		})
	}
}

func TestJWTDecodeAcceptsPaddedPayloads(t *testing.T) {
	payload := base64.URLEncoding.EncodeToString([]byte(`{"scp":"a b"}`)) // padded: 13 bytes → "=" suffix
	if !strings.HasSuffix(payload, "=") {
		t.Fatalf("payload %q is not padded; the test needs a padded payload", payload)
	}
	doc := map[string]any{"t": "e30." + payload + ".sig"}
	got, err := mustCompile(t, map[string]string{"scope": "jwt_decode('$.t', '$.scp')"}).Apply(doc)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got["scope"] != "a b" {
		t.Fatalf("scope = %#v, want %q", got["scope"], "a b")
	}
}

func TestKeysAreSortedAndACopy(t *testing.T) {
	rm := mustCompile(t, map[string]string{"scope": "$.s", "access_token": "$.a", "expires_in": "$.e"})
	keys := rm.Keys()
	if want := []string{"access_token", "expires_in", "scope"}; !slices.Equal(keys, want) {
		t.Fatalf("Keys() = %q, want %q", keys, want)
	}
	keys[0] = "changed"
	if rm.Keys()[0] != "access_token" {
		t.Fatal("changing the slice Keys returned changed the map")
	}
}

func TestApplyIsSafeForConcurrentUse(t *testing.T) {
	jwt := unsignedJWT(t, map[string]any{"scp": []any{"a", "b"}})
	rm := mustCompile(t, map[string]string{
		"access_token": "$.access_token",
		"scope":        "join(jwt_decode('$.access_token', '$.scp'), ' ')",
		"n":            "$.list[0]",
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				doc := map[string]any{"access_token": jwt, "list": []any{int64(i*1000 + j)}}
				got, err := rm.Apply(doc)
				if err != nil {
					errs <- err
					return
				}
				if got["n"] != int64(i*1000+j) || got["scope"] != "a b" {
					errs <- fmt.Errorf("goroutine %d got %v", i, got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestKeyErrorQuotesKeysThatAreNotPlain(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want string
	}{
		{"a plain key is written as a field", "scope", "response_map.scope: empty expression"},
		{"a dashed key is written as a field", "x-team", "response_map.x-team: empty expression"},
		{"a key with a space is quoted", "odd key", `response_map["odd key"]: empty expression`},
		{"a key with a dot is quoted", "a.b", `response_map["a.b"]: empty expression`},
		{"an empty key is quoted", "", `response_map[""]: empty key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jsonmap.Compile(map[string]string{tt.key: ""})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Compile error = %v, want %q", err, tt.want)
			}
		})
	}
}
