package jsonmap_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/authengine/authengine/jsonmap"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		want        map[string]any
	}{
		{
			name:        "a JSON object keeps integers as int64 and fractions as float64",
			body:        `{"access_token":"at","expires_in":3600,"ratio":0.5,"neg":-7,"exp":1e3}`,
			contentType: "application/json",
			want:        map[string]any{"access_token": "at", "expires_in": int64(3600), "ratio": 0.5, "neg": int64(-7), "exp": 1000.0},
		},
		{
			name:        "an integer beyond int64 stays a json.Number so no digit is lost",
			body:        `{"id":12345678901234567890,"huge":1e999}`,
			contentType: "application/json",
			want:        map[string]any{"id": json.Number("12345678901234567890"), "huge": json.Number("1e999")},
		},
		{
			name:        "numbers nested in objects and arrays are converted too",
			body:        `{"a":{"b":[1,{"c":2.5}]}}`,
			contentType: "application/json; charset=utf-8",
			want:        map[string]any{"a": map[string]any{"b": []any{int64(1), map[string]any{"c": 2.5}}}},
		},
		{
			name:        "an empty content type is read as JSON",
			body:        " \n{\"ok\":true}\n",
			contentType: "",
			want:        map[string]any{"ok": true},
		},
		{
			name:        "a vendor +json content type is read as JSON",
			body:        `{"ok":null}`,
			contentType: "application/vnd.api+json",
			want:        map[string]any{"ok": nil},
		},
		{
			name:        "a form body gives strings",
			body:        "access_token=gho_1&scope=repo%2Cuser&token_type=bearer",
			contentType: "application/x-www-form-urlencoded",
			want:        map[string]any{"access_token": "gho_1", "scope": "repo,user", "token_type": "bearer"},
		},
		{
			name:        "a repeated form key gives an array of strings in body order",
			body:        "scope=b&access_token=at&scope=a",
			contentType: "application/x-www-form-urlencoded; charset=utf-8",
			want:        map[string]any{"access_token": "at", "scope": []any{"b", "a"}},
		},
		{
			name:        "a form key with no value gives an empty string",
			body:        "access_token=at&refresh_token=",
			contentType: "application/x-www-form-urlencoded",
			want:        map[string]any{"access_token": "at", "refresh_token": ""},
		},
		{
			name:        "a text/plain body is read as a form as x/oauth2 does",
			body:        "access_token=at&expires_in=3600",
			contentType: "text/plain; charset=utf-8",
			want:        map[string]any{"access_token": "at", "expires_in": "3600"},
		},
		{
			name:        "a form body mislabelled as JSON is sniffed and read as a form",
			body:        "access_token=gho_1&scope=repo%2Cuser&token_type=bearer\n",
			contentType: "application/json",
			want:        map[string]any{"access_token": "gho_1", "scope": "repo,user", "token_type": "bearer"},
		},
		{
			name:        "a JSON body mislabelled as a form is read as JSON",
			body:        `{"access_token":"at","expires_in":60}`,
			contentType: "application/x-www-form-urlencoded",
			want:        map[string]any{"access_token": "at", "expires_in": int64(60)},
		},
		{
			name:        "a body nested exactly MaxDepth levels is accepted",
			body:        `{"a":` + strings.Repeat("[", jsonmap.MaxDepth-1) + strings.Repeat("]", jsonmap.MaxDepth-1) + `}`,
			contentType: "application/json",
			want:        map[string]any{"a": nest(jsonmap.MaxDepth - 1)},
		},
		{
			name:        "a malformed content type falls back to its media type",
			body:        `{"a":"b"}`,
			contentType: "application/json; charset",
			want:        map[string]any{"a": "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonmap.Parse([]byte(tt.body), tt.contentType)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse\n got: %#v\nwant: %#v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	tests := []struct {
		name        string
		body        string
		contentType string
		want        string
	}{
		{
			name: "an empty body is refused",
			body: " \n ", contentType: "application/json",
			want: "parse response body: body is empty",
		},
		{
			name: "a JSON array names what was found",
			body: `["` + secret + `"]`, contentType: "application/json",
			want: `parse response body as JSON (content type "application/json", 16 bytes): body is a JSON array, want an object`,
		},
		{
			name: "a JSON string names what was found without echoing it",
			body: `"` + secret + `"`, contentType: "application/json",
			want: `parse response body as JSON (content type "application/json", 14 bytes): body is a JSON string, want an object`,
		},
		{
			name: "a JSON number names what was found",
			body: `42`, contentType: "application/json",
			want: `parse response body as JSON (content type "application/json", 2 bytes): body is a JSON number, want an object`,
		},
		{
			name: "JSON null names what was found",
			body: `null`, contentType: "",
			want: `parse response body as JSON (content type "", 4 bytes): body is a JSON null, want an object`,
		},
		{
			name: "broken JSON gives the offset, not the offending character",
			body: `{"access_token":` + secret + `}`, contentType: "application/json",
			want: `parse response body as JSON (content type "application/json", 29 bytes): not valid JSON (syntax error at byte 17)`,
		},
		{
			name: "data after the JSON object is refused",
			body: `{"a":1} ` + secret, contentType: "application/json",
			want: `parse response body as JSON (content type "application/json", 20 bytes): not valid JSON (syntax error at byte 7)`,
		},
		{
			name: "truncated JSON is refused",
			body: `{"access_token":"` + secret, contentType: "application/json",
			want: `parse response body as JSON (content type "application/json", 29 bytes): not valid JSON: unexpected EOF`,
		},
		{
			name: "slow-input finding: a body nested deeper than MaxDepth is refused before any JSONPath walks it",
			body: `{"a":` + strings.Repeat("[", jsonmap.MaxDepth) + strings.Repeat("]", jsonmap.MaxDepth) + `}`, contentType: "application/json",
			want: `parse response body as JSON (content type "application/json", 134 bytes): body nests deeper than 64 levels`,
		},
		{
			name: "a body deeper than encoding/json allows is refused",
			body: strings.Repeat("[", 10001) + strings.Repeat("]", 10001), contentType: "application/json",
			want: `parse response body as JSON (content type "application/json", 20002 bytes): not valid JSON (syntax error at byte 10001)`,
		},
		{
			name: "an HTML error page is not mistaken for a form",
			body: "<html><body>token=" + secret + "</body></html>", contentType: "text/html",
			want: `parse response body as JSON (content type "text/html", 44 bytes): not valid JSON (syntax error at byte 1)`,
		},
		{
			name: "a bare token is not mistaken for a form",
			body: secret, contentType: "application/json",
			want: `parse response body as JSON (content type "application/json", 12 bytes): not valid JSON (syntax error at byte 1)`,
		},
		{
			name: "a form with a malformed escape does not quote it",
			body: "access_token=" + secret + "%zz", contentType: "application/x-www-form-urlencoded",
			want: "parse response body as a form (28 bytes): malformed form encoding",
		},
		{
			name: "a form body with only separators holds no pairs",
			body: "&&&", contentType: "application/x-www-form-urlencoded",
			want: "parse response body as a form (3 bytes): form holds no key=value pairs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := jsonmap.Parse([]byte(tt.body), tt.contentType)
			if err == nil {
				t.Fatalf("Parse succeeded with %#v, want error %q", doc, tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr") {
				t.Fatalf("error %q echoes the body", err)
			}
		})
	}
}

// nest returns n arrays nested in one another, innermost empty.
func nest(n int) any {
	v := []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}
