package jsonmap_test

import (
	"strings"
	"testing"

	"github.com/authengine/authengine/jsonmap"
)

// benchTokenBody is a realistic ~1 KB token response: the token under data,
// array scopes, and provider metadata the map ignores.
var benchTokenBody = []byte(`{
  "status": "ok",
  "request_id": "req_01HZY3M7K9Q2W8E5R4T6Y1U0IP",
  "data": {
    "access_token": "hooli_at_3f9c1b7e2d4a6f8091c3e5b7d9f1a2c4e6b8d0f2a4c6e8b0d2f4a6c8e0b2d4f6",
    "refresh_token": "hooli_rt_8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6c8e",
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": ["openid", "email", "profile", "calendar.read", "calendar.write", "contacts.read", "offline_access"],
    "id_token_hint": null
  },
  "user": {
    "id": 4815162342,
    "login": "richard.hendricks",
    "name": "Richard Hendricks",
    "email": "richard@piedpiper.example",
    "verified": true,
    "locale": "en-US",
    "avatar_url": "https://avatars.hooli.example/u/4815162342?v=4&s=460",
    "created_at": "2014-04-06T17:30:00Z",
    "plan": {"name": "pro", "seats": 12, "storage_gb": 512.5}
  },
  "organization": {"id": 1001, "slug": "pied-piper", "members": 9, "region": "us-west-2"},
  "rate_limit": {"limit": 5000, "remaining": 4999, "reset": 1767225600},
  "links": [
    {"rel": "self", "href": "https://api.hooli.example/v2/oauth/token"},
    {"rel": "docs", "href": "https://developer.hooli.example/docs/oauth"}
  ],
  "padding": "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."
}`)

// BenchmarkResponseMapApply measures the request path of a token exchange:
// Parse a ~1 KB JSON body, then Apply a 5-key map with one join().
func BenchmarkResponseMapApply(b *testing.B) {
	m := mustCompile(b, map[string]string{
		"access_token":  "$.data.access_token",
		"refresh_token": "$.data.refresh_token",
		"expires_in":    "$.data.expires_in",
		"scope":         "join('$.data.scope', ' ')",
		"user_id":       "$.user.id",
	})
	b.SetBytes(int64(len(benchTokenBody)))
	b.ReportAllocs()
	for b.Loop() {
		doc, err := jsonmap.Parse(benchTokenBody, "application/json")
		if err != nil {
			b.Fatal(err)
		}
		out, err := m.Apply(doc)
		if err != nil {
			b.Fatal(err)
		}
		if len(out) != 5 {
			b.Fatalf("got %d keys, want 5", len(out))
		}
	}
}

// BenchmarkParseForm measures a GitHub-style form token response.
func BenchmarkParseForm(b *testing.B) {
	body := []byte("access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&expires_in=28800" +
		"&refresh_token=ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498" +
		"&refresh_token_expires_in=15811200&scope=repo%2Cuser%2Cread%3Aorg&token_type=bearer")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		doc, err := jsonmap.Parse(body, "application/x-www-form-urlencoded")
		if err != nil {
			b.Fatal(err)
		}
		if len(doc) != 6 {
			b.Fatalf("got %d keys, want 6", len(doc))
		}
	}
}

// BenchmarkCompile measures load-time compilation of a typical token map.
func BenchmarkCompile(b *testing.B) {
	m := map[string]string{
		"access_token":  "$.data.access_token",
		"refresh_token": "$.data.refresh_token",
		"expires_in":    "$.data.expires_in",
		"scope":         "join(jwt_decode('$.data.access_token', '$.scp'), ' ')",
		"user_id":       "$['user']['id']",
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jsonmap.Compile(m); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchmarkBodyIsAboutOneKilobyte(t *testing.T) {
	if n := len(benchTokenBody); n < 900 || n > 1300 {
		t.Fatalf("benchmark body is %d bytes, want about 1 KB", n)
	}
	if !strings.Contains(string(benchTokenBody), `"scope": [`) {
		t.Fatal("benchmark body lost its array scope")
	}
}
