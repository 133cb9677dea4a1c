package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/internal/providertest"
)

// TestConcurrentProviderPatchesBothLand: an admin write that stalls
// between reading a runtime provider and writing it back must not undo a
// write that landed meanwhile. The stalled patch loses its
// compare-and-swap and is applied again to what the other write left, so
// both changes are kept.
func TestConcurrentProviderPatchesBothLand(t *testing.T) {
	r := newRig(t, rigOptions{})
	idp := providertest.New(t, providertest.Options{RedirectURI: redirect})
	c := idp.Config("acme")
	o := c.OAuth2
	req := func(endpoint string) map[string]any {
		return map[string]any{"endpoint": endpoint, "method": "POST", "auth_method": "client_secret_basic"}
	}
	params := map[string]any{}
	for k, v := range o.AuthorizeRequest.Params {
		params[k] = v
	}
	doc := map[string]any{
		"id": "acme", "description": "before", "client_id": c.ClientID, "client_secret": c.ClientSecret,
		"oauth2": map[string]any{
			"authorize_request": map[string]any{"endpoint": o.AuthorizeRequest.Endpoint, "params": params},
			"token_request":     req(o.TokenRequest.Endpoint),
			"refresh_request":   req(o.RefreshTokenRequest.Endpoint),
		},
	}
	if _, err := r.eng.CreateProvider(context.Background(), doc); err != nil {
		t.Fatalf("CreateProvider: %v", err)
	}

	// The first patch stalls before its write until the second has landed.
	stalled, resume := make(chan struct{}), make(chan struct{})
	var first sync.Once
	hook := func() {
		stall := false
		first.Do(func() { stall = true })
		if stall {
			close(stalled)
			<-resume
		}
	}
	r.st.beforeUpdateProvider.Store(&hook)
	done := make(chan error, 1)
	go func() {
		_, err := r.eng.PatchProvider(context.Background(), "acme", map[string]any{"description": "changed by the first writer"})
		done <- err
	}()
	<-stalled
	if _, err := r.eng.PatchProvider(context.Background(), "acme", map[string]any{"client_id": "second-writer-client"}); err != nil {
		t.Fatalf("second patch: %v", err)
	}
	close(resume)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("first patch: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled patch did not finish")
	}
	rec, err := r.st.GetProvider(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := r.eng.openProvider(rec)
	if err != nil {
		t.Fatal(err)
	}
	if stored["description"] != "changed by the first writer" {
		t.Errorf("description = %v: the first writer's change was lost", stored["description"])
	}
	if stored["client_id"] != "second-writer-client" {
		t.Errorf("client_id = %v: the second writer's change was lost (stalled write-back)", stored["client_id"])
	}
}
