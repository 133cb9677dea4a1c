package config

import (
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Default values, documented in docs/configuration.md.
const (
	DefaultDataDir         = "./data"
	DefaultHost            = "127.0.0.1"
	DefaultPort            = 9099
	DefaultMaxBodyBytes    = 1 << 20
	DefaultStoreType       = StoreEmbedded
	DefaultKeyPrefix       = "authengine:"
	DefaultFlowTTL         = 10 * time.Minute
	DefaultRefreshMargin   = 60 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultWorkerTimeout   = 30 * time.Second
	DefaultWorkerRetry     = 3
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "json"
	DefaultMetricsPath     = "/metrics"
	DefaultScopeDelimiter  = " "
	DefaultAuditRetention  = 90 * 24 * time.Hour
	DefaultGCHeapFloor     = 32 << 20
)

// Enumerated values.
const (
	StoreEmbedded = "embedded"
	StoreRedis    = "redis"

	ProviderTypeOAuth2 = "oauth2"
	ProviderTypeMCP    = "mcp"

	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"

	PKCEMethodS256 = "S256"

	UserInfoFromRequest = "user_info_request"
	UserInfoFromIDToken = "id_token"

	AuthNone              = "none"
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthBearerAccessToken = "bearer_access_token"

	ContentTypeForm = "application/x-www-form-urlencoded"
	ContentTypeJSON = "application/json"
)

// Default returns a Config holding every static default: the starting
// point Load decodes engine.yaml onto, and the base for configurations built
// in code. Defaults that depend on other fields (api.public_url,
// store.embedded.path, per-request defaults) are filled in by Load.
func Default() *Config {
	enabled := true
	return &Config{
		DataDir: DefaultDataDir,
		Runtime: Runtime{GCHeapFloorBytes: DefaultGCHeapFloor},
		API: API{
			Host:            DefaultHost,
			Port:            DefaultPort,
			MaxBodyBytes:    DefaultMaxBodyBytes,
			ShutdownTimeout: DefaultShutdownTimeout,
			RateLimits: RateLimits{
				APIKey:         Rate{PerSecond: 1000, Burst: 2000},
				Callback:       Rate{PerSecond: 5, Burst: 30},
				FlowsPerUser:   30,
				FlowsPerAPIKey: 20_000,
			},
		},
		Store: Store{
			Type:  DefaultStoreType,
			Redis: RedisStore{KeyPrefix: DefaultKeyPrefix},
		},
		Auth: Auth{
			FlowTTL:       DefaultFlowTTL,
			RefreshMargin: DefaultRefreshMargin,
		},
		Telemetry: Telemetry{
			Log:     Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
			Metrics: Metrics{Enabled: &enabled, Path: DefaultMetricsPath},
		},
		Audit: Audit{Retention: DefaultAuditRetention},
	}
}

// preset fills the defaults of a struct the decoder is about to create
// (a list element or an optional block), before the file's values are
// decoded onto it, so that an explicit zero in the file stays visible to
// validation.
func preset(path string, v reflect.Value) {
	switch p := v.Addr().Interface().(type) {
	case *Provider:
		p.Type = ProviderTypeOAuth2
		p.OAuth2.GrantType = GrantAuthorizationCode
		p.OAuth2.ScopeDelimiter = DefaultScopeDelimiter
	case *Worker:
		p.HTTP.Timeout = DefaultWorkerTimeout
		p.HTTP.Retry = DefaultWorkerRetry
	case *Request:
		if strings.HasSuffix(path, ".user_info_request") {
			// Without triggers, user info is fetched when a token is granted.
			p.Triggers.OnTokenGrant = true
		}
	}
}

// applyDerived fills the defaults that depend on other fields. It only
// fills empty values.
func applyDerived(c *Config) {
	if c.API.PublicURL == "" && c.API.Port > 0 {
		c.API.PublicURL = "http://localhost:" + strconv.Itoa(c.API.Port)
	}
	c.API.PublicURL = strings.TrimRight(c.API.PublicURL, "/")
	if c.Store.Embedded.Path == "" && c.DataDir != "" {
		c.Store.Embedded.Path = filepath.Join(c.DataDir, "authengine.db")
	}
	t := true
	if c.Telemetry.Metrics.Enabled == nil {
		c.Telemetry.Metrics.Enabled = &t
	}
	consoleDefaults(&c.Console)
	storeCacheDefaults(&c.Store.Cache)
	for i := range c.Auth.Providers {
		providerDefaults(&c.Auth.Providers[i])
	}
	for i := range c.Tools.Workers {
		if c.Tools.Workers[i].Enabled == nil {
			c.Tools.Workers[i].Enabled = &t
		}
	}
}

// providerDefaults fills the defaults of one decoded provider that depend
// on its other fields: enabled, the id from the provider_id, the
// refresh_request alias, the PKCE method and each request's method, auth
// method and content types. It only fills empty values.
func providerDefaults(p *Provider) {
	if p.Enabled == nil {
		t := true
		p.Enabled = &t
	}
	if p.ID == "" {
		p.ID = p.ProviderID
	}
	foldRefreshAlias(&p.OAuth2)
	o := &p.OAuth2
	if o.PKCE.Enabled && o.PKCE.CodeChallengeMethod == "" {
		o.PKCE.CodeChallengeMethod = PKCEMethodS256
	}
	if r := o.AuthorizeRequest; r != nil && r.Method == "" {
		r.Method = "GET"
	}
	tokenAuth := AuthClientSecretPost
	if r := o.TokenRequest; r != nil {
		requestDefaults(r, "POST", AuthClientSecretPost)
		tokenAuth = r.AuthMethod
	}
	if r := o.RefreshTokenRequest; r != nil {
		requestDefaults(r, "POST", tokenAuth)
	}
	if r := o.UserInfoRequest; r != nil {
		requestDefaults(r, "GET", AuthBearerAccessToken)
	}
	if r := o.RevocationRequest; r != nil {
		requestDefaults(r, "POST", tokenAuth)
	}
}

func requestDefaults(r *Request, method, auth string) {
	if r.Method == "" {
		r.Method = method
	}
	if r.AuthMethod == "" {
		r.AuthMethod = auth
	}
	if r.RequestContentType == "" {
		r.RequestContentType = ContentTypeForm
	}
	if r.ResponseContentType == "" {
		r.ResponseContentType = ContentTypeJSON
	}
}

// foldRefreshAlias moves refresh_request (Arcade's name) into
// refresh_token_request. When both are set it leaves them for Validate to
// report.
func foldRefreshAlias(o *OAuth2) {
	if o.RefreshRequest != nil && o.RefreshTokenRequest == nil {
		o.RefreshTokenRequest, o.RefreshRequest = o.RefreshRequest, nil
	}
}
