// Command ceiling is the yardstick for the engine's completed-authorize
// path on Redis: the least an HTTP service on the same stack can do per
// request. It serves POST /v1/auth/authorize with echo, checks the API key,
// decodes the same JSON body, does ONE Redis GET (the engine does a GET of
// the connection record on this path) and answers a small JSON document.
// No sealing, no provider lookup, no scope checks. The ratio of the engine's
// throughput to this one's says how much of the budget the engine's own
// work takes.
//
//	ceiling -addr 127.0.0.1:19198 -redis redis://127.0.0.1:6379/0 -key-name bench-x:ceiling -api-key KEY
package main

import (
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	goredis "github.com/redis/go-redis/v9"
)

func main() {
	var (
		addr    = flag.String("addr", "127.0.0.1:19198", "listen address")
		url     = flag.String("redis", "redis://127.0.0.1:6379/0", "Redis URL")
		keyName = flag.String("key-name", "", "the Redis key every request reads (required; the script sets it)")
		apiKey  = flag.String("api-key", "", "API key requests must carry (required)")
	)
	flag.Parse()
	if *keyName == "" || *apiKey == "" {
		fmt.Fprintln(os.Stderr, "ceiling: -key-name and -api-key are required")
		os.Exit(2)
	}
	opts, err := goredis.ParseURL(*url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling: bad -redis URL:", err)
		os.Exit(2)
	}
	// The pool settings engine/store/redis uses.
	opts.MinIdleConns = 2
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = 2*time.Second, time.Second, time.Second, 2*time.Second
	rdb := goredis.NewClient(opts)
	defer rdb.Close()

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	want := []byte("Bearer " + *apiKey)
	e.POST("/v1/auth/authorize", func(c echo.Context) error {
		if subtle.ConstantTimeCompare([]byte(c.Request().Header.Get(echo.HeaderAuthorization)), want) != 1 {
			return c.JSON(http.StatusUnauthorized, map[string]string{"name": "unauthorized"})
		}
		var body struct {
			UserID          string `json:"user_id"`
			AuthRequirement struct {
				ProviderID string `json:"provider_id"`
				OAuth2     *struct {
					Scopes []string `json:"scopes"`
				} `json:"oauth2"`
			} `json:"auth_requirement"`
		}
		if err := c.Bind(&body); err != nil {
			return err
		}
		v, err := rdb.Get(c.Request().Context(), *keyName).Result()
		if errors.Is(err, goredis.Nil) {
			return c.JSON(http.StatusNotFound, map[string]string{"name": "not_found"})
		}
		if err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"name": "store_unavailable"})
		}
		return c.JSON(http.StatusOK, map[string]any{
			"id": "ceiling", "status": "completed", "scopes": []string{"read"},
			"provider_id": body.AuthRequirement.ProviderID, "user_id": body.UserID,
			"context": map[string]any{"token": strings.TrimSpace(v)},
		})
	})
	srv := &http.Server{Addr: *addr, Handler: e, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("ceiling listening on http://%s\n", *addr)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}
