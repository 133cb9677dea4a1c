package jsonmap_test

import (
	"fmt"

	"github.com/authengine/authengine/jsonmap"
)

// A token response with the token under data and scopes as an array, read
// with a response_map compiled once at load time.
func Example() {
	m, err := jsonmap.Compile(map[string]string{
		"access_token": "$.data.access_token",
		"expires_in":   "$.data.expires_in",
		"scope":        "join('$.data.scope', ' ')",
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	body := []byte(`{"data":{"access_token":"at-1","expires_in":"3600","scope":["read","write"]}}`)
	doc, err := jsonmap.Parse(body, "application/json")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := m.Apply(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	secs, ok, err := jsonmap.ExpiresIn(out["expires_in"])
	fmt.Println(secs, ok, err)
	fmt.Println(jsonmap.Scopes(out["scope"], " "))
	// Output:
	// 3600 true <nil>
	// [read write]
}

// A required access_token that the map does not find is an error naming the
// key and the path, never an empty token.
func ExampleResponseMap_Apply_missingAccessToken() {
	m, _ := jsonmap.Compile(map[string]string{"access_token": "$.data.access_token"})
	doc, _ := jsonmap.Parse([]byte(`{"error":"invalid_grant"}`), "application/json")
	_, err := m.Apply(doc)
	fmt.Println(err)
	// Output: response_map.access_token: $.data.access_token matched nothing
}

// Compile reports every bad key at once.
func ExampleCompile_errors() {
	_, err := jsonmap.Compile(map[string]string{
		"scope":      "join('$.scope')",
		"expires_in": "$.data.",
	})
	fmt.Println(err)
	// Output:
	// response_map.expires_in: bad JSONPath "$.data.": 1:8 - 1:8 unexpected EOF while scanning JSON select expected Ident, "." or "*"
	// response_map.scope: join() expects 2 arguments, got 1
}
