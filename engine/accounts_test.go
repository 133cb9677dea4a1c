package engine

import (
	"context"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

func TestTwoAccountsOfOneUserAtOneProviderEachHoldTheirOwnToken(t *testing.T) {
	for name, open := range map[string]func(*testing.T, func() time.Time) store.Store{"bolt": nil, "redis": redisStore} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, rigOptions{store: open})
			ctx := context.Background()
			ask := func(account string) Authorization {
				t.Helper()
				a, err := r.eng.Authorize(ctx, AuthorizeRequest{UserID: "ada", ProviderID: "hooli", Account: account})
				if err != nil {
					t.Fatalf("authorize account %q: %v", account, err)
				}
				return a
			}
			tokens := map[string]string{}
			for _, account := range []string{"work", "home"} {
				start := ask(account)
				if start.Status != StatusPending || start.Account != account {
					t.Fatalf("account %q: %+v; want pending for that account (another account's token must not answer)", account, start)
				}
				if res := r.consent(start); res.Status != store.FlowCompleted {
					t.Fatalf("account %q: callback %+v", account, res)
				}
				done := ask(account)
				mustComplete(t, "account "+account, done, nil)
				if done.Account != account {
					t.Errorf("completed authorization names account %q, want %q", done.Account, account)
				}
				tokens[account] = done.Token
			}
			if tokens["work"] == tokens["home"] {
				t.Fatal("two accounts share one token")
			}
			for account, tok := range tokens {
				if got := ask(account); got.Token != tok {
					t.Errorf("account %q answered another token", account)
				}
			}
			if def := ask(""); def.Status != StatusPending {
				t.Errorf("the default account: %+v; want pending (it is not connected)", def)
			}
			list, total, err := r.eng.ListConnections(ctx, ConnectionQuery{UserID: "ada", ProviderID: "hooli"}, 0, 10)
			if err != nil || total != 2 {
				t.Fatalf("ListConnections = %d, %v; want the two accounts", total, err)
			}
			seen := map[string]bool{}
			for _, c := range list {
				seen[c.Account] = true
				if c.ID != store.AccountConnectionID("hooli", "ada", c.Account) {
					t.Errorf("connection %s of account %q has another account's id", c.ID, c.Account)
				}
			}
			if !seen["work"] || !seen["home"] {
				t.Errorf("listed accounts %v, want work and home", seen)
			}
			if only, _, err := r.eng.ListConnections(ctx, ConnectionQuery{UserID: "ada", Account: "work"}, 0, 10); err != nil || len(only) != 1 || only[0].Account != "work" {
				t.Errorf("ListConnections(account work) = %+v, %v; want only work", only, err)
			}
		})
	}
}

func TestAccountLabelsAreChecked(t *testing.T) {
	r := newRig(t, rigOptions{})
	for _, bad := range []string{" work", "work\n", string(make([]byte, MaxAccountLength+1))} {
		if _, err := r.eng.Authorize(context.Background(), AuthorizeRequest{UserID: "ada", ProviderID: "hooli", Account: bad}); err == nil {
			t.Errorf("account %q was accepted", bad)
		}
	}
}
