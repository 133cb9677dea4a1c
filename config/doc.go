// Package config reads engine.yaml: it parses the file, merges built-in
// catalog templates named by provider_id, replaces $<env:NAME> and
// $<file:/path> references, decodes the result into typed structs while
// rejecting unknown keys and wrong types, fills in defaults and validates
// every field, reporting all problems at once with their field paths.
// ParseProvider runs the same stages on a single provider entry (one given
// to the admin API, for instance), without resolving references.
//
// It owns the file form of the configuration only. It does not compile
// request templates or JSONPath (package authflow does, and reports those
// errors), and it holds no live objects: cmd/authengine turns a Config into
// runtime options.
package config
