package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
)

func TestOpenPicksTheClientForTheTopology(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // %T of the client
	}{
		{"a redis:// URL is a standalone client", Config{URL: "redis://127.0.0.1:6379/2"}, "*redis.Client"},
		{"a rediss:// URL is a standalone TLS client", Config{URL: "rediss://cache.example:6380/0"}, "*redis.Client"},
		{"one address is a standalone client", Config{Addrs: []string{"127.0.0.1:6379"}}, "*redis.Client"},
		{"addresses with a master name are a Sentinel client", Config{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster"}, "*redis.Client"},
		{"several addresses without a master name are a Cluster client", Config{Addrs: []string{"n1:6379", "n2:6379", "n3:6379"}}, "*redis.ClusterClient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.cfg, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if got := fmt.Sprintf("%T", s.client); got != tt.want {
				t.Fatalf("client is %s, want %s", got, tt.want)
			}
			if !s.ownsClient {
				t.Fatal("a Store from Open does not own its client")
			}
		})
	}
}

func TestConfigOptions(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		check func(t *testing.T, o *goredis.UniversalOptions)
	}{
		{"the URL's credentials and database are used", Config{URL: "redis://bob:pw@h:1/3"}, func(t *testing.T, o *goredis.UniversalOptions) {
			if o.Username != "bob" || o.Password != "pw" || o.DB != 3 || o.Addrs[0] != "h:1" || o.TLSConfig != nil {
				t.Fatalf("options = %+v", o)
			}
		}},
		{"explicit credentials and database override the URL's", Config{URL: "redis://bob:pw@h:1/3", Username: "amy", Password: "other", DB: 5}, func(t *testing.T, o *goredis.UniversalOptions) {
			if o.Username != "amy" || o.Password != "other" || o.DB != 5 {
				t.Fatalf("options = %+v", o)
			}
		}},
		{"tls turns on TLS 1.2 or later", Config{Addrs: []string{"h:1"}, TLS: true}, func(t *testing.T, o *goredis.UniversalOptions) {
			if o.TLSConfig == nil || o.TLSConfig.MinVersion < 0x0303 {
				t.Fatalf("TLSConfig = %+v", o.TLSConfig)
			}
		}},
		{"rediss:// turns on TLS 1.2 or later", Config{URL: "rediss://h:1"}, func(t *testing.T, o *goredis.UniversalOptions) {
			if o.TLSConfig == nil || o.TLSConfig.MinVersion < 0x0303 || o.TLSConfig.ServerName != "h" {
				t.Fatalf("TLSConfig = %+v", o.TLSConfig)
			}
		}},
		{"the recommended pool settings are applied", Config{Addrs: []string{"h:1"}}, func(t *testing.T, o *goredis.UniversalOptions) {
			if o.DialTimeout != DialTimeout || o.ReadTimeout != ReadTimeout || o.WriteTimeout != WriteTimeout ||
				o.PoolTimeout != PoolTimeout || o.MaxRetries != MaxRetries || o.MinIdleConns != MinIdleConns || !o.ContextTimeoutEnabled {
				t.Fatalf("options = %+v", o)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.cfg.universalOptions()
			if err != nil {
				t.Fatalf("universalOptions: %v", err)
			}
			tt.check(t, o)
		})
	}
}

func TestOpenRefusesBadConfigWithoutLeakingThePassword(t *testing.T) {
	const secret = "hunter2-s3cret"
	tests := []struct {
		name string
		cfg  Config
	}{
		{"neither url nor addrs", Config{}},
		{"both url and addrs", Config{URL: "redis://h:1", Addrs: []string{"h:1"}}},
		{"a master name with a url", Config{URL: "redis://:" + secret + "@h:1", MasterName: "m"}},
		{"an unknown scheme", Config{URL: "http://user:" + secret + "@h:1"}},
		{"an unparsable url", Config{URL: "redis://user:" + secret + "@h:port/0"}},
		{"a bad database in the url", Config{URL: "redis://user:" + secret + "@h:1/x"}},
		{"a key prefix with a hash tag", Config{URL: "redis://h:1", KeyPrefix: "app{1}:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is an error", func(t *testing.T) {
			_, err := Open(tt.cfg, Options{})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	const secret = "hunter2-s3cret"
	// Port 1 on loopback refuses connections.
	cfg := Config{URL: "redis://user:" + secret + "@127.0.0.1:1/0", Password: secret}
	s, err := Open(cfg, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = s.Ping(ctx)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping = %v, want ErrUnavailable", err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "redis", cfg)
	for what, text := range map[string]string{
		"the ping error": err.Error(), "String": cfg.String(), "the log line": logged.String(),
		"%+v": fmt.Sprintf("%+v", cfg), "Store.String": s.String(),
	} {
		if strings.Contains(text, secret) {
			t.Errorf("%s leaks the password: %s", what, text)
		}
	}
}

func TestOpenSettingsFailFastOnADeadServer(t *testing.T) {
	// Port 1 on loopback refuses connections.
	s, err := Open(Config{URL: "redis://127.0.0.1:1/0"}, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	begin := time.Now()
	_, err = s.GetConnection(t.Context(), "id")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("GetConnection = %v, want ErrUnavailable", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("a refused server took %v to report, want under 3s", d)
	}
	t.Logf("a refused server is reported after %v", time.Since(begin))
}

// replyError is a server reply, as go-redis reports it.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestErrorMapping(t *testing.T) {
	s := New(nil, Options{})
	tests := []struct {
		name            string
		err             error
		notFound, unavl bool
	}{
		{"a missing key is ErrNotFound", goredis.Nil, true, false},
		{"a refused connection is ErrUnavailable", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, false, true},
		{"an exhausted pool is ErrUnavailable", goredis.ErrPoolTimeout, false, true},
		{"a closed client is ErrUnavailable", goredis.ErrClosed, false, true},
		{"a server still loading its data is ErrUnavailable", replyError("LOADING Redis is loading the dataset in memory"), false, true},
		{"a cluster that is down is ErrUnavailable", replyError("CLUSTERDOWN The cluster is down"), false, true},
		{"a replica refusing writes after failover is ErrUnavailable", replyError("READONLY You can't write against a read only replica."), false, true},
		{"a server out of memory under noeviction is ErrUnavailable", replyError("OOM command not allowed when used memory > 'maxmemory'."), false, true},
		{"a server refusing writes after a failed RDB save is ErrUnavailable", replyError("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk."), false, true},
		{"a caller's deadline while waiting on Redis is ErrUnavailable", context.DeadlineExceeded, false, true},
		{"a caller's cancellation is neither", context.Canceled, false, false},
		{"a wrong-type reply is neither", replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.wrap("op", tt.err)
			if errors.Is(got, store.ErrNotFound) != tt.notFound || errors.Is(got, store.ErrUnavailable) != tt.unavl {
				t.Fatalf("wrap(%v) = %v", tt.err, got)
			}
			if !tt.notFound && !errors.Is(got, tt.err) {
				t.Fatalf("wrap(%v) = %v, which no longer wraps the cause", tt.err, got)
			}
		})
	}
	if s.wrap("op", nil) != nil {
		t.Fatal("wrap(nil) is not nil")
	}
}
