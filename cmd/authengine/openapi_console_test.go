package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// consoleCall sends a console request with the given cookies (and a form
// body when form is set) through the validating client.
func (r *openAPIRig) consoleCall(method, path string, cookies []*http.Cookie, form url.Values) (*http.Response, string) {
	r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, r.base+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// console walks the operator console: sign in, a page at each depth, add,
// edit, connect and delete a provider through its forms, sign out.
func (r *openAPIRig) console() {
	t := r.t
	openapi3filter.RegisterBodyDecoder("text/css", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
	want := func(resp *http.Response, code int, what, body string) {
		t.Helper()
		if resp.StatusCode != code {
			t.Fatalf("console: %s: HTTP %d, want %d: %.300s", what, resp.StatusCode, code, body)
		}
	}
	csrf := func(body string) string {
		t.Helper()
		m := consoleCSRF.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("console: no CSRF token in %.300s", body)
		}
		return m[1]
	}
	resp, body := r.consoleCall("GET", "/console", nil, nil)
	want(resp, 303, "the entry", body)
	resp, body = r.consoleCall("GET", "/console/", nil, nil)
	want(resp, 303, "the entry with a slash", body)
	resp, body = r.consoleCall("GET", "/console/sign-in", nil, nil)
	want(resp, 200, "the sign-in page", body)
	resp, body = r.consoleCall("POST", "/console/sign-in", resp.Cookies(), url.Values{"csrf": {csrf(body)}, "admin_key": {oasAdminKey}})
	want(resp, 303, "sign in", body)
	session := resp.Cookies()
	resp, body = r.consoleCall("GET", "/oauth/popup.js", nil, nil)
	want(resp, 200, "the callback page's script", body)
	resp, body = r.consoleCall("GET", "/console/static/console.css", nil, nil)
	want(resp, 200, "the stylesheet", body)
	resp, body = r.consoleCall("GET", "/console/providers/new?template=github", session, nil)
	want(resp, 200, "the Add provider form", body)
	token := csrf(body)
	form := url.Values{"csrf": {token}, "id": {"console-acme"}, "client_id": {"acme-client"}, "client_secret": {"acme-console-secret-0123"},
		"oauth2.grant_type": {"authorization_code"}, "oauth2.authorize_request.endpoint": {r.idp.AuthorizeEndpoint()},
		"oauth2.token_request.endpoint": {r.idp.TokenEndpoint()}, "oauth2.default_scopes": {"read"}, "oauth2.pkce.enabled": {"on"}}
	resp, body = r.consoleCall("POST", "/console/providers", session, form)
	want(resp, 303, "add a provider", body)
	resp, body = r.consoleCall("GET", "/console/providers/console-acme/edit", session, nil)
	want(resp, 200, "the edit form", body)
	form.Del("id")
	form.Set("client_secret", "")
	resp, body = r.consoleCall("POST", "/console/providers/console-acme", session, form)
	want(resp, 303, "save with a blank secret", strings.Join(regexp.MustCompile(`field-error[^>]*>[^<]*`).FindAllString(body, -1), "; "))
	resp, body = r.consoleCall("POST", "/console/integrations/console-acme/connect", session, url.Values{"csrf": {token}, "user_id": {"console-user"}})
	want(resp, 200, "start Connect with OAuth", body)
	resp, body = r.consoleCall("POST", "/console/providers/console-acme/delete", session, url.Values{"csrf": {token}})
	want(resp, 303, "delete the provider", body)
	resp, body = r.consoleCall("POST", "/console/sign-out", session, url.Values{"csrf": {token}})
	want(resp, 303, "sign out", body)
}
