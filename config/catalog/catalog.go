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
