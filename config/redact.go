package config

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Secret-holding config types print and log without their secrets, so
// that a %+v of a Config or a slog attribute never leaks one. Secrets show
// as "[redacted]" when set and "" when empty, which is what an operator
// debugging a config needs to know.

const redacted = "[redacted]"

func mask(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

func maskAll(list []string) string {
	return strconv.Itoa(len(list)) + " key(s)"
}

// String prints the API settings with the keys counted, not shown.
func (a API) String() string {
	return fmt.Sprintf("{Development:%t Host:%s Port:%d PublicURL:%s APIKeys:%s AdminKeys:%s AllowedRedirectOrigins:%v MaxBodyBytes:%d}",
		a.Development, a.Host, a.Port, a.PublicURL, maskAll(a.APIKeys), maskAll(a.AdminKeys), a.AllowedRedirectOrigins, a.MaxBodyBytes)
}

// LogValue logs the API settings with the keys counted, not shown.
func (a API) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("development", a.Development),
		slog.String("host", a.Host),
		slog.Int("port", a.Port),
		slog.String("public_url", a.PublicURL),
		slog.Int("api_keys", len(a.APIKeys)),
		slog.Int("admin_keys", len(a.AdminKeys)),
	)
}

// String prints the key id only.
func (k RootKey) String() string {
	return fmt.Sprintf("{ID:%s Value:%s}", k.ID, mask(k.Value))
}

// LogValue logs the key id only.
func (k RootKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("value", mask(k.Value)))
}

// String prints the Redis settings without the password or URL
// credentials.
func (r RedisStore) String() string {
	return fmt.Sprintf("{URL:%s Addrs:%v MasterName:%s Username:%s Password:%s DB:%d TLS:%t KeyPrefix:%s}",
		redactURL(r.URL), r.Addrs, r.MasterName, r.Username, mask(r.Password), r.DB, r.TLS, r.KeyPrefix)
}

// LogValue logs the Redis settings without the password or URL
// credentials.
func (r RedisStore) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(r.URL)),
		slog.Any("addrs", r.Addrs),
		slog.String("master_name", r.MasterName),
		slog.Int("db", r.DB),
		slog.Bool("tls", r.TLS),
		slog.String("key_prefix", r.KeyPrefix),
	)
}

// redactURL hides the whole URL when it carries credentials; a Redis URL
// without them is harmless to show.
func redactURL(s string) string {
	if strings.Contains(s, "@") {
		return redacted
	}
	return s
}

// String prints the provider without its client secret.
func (p Provider) String() string {
	return fmt.Sprintf("{ID:%s ProviderID:%s Enabled:%t Type:%s ClientID:%s ClientSecret:%s GrantType:%s}",
		p.ID, p.ProviderID, p.IsEnabled(), p.Type, p.ClientID, mask(p.ClientSecret), p.OAuth2.GrantType)
}

// LogValue logs the provider without its client secret.
func (p Provider) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", p.ID),
		slog.String("provider_id", p.ProviderID),
		slog.Bool("enabled", p.IsEnabled()),
		slog.String("client_id", p.ClientID),
		slog.String("client_secret", mask(p.ClientSecret)),
		slog.String("grant_type", p.OAuth2.GrantType),
	)
}

// String prints the worker connection without its secret.
func (w WorkerHTTP) String() string {
	return fmt.Sprintf("{URI:%s Secret:%s Timeout:%s Retry:%d}", w.URI, mask(w.Secret), w.Timeout, w.Retry)
}

// LogValue logs the worker connection without its secret.
func (w WorkerHTTP) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("uri", w.URI),
		slog.String("secret", mask(w.Secret)),
		slog.Duration("timeout", w.Timeout),
		slog.Int("retry", w.Retry),
	)
}

// String prints the metrics settings without the bearer token.
func (m Metrics) String() string {
	enabled := m.Enabled == nil || *m.Enabled
	return fmt.Sprintf("{Enabled:%t Path:%s Listen:%s BearerToken:%s}", enabled, m.Path, m.Listen, mask(m.BearerToken))
}

// LogValue logs the metrics settings without the bearer token.
func (m Metrics) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("enabled", m.Enabled == nil || *m.Enabled),
		slog.String("path", m.Path),
		slog.String("listen", m.Listen),
		slog.String("bearer_token", mask(m.BearerToken)),
	)
}

// DisplayProviders returns copies of the providers for showing to an
// operator (the admin API): every request endpoint, param and header
// value that holds a value read from $<env:> or $<file:> is redacted,
// since operators put secrets there as well as in client_secret (an API
// key in an endpoint's query: ?api_key=$<env:X>). client_secret itself is
// left for the caller, which shows it only as a hint.
func (c *Config) DisplayProviders() []Provider {
	out := make([]Provider, len(c.Auth.Providers))
	for i, p := range c.Auth.Providers {
		o := &p.OAuth2
		for _, r := range []**Request{&o.AuthorizeRequest, &o.TokenRequest, &o.RefreshTokenRequest, &o.RefreshRequest, &o.UserInfoRequest, &o.RevocationRequest} {
			if *r != nil {
				*r = c.displayRequest(**r)
			}
		}
		out[i] = p
	}
	return out
}

func (c *Config) displayRequest(r Request) *Request {
	r.Endpoint = c.Redact(r.Endpoint)
	r.Params = c.redactValues(r.Params)
	r.Headers = c.redactValues(r.Headers)
	return &r
}

func (c *Config) redactValues(m map[string]string) map[string]string {
	if m == nil || c.references == nil {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = c.Redact(v)
	}
	return out
}

// Redact replaces every value that came from $<env:> or $<file:> in s
// with "[redacted]": for messages about the loaded config that other
// packages produce (authflow's compile errors quote endpoints and params).
func (c *Config) Redact(s string) string {
	if c.references == nil {
		return s
	}
	return c.references.Replace(s)
}

// String prints the webhook without its secret.
func (w Webhook) String() string {
	return fmt.Sprintf("{URL:%s Secret:%s Events:%v}", w.URL, mask(w.Secret), w.Events)
}

// LogValue logs the webhook without its secret.
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", w.URL), slog.String("secret", mask(w.Secret)), slog.Any("events", w.Events))
}
