package providertest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func revokeCall(t *testing.T, p *Provider, form url.Values, auth [2]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.RevocationEndpoint(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth[0] != "" {
		req.SetBasicAuth(url.QueryEscape(auth[0]), url.QueryEscape(auth[1]))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRevocationEndpoint(t *testing.T) {
	t.Run("it revokes the grant of a refresh token for an authenticated client", func(t *testing.T) {
		p := New(t, Options{RedirectURI: redirect, RotateRefreshTokens: true})
		_, doc := post(t, p, tokenCall{form: exchangeForm(code(t, p, nil), ""), basic: basic()})
		rt, at := doc["refresh_token"].(string), doc["access_token"].(string)
		if code := revokeCall(t, p, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}, basic()); code != 200 {
			t.Fatalf("revoke: HTTP %d", code)
		}
		if p.ValidRefreshToken(rt) || p.ValidAccessToken(at) {
			t.Error("tokens of the revoked grant are still valid")
		}
		if p.Counts().Revocations != 1 {
			t.Errorf("Revocations = %d, want 1", p.Counts().Revocations)
		}
		if code := revokeCall(t, p, url.Values{"token": {"never-issued"}}, basic()); code != 200 || p.Counts().Revocations != 1 {
			t.Errorf("unknown token: HTTP %d, revocations %d; want 200 (RFC 7009 2.2) and no revocation", code, p.Counts().Revocations)
		}
	})
	for _, tc := range []struct {
		name   string
		form   url.Values
		auth   [2]string
		status int
	}{
		{"no client authentication", url.Values{"token": {"x"}}, [2]string{}, 401},
		{"a wrong client secret", url.Values{"token": {"x"}}, [2]string{DefaultClientID, "wrong"}, 401},
		{"no token", url.Values{"token_type_hint": {"refresh_token"}}, basic(), 400},
		{"an unknown token type hint", url.Values{"token": {"x"}, "token_type_hint": {"id_token"}}, basic(), 400},
	} {
		t.Run("it refuses "+tc.name+" and reports it", func(t *testing.T) {
			rec := &recorder{TB: t}
			p := New(rec, Options{RedirectURI: redirect})
			if code := revokeCall(t, p, tc.form, tc.auth); code != tc.status {
				t.Errorf("HTTP %d, want %d", code, tc.status)
			}
			if rec.errors() == 0 {
				t.Error("no violation reported")
			}
		})
	}
}
