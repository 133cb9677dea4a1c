// Command seed connects users to a provider through one real authorization
// each (authorize, consent at the provider, callback, status), so that a
// load run of POST /v1/auth/authorize finds them connected. It prints the
// authorize request body for the first user, ready for loadgen -body.
//
//	seed -engine http://127.0.0.1:19099 -key KEY -provider standin -user bench-user
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/authengine/authengine/bench/apiclient"
)

func main() {
	var (
		base     = flag.String("engine", "http://127.0.0.1:19099", "engine origin")
		key      = flag.String("key", "", "API key (required)")
		provider = flag.String("provider", "standin", "provider id")
		user     = flag.String("user", "bench-user", "user id to connect")
		scopes   = flag.String("scopes", "read", "comma-separated scopes")
	)
	flag.Parse()
	if *key == "" {
		fmt.Fprintln(os.Stderr, "seed: -key is required")
		os.Exit(2)
	}
	c := &apiclient.Client{Base: *base, Key: *key, HTTP: &http.Client{Timeout: 30 * time.Second}}
	sc := strings.Split(*scopes, ",")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Connect(ctx, *user, *provider, sc); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
	again, err := c.Authorize(ctx, *user, *provider, sc)
	if err != nil || again.Status != "completed" || !again.HasToken() {
		fmt.Fprintf(os.Stderr, "seed: authorize after connecting: %v (status %q), want completed with a token\n", err, again.Status)
		os.Exit(1)
	}
	body, _ := json.Marshal(apiclient.AuthorizeBody(*user, *provider, sc))
	fmt.Println(string(body))
}
