package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/authengine/authengine/config"
)

// providerYAML renders p as one auth.providers entry of engine.yaml (JSON
// flow style, which YAML reads), by its koanf keys, leaving zero values
// out: a stand-in's Config can then be written into a config file. The
// authorize request's auth method and content types, which Config spells
// out and engine.yaml refuses, are left out.
func providerYAML(t *testing.T, p config.Provider) string {
	t.Helper()
	if a := p.OAuth2.AuthorizeRequest; a != nil {
		c := *a
		c.AuthMethod, c.RequestContentType, c.ResponseContentType = "", "", ""
		p.OAuth2.AuthorizeRequest = &c
	}
	raw, err := json.Marshal(koanfDoc(reflect.ValueOf(p)))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// koanfDoc turns a config value into maps keyed by its koanf tags.
func koanfDoc(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
			if key == "" || key == "-" || !f.IsExported() || v.Field(i).IsZero() {
				continue
			}
			if d := koanfDoc(v.Field(i)); d != nil {
				out[key] = d
			}
		}
		return out
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = koanfDoc(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[k.String()] = koanfDoc(v.MapIndex(k))
		}
		return out
	}
	return v.Interface()
}
