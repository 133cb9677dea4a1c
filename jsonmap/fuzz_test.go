package jsonmap_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/authengine/authengine/jsonmap"
)

// fuzzMaps are the compiled maps FuzzApply runs every parsed body through:
// between them they use every kind of expression.
var fuzzMaps = []map[string]string{
	{
		"access_token":  "$.access_token",
		"expires_in":    "$.expires_in",
		"refresh_token": "$.refresh_token",
		"scope":         "join('$.scope', ' ')",
	},
	{
		"access_token": "$.data.access_token",
		"scope":        "join(jwt_decode('$.access_token', '$.scp'), ' ')",
		"user":         "jwt_decode('$.id_token', '$.sub')",
		"first":        "$.list[0].x",
		"odd":          "$['odd key']",
		"ids":          "join('$.items[*].id', ',')",
		"filtered":     "$.items[?(@.kind == 'a')].v",
	},
}

// parseErrorShape is every error Parse may return. Matching it proves no body
// byte reached the message (the content type, operator-visible header, may).
var parseErrorShape = regexp.MustCompile(`^parse response body(?: as JSON \(content type "(?:[^"\\]|\\.)*", \d+ bytes\)| as a form \(\d+ bytes\))?: ` +
	`(?:body is empty|body is a JSON (?:array|string|number|boolean|null), want an object|not valid JSON \(syntax error at byte \d+\)|not valid JSON: unexpected EOF|body nests deeper than 64 levels|malformed form encoding|form holds no key=value pairs)$`)

// applyErrorLineShape is every line an Apply error may hold; it leaves no
// room for a document value.
var applyErrorLineShape = regexp.MustCompile(`^response_map\.[a-z_]+: (?:` +
	`\S+ matched nothing|\S+ matched an empty string|\S+ matched an? [a-z]+, want a string|` +
	`join\(\) over an array holding an? [a-z]+ at index \d+, want strings|join\(\) over an? [a-z]+, want an array of strings or a string|` +
	`jwt_decode\(\) over an? [a-z]+, want a JWT string|jwt_decode\(\): value is not a JWT: want 3 dot-separated parts, got \d+|` +
	`jwt_decode\(\): JWT payload is not base64url|jwt_decode\(\): JWT payload is not JSON|jwt_decode\(\): JWT payload nests deeper than 64 levels|jwt_decode\(\): JWT payload is a JSON [a-z]+, want an object)$`)

func FuzzApply(f *testing.F) {
	maps := make([]*jsonmap.ResponseMap, len(fuzzMaps))
	for i, m := range fuzzMaps {
		maps[i] = mustCompile(f, m)
	}
	jwt := unsignedJWT(f, map[string]any{"scp": []any{"a", "b"}, "sub": "u1"})
	seeds := []struct{ body, contentType string }{
		{`{"access_token":"at","expires_in":3600,"scope":["a","b"]}`, "application/json"},
		{`{"access_token":"` + jwt + `","id_token":"` + jwt + `","data":{"access_token":"x"}}`, "application/json"},
		{`{"list":[{"x":1}],"odd key":"o","items":[{"kind":"a","v":1,"id":"i"}],"id":7}`, ""},
		{"access_token=at&scope=repo%2Cuser&scope=x", "application/x-www-form-urlencoded"},
		{"access_token=at&expires_in=3600", "application/json"},
		{`{"access_token":null,"expires_in":"3600","scope":[1,true]}`, "application/json; charset=utf-8"},
		{`[1,2]`, "application/json"},
		{"<html>", "text/html"},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.contentType)
	}
	if paths, err := filepath.Glob(filepath.Join("testdata", "apply", "*", "body.*")); err == nil {
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b, "application/json")
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		doc, err := jsonmap.Parse(body, contentType)
		if err != nil {
			if !parseErrorShape.MatchString(err.Error()) {
				t.Fatalf("Parse error has an unexpected shape (may leak the body): %q", err)
			}
			return
		}
		for _, m := range maps {
			out, err := m.Apply(doc)
			if err != nil {
				for line := range strings.SplitSeq(err.Error(), "\n") {
					if !applyErrorLineShape.MatchString(line) {
						t.Fatalf("Apply error line has an unexpected shape (may leak a value): %q", line)
					}
				}
				continue
			}
			if at, ok := out["access_token"].(string); !ok || strings.TrimSpace(at) == "" {
				t.Fatalf("Apply succeeded with access_token %T, want a non-empty string", out["access_token"])
			}
			_, _, _ = jsonmap.ExpiresIn(out["expires_in"])
			_ = jsonmap.Scopes(out["scope"], " ")
			_ = jsonmap.Scopes(out["scope"], ",")
		}
	})
}

func FuzzCompile(f *testing.F) {
	for _, m := range fuzzMaps {
		for _, expr := range m {
			f.Add(expr)
		}
	}
	for _, expr := range []string{
		"", "$", "$.", "$[", "$['a", `$["a\"b"]`, "'$.a'", "join(", "join('$.a',", "join('$.a', ' ')",
		"jwt_decode(jwt_decode('$.a', '$.b'), '$.c')", "join(join(join('$.a', ' '), ' '), ' ')",
		"join('$.a' ; ' ')", "\x00", "join('\\", "$[?(@.a == 'b')]", "$..*", "$['..']", "$.a[1:3]",
	} {
		f.Add(expr)
	}
	jwt := unsignedJWT(f, map[string]any{"scp": []any{"a"}, "b": map[string]any{"c": "d"}})
	docs := []map[string]any{
		{},
		{"a": "x", "b": []any{"y", "z"}, "access_token": jwt, "id_token": jwt},
		{"a": map[string]any{"a": []any{int64(1), 2.5, nil, true}}, "list": []any{map[string]any{"x": "v"}}},
	}
	f.Fuzz(func(t *testing.T, expr string) {
		m, err := jsonmap.Compile(map[string]string{"k": expr})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "response_map.k: ") {
				t.Fatalf("Compile error does not name the key: %q", err)
			}
			_, err2 := jsonmap.Compile(map[string]string{"k": expr})
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Compile is not deterministic: %q then %v", err, err2)
			}
			return
		}
		for _, doc := range docs {
			_, _ = m.Apply(doc)
		}
	})
}
