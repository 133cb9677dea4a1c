// Package catalog holds authengine's built-in provider templates: one YAML
// file per well-known OAuth 2.0 provider, embedded in the binary.
//
// A template has the shape of one entry of auth.providers in engine.yaml,
// without id and client credentials. An operator names a template with
// `provider_id: github` and overrides any field; package config does the
// merging and validation. This package is data, not code: it imports
// nothing of authengine and knows nothing of the config types.
package catalog

import (
	"embed"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// files holds the templates, one providers/<id>.yaml per provider.
//
//go:embed providers/*.yaml
var files embed.FS

// Lookup returns the YAML template of the built-in provider id, and whether
// there is one. The bytes are a fresh copy the caller may keep.
func Lookup(id string) ([]byte, bool) {
	if id == "" || strings.ContainsAny(id, "/\\.") {
		return nil, false
	}
	b, err := files.ReadFile(path.Join("providers", id+".yaml"))
	if err != nil {
		return nil, false
	}
	return b, true
}

// IDs returns the ids of every built-in provider, sorted.
func IDs() []string {
	entries, err := files.ReadDir("providers")
	if err != nil {
		return nil
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			ids = append(ids, name)
		}
	}
	sort.Strings(ids)
	return ids
}

// envRefRE matches a connection variable's env key in a template.
var envRefRE = regexp.MustCompile(`(?m)^\s+env:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$`)

// Variables returns the environment variables the template id reads
// (sorted, each once): those that fix a connection variable (the tenant
// of a provider whose host differs per customer, such as OKTA_DOMAIN or
// ZENDESK_SUBDOMAIN) for every connection. Unset, apps give the value
// per connection.
func Variables(id string) []string {
	b, ok := Lookup(id)
	if !ok {
		return nil
	}
	var out []string
	for _, m := range envRefRE.FindAllSubmatch(b, -1) {
		if name := string(m[1]); !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// variableExamples are sample values of the variables templates read, for
// documentation and tests.
var variableExamples = map[string]string{
	"ZENDESK_SUBDOMAIN": "acme",
	"SHOPIFY_SHOP":      "acme",
	"OKTA_DOMAIN":       "acme.okta.com",
	"AUTH0_DOMAIN":      "acme.us.auth0.com",
	"KEYCLOAK_URL":      "https://id.acme.example",
	"KEYCLOAK_REALM":    "acme",
	"GITEA_URL":         "https://git.acme.example",
}

// VariableExample returns a sample value of a variable a template reads
// ("acme.okta.com" for OKTA_DOMAIN), or "" for an unknown one.
func VariableExample(name string) string { return variableExamples[name] }
