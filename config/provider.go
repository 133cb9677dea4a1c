package config

import "reflect"

// ParseProvider turns one provider entry, shaped as an element of
// auth.providers in engine.yaml, into the effective Provider the way Load
// treats each entry of the file: the refresh_request alias is folded into
// refresh_token_request, a missing id defaults to the provider_id, the
// entry is laid over the built-in template its provider_id names, it is
// decoded strictly (unknown keys, with the closest valid key, and wrong
// types are errors), defaults are filled in and the provider-level checks
// of Validate are run. Checks across providers, such as duplicate ids,
// are left to the caller.
//
// raw holds YAML or JSON values (maps, lists, strings, numbers, booleans,
// null); it is not modified. Unlike Load, ParseProvider does not resolve
// $<env:NAME> or $<file:/path> references: every value is taken
// literally, so a document from an API caller cannot read the engine's
// environment or files.
//
// Field paths in warnings and errors start with path ("" for paths
// relative to the entry, such as oauth2.token_request.endpoint;
// "auth.providers[hooli]" gives Load's paths). It returns the provider,
// the warnings ("field.path: message", sorted) and, when there is any
// problem, a zero Provider and *Errors listing every problem. Neither
// warnings nor errors contain secret values. Request templates and
// JSONPath are not compiled here (authflow.Compile does that).
func ParseProvider(raw map[string]any, path string) (Provider, []string, error) {
	var r report
	p := parseProvider(raw, path, &r)
	if err := r.err(); err != nil {
		return Provider{}, r.warningLines(), err
	}
	return p, r.warningLines(), nil
}

// parseProvider runs the per-provider stages Load runs over the whole
// document (mergeProvider, the decoder with preset, providerDefaults,
// validateProvider) on one entry, reporting under path.
func parseProvider(raw map[string]any, path string, r *report) Provider {
	doc, _ := deepCopy(raw).(map[string]any)
	doc, err := mergeProvider(doc)
	if err != nil {
		r.errorf(keyPath(path, "provider_id"), "%v", err)
	}
	var p Provider
	v := reflect.ValueOf(&p).Elem()
	preset(path, v)
	d := decoder{r: r, preset: preset}
	d.decode(path, doc, v)
	providerDefaults(&p)
	validateProvider(p, path, r)
	return p
}

// Complete fills the defaults of p that depend on its other fields, as
// Load does for each provider (each request's method, auth method and
// content types, the PKCE method, enabled), and returns it. Package
// authflow/discovery uses it on a provider it completed from metadata.
func Complete(p Provider) Provider {
	providerDefaults(&p)
	return p
}
