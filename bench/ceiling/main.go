// Command ceiling is the yardstick for the engine's completed-authorize
// path: the least an HTTP service on the same stack can do per request.
// It serves POST /v1/auth/authorize with echo, checks the API key the way
// the engine does (the Authorization header's bearer token, hashed with
// SHA-256 and compared in constant time), decodes the same JSON body,
// does ONE store read of a copy of the engine's connection record and
// answers a small JSON document with a token-sized string taken from the
// record. No unsealing, no provider lookup, no scope checks. The ratio of
// the engine's throughput to this one's says how much of the budget the
// engine's own work takes.
//
// The store is Redis (-redis: one GET of -key-name, with the pool settings
// of engine/store/redis) or bbolt (-bolt: one read-only transaction and one
// Get of the record, which it copies out of the transaction as the engine
// does). For bbolt, -record-from names a copy of the engine's database
// file: the first record of its connections bucket is copied into the
// ceiling's own file at start.
//
//	ceiling -addr 127.0.0.1:19198 -redis redis://127.0.0.1:6379/0 -key-name bench-x:ceiling -api-key KEY
//	ceiling -addr 127.0.0.1:19098 -bolt /tmp/ceiling.db -record-from /tmp/engine-copy.db -api-key KEY
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	goredis "github.com/redis/go-redis/v9"
	"go.etcd.io/bbolt"
)

// errNotFound is a store read that found no record.
var errNotFound = errors.New("no record")

func main() {
	var (
		addr       = flag.String("addr", "127.0.0.1:19198", "listen address")
		redisURL   = flag.String("redis", "", "Redis URL (the Redis ceiling)")
		keyName    = flag.String("key-name", "", "with -redis: the Redis key every request reads")
		boltPath   = flag.String("bolt", "", "bbolt file of the ceiling's own (the embedded-store ceiling); created")
		recordFrom = flag.String("record-from", "", "with -bolt: a copy of the engine's database file to take the connection record from")
		apiKey     = flag.String("api-key", "", "API key requests must carry (required)")
	)
	flag.Parse()
	if *apiKey == "" || (*redisURL == "") == (*boltPath == "") {
		fail(2, "one of -redis or -bolt, and -api-key, are required")
	}
	var read func(context.Context) ([]byte, error)
	var err error
	if *redisURL != "" {
		read, err = redisReader(*redisURL, *keyName)
	} else {
		read, err = boltReader(*boltPath, *recordFrom)
	}
	if err != nil {
		fail(1, err.Error())
	}
	srv := &http.Server{Addr: *addr, Handler: handler(*apiKey, read), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("ceiling listening on http://%s\n", *addr)
	if err := srv.ListenAndServe(); err != nil {
		fail(1, err.Error())
	}
}

func fail(code int, msg string) {
	fmt.Fprintln(os.Stderr, "ceiling:", msg)
	os.Exit(code)
}

// handler is the echo server answering POST /v1/auth/authorize with one
// read.
func handler(apiKey string, read func(context.Context) ([]byte, error)) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	want := sha256.Sum256([]byte(apiKey))
	e.POST("/v1/auth/authorize", func(c echo.Context) error {
		token := strings.TrimSpace(c.Request().Header.Get(echo.HeaderAuthorization))
		if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
			token = strings.TrimSpace(token[7:])
		}
		got := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
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
		dec := json.NewDecoder(c.Request().Body)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			return c.JSON(http.StatusBadRequest, map[string]string{"name": "invalid_json"})
		}
		v, err := read(c.Request().Context())
		if errors.Is(err, errNotFound) {
			return c.JSON(http.StatusNotFound, map[string]string{"name": "not_found"})
		}
		if err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"name": "store_unavailable"})
		}
		// A token-sized answer (40 hex digits) that depends on the record.
		return c.JSON(http.StatusOK, map[string]any{
			"id": "ceiling", "status": "completed", "scopes": []string{"read"},
			"provider_id": body.AuthRequirement.ProviderID, "user_id": body.UserID,
			"context": map[string]any{"token": hex.EncodeToString(v[:min(len(v), 20)])},
		})
	})
	return e
}

// redisReader reads key at url with the pool settings engine/store/redis
// uses.
func redisReader(url, key string) (func(context.Context) ([]byte, error), error) {
	if key == "" {
		return nil, errors.New("-key-name is required with -redis")
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("bad -redis URL: %w", err)
	}
	opts.MinIdleConns = 2
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = 2*time.Second, time.Second, time.Second, 2*time.Second
	rdb := goredis.NewClient(opts)
	return func(ctx context.Context) ([]byte, error) {
		v, err := rdb.Get(ctx, key).Bytes()
		if errors.Is(err, goredis.Nil) {
			return nil, errNotFound
		}
		return v, err
	}, nil
}

var (
	bucketConnections = []byte("connections")
	bucketCeiling     = []byte("ceiling")
	recordKey         = []byte("record")
)

// boltReader creates the bbolt file path, copies into it the first
// connection record of the engine database copy from, and reads it back
// per request.
func boltReader(path, from string) (func(context.Context) ([]byte, error), error) {
	if from == "" {
		return nil, errors.New("-record-from is required with -bolt")
	}
	src, err := bbolt.Open(from, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", from, err)
	}
	var record []byte
	err = src.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketConnections)
		if b == nil {
			return fmt.Errorf("%s has no bucket %s", from, bucketConnections)
		}
		_, v := b.Cursor().First()
		if v == nil {
			return fmt.Errorf("%s holds no connection record", from)
		}
		record = bytes.Clone(v)
		return nil
	})
	_ = src.Close()
	if err != nil {
		return nil, err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketCeiling)
		if err != nil {
			return err
		}
		return b.Put(recordKey, record)
	})
	if err != nil {
		return nil, fmt.Errorf("write the record into %s: %w", path, err)
	}
	fmt.Printf("ceiling: one bbolt read of a copy of the %d-byte connection record\n", len(record))
	return func(ctx context.Context) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var v []byte
		err := db.View(func(tx *bbolt.Tx) error {
			got := tx.Bucket(bucketCeiling).Get(recordKey)
			if got == nil {
				return errNotFound
			}
			v = bytes.Clone(got)
			return nil
		})
		return v, err
	}, nil
}
