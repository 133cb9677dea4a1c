package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Config says where Redis is. It mirrors config.RedisStore field for
// field (cmd translates; this package does not import config). Either URL
// (redis:// or rediss://), or Addrs: with MasterName for Sentinel, several
// Addrs without it for Cluster, one for a standalone server.
type Config struct {
	URL        string
	Addrs      []string
	MasterName string
	// Username and Password override the URL's user info when set.
	Username string
	Password string
	// DB overrides the URL's database when not 0. Cluster has only DB 0.
	DB int
	// TLS turns on TLS (1.2 or later; rediss:// does too).
	TLS bool
	// KeyPrefix starts every key; DefaultKeyPrefix when empty.
	KeyPrefix string
}

// Connection-pool settings Open uses. They fail fast when Redis is down (a
// request errors within about DialTimeout + ReadTimeout rather than
// hanging) while riding out a failover with a few quick retries.
const (
	// PoolSize is go-redis's default per node: 10 per GOMAXPROCS; Open
	// keeps it (0). Every engine request needs at most a few round trips
	// and no blocking commands, so 10/CPU is ample.
	PoolSize = 0
	// MinIdleConns keeps warm connections for bursts after idle periods.
	MinIdleConns = 2
	// DialTimeout bounds a new connection, TLS handshake included.
	DialTimeout = 2 * time.Second
	// ReadTimeout and WriteTimeout bound one command; nothing here blocks
	// server-side, so a slower reply means a sick server.
	ReadTimeout  = time.Second
	WriteTimeout = time.Second
	// PoolTimeout bounds the wait for a free pooled connection.
	PoolTimeout = 2 * time.Second
	// ConnMaxIdleTime closes connections idle this long (NAT/LB timeouts).
	ConnMaxIdleTime = 5 * time.Minute
	// DialerRetries: dial attempts per connection (100ms apart); go-redis's
	// default of 5 makes every call to a dead server wait half a second.
	DialerRetries = 2
	// MaxRetries of a failed read-only or idempotent command.
	MaxRetries      = 2
	MinRetryBackoff = 8 * time.Millisecond
	MaxRetryBackoff = 256 * time.Millisecond
)

// LogValue shows the configuration without the password or the URL's user
// info.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(c.URL)),
		slog.Any("addrs", c.Addrs),
		slog.String("master_name", c.MasterName),
		slog.String("username", c.Username),
		slog.Bool("password_set", c.Password != ""),
		slog.Int("db", c.DB),
		slog.Bool("tls", c.TLS),
		slog.String("key_prefix", c.KeyPrefix),
	)
}

// String is the redacted form of LogValue.
func (c Config) String() string {
	return fmt.Sprintf("redis(url=%q addrs=%v master_name=%q db=%d tls=%t key_prefix=%q)",
		redactURL(c.URL), c.Addrs, c.MasterName, c.DB, c.TLS, c.KeyPrefix)
}

// redactURL drops a URL's password (go-redis takes it from there).
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Open connects to the Redis that cfg describes, with the pool settings
// above, and returns a Store that owns the client (Close closes it). Open
// does no I/O: call Ping to check the server. opts.KeyPrefix is replaced by
// cfg.KeyPrefix when that is set. Errors never contain the password.
func Open(cfg Config, opts Options) (*Store, error) {
	uo, err := cfg.universalOptions()
	if err != nil {
		return nil, err
	}
	if cfg.KeyPrefix != "" {
		opts.KeyPrefix = cfg.KeyPrefix
	}
	if strings.ContainsAny(opts.KeyPrefix, "{}") {
		return nil, fmt.Errorf("redis store: key prefix %q must not contain '{' or '}' (hash tags)", opts.KeyPrefix)
	}
	client := goredis.NewUniversalClient(uo)
	if cc, ok := client.(*goredis.ClusterClient); ok {
		cc.AddHook(reloadOnFailure{cc})
	}
	s := New(client, opts)
	s.ownsClient = true
	return s, nil
}

func (c Config) universalOptions() (*goredis.UniversalOptions, error) {
	uo := &goredis.UniversalOptions{
		PoolSize:              PoolSize,
		MinIdleConns:          MinIdleConns,
		DialTimeout:           DialTimeout,
		ReadTimeout:           ReadTimeout,
		WriteTimeout:          WriteTimeout,
		PoolTimeout:           PoolTimeout,
		ConnMaxIdleTime:       ConnMaxIdleTime,
		MaxRetries:            MaxRetries,
		DialerRetries:         DialerRetries,
		MinRetryBackoff:       MinRetryBackoff,
		MaxRetryBackoff:       MaxRetryBackoff,
		ContextTimeoutEnabled: true,
		MasterName:            c.MasterName,
		ClientName:            "authengine",
	}
	switch {
	case c.URL != "" && len(c.Addrs) > 0:
		return nil, errors.New("redis store: set either url or addrs, not both")
	case c.URL != "":
		o, err := goredis.ParseURL(c.URL)
		if err != nil {
			return nil, fmt.Errorf("redis store: bad url %s: %w", redactURL(c.URL), scrubURLError(err))
		}
		uo.Addrs = []string{o.Addr}
		uo.Username, uo.Password, uo.DB, uo.TLSConfig = o.Username, o.Password, o.DB, o.TLSConfig
		if c.MasterName != "" {
			return nil, errors.New("redis store: master_name needs addrs (the Sentinels), not url")
		}
	case len(c.Addrs) > 0:
		uo.Addrs = c.Addrs
	default:
		return nil, errors.New("redis store: set url, or addrs (with master_name for Sentinel)")
	}
	if c.Username != "" {
		uo.Username = c.Username
	}
	if c.Password != "" {
		uo.Password = c.Password
	}
	if c.DB != 0 {
		uo.DB = c.DB
	}
	if c.TLS && uo.TLSConfig == nil {
		uo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if uo.TLSConfig != nil && uo.TLSConfig.MinVersion < tls.VersionTLS12 {
		uo.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return uo, nil
}

// scrubURLError keeps the reason of a URL parse error but not the URL,
// which may hold the password.
func scrubURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}
