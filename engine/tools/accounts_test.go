package tools_test

import (
	"net/http"
	"testing"
)

// TestToolRunsWithTheAccountTheCallerNames: a user with two accounts at
// one provider; each execute naming an account runs with that account's
// token, and an account not connected yet asks for its own authorization.
func TestToolRunsWithTheAccountTheCallerNames(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tokens := map[string]string{}
	for _, account := range []string{"work", "home"} {
		call := executeBody("ada", "Hooli.WhoAmI", nil)
		call["account"] = account
		code, out := h.execute(call)
		if code != http.StatusForbidden || out.Authorization == nil || out.Authorization.URL == "" {
			t.Fatalf("account %q before connecting: HTTP %d %+v; want 403 with its own pending authorization", account, code, out.Authorization)
		}
		h.connect(out.Authorization.URL)
		if code, out = h.execute(call); code != http.StatusOK || !out.Success {
			t.Fatalf("account %q after connecting: HTTP %d %+v", account, code, out.Output.Error)
		}
		tokens[account] = h.rec.last(t).Token
	}
	if tokens["work"] == "" || tokens["work"] == tokens["home"] {
		t.Fatalf("the two accounts ran with tokens %q and %q; want two different tokens", tokens["work"], tokens["home"])
	}
	call := executeBody("ada", "Hooli.WhoAmI", nil)
	call["account"] = "work"
	if code, _ := h.execute(call); code != http.StatusOK || h.rec.last(t).Token != tokens["work"] {
		t.Fatalf("account work again: HTTP %d, or another account's token", code)
	}
	if code, _ := h.execute(executeBody("ada", "Hooli.WhoAmI", nil)); code != http.StatusForbidden {
		t.Fatalf("the default account (never connected): HTTP %d; want 403", code)
	}
}
