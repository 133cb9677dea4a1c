package config

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// SchemaID is the $id of the JSON Schema of engine.yaml: the committed
// schema/engine.schema.json of the repository.
const SchemaID = "https://raw.githubusercontent.com/authengine/authengine/main/schema/engine.schema.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of engine.yaml,
// indented and ending in a newline. It is derived from Config by walking
// its koanf tags with the rules the decoder applies, so it accepts what
// Load accepts at the level of shapes:
//
//   - a struct is an object of its koanf keys and nothing else (unknown
//     keys are errors); every struct type is one entry of $defs, so a
//     provider entry is #/$defs/Provider;
//   - a string field also takes a number or a boolean (client ids are
//     often numeric in YAML);
//   - whole numbers and booleans also take a string, since $<env:NAME>
//     and $<file:/path> references are strings until they are resolved;
//   - a duration is a string ("30s", "10m") or 0;
//   - a map of strings (params, headers, response_map) takes scalars;
//   - any key may be null, which leaves its default in place;
//   - the top level also takes $schema, the line editors read.
//
// Rules that need more than a shape (URLs, ids, cross-field checks) are
// left to Load, whose errors name the field.
func JSONSchema() []byte {
	w := schemaWalker{defs: map[string]any{}}
	root := w.structSchema(reflect.TypeFor[Config]())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "authengine engine.yaml"
	root["properties"].(map[string]any)["$schema"] = map[string]any{
		"type":        "string",
		"description": "The JSON Schema editors check this file with; not configuration.",
	}
	root["$defs"] = w.defs
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		panic("config: encoding the JSON Schema: " + err.Error()) // maps of strings always encode
	}
	return buf.Bytes()
}

// schemaWalker builds the schema of a type; defs collects one schema per
// named struct type.
type schemaWalker struct {
	defs map[string]any
}

// nullable lets a schema also take null.
func nullable(s map[string]any) map[string]any {
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// schema returns the schema of a field of type t.
func (w *schemaWalker) schema(t reflect.Type) map[string]any {
	if t == durationType {
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "string", "description": "a duration with a unit, such as 30s, 10m or 1h30m"},
			map[string]any{"const": 0},
			map[string]any{"type": "null"},
		}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.schema(t.Elem())
	case reflect.Struct:
		name := t.Name()
		if _, done := w.defs[name]; !done {
			w.defs[name] = nil // a placeholder against recursion
			w.defs[name] = w.structSchema(t)
		}
		return nullable(map[string]any{"$ref": "#/$defs/" + name})
	case reflect.Slice:
		return nullable(map[string]any{"type": "array", "items": w.schema(t.Elem())})
	case reflect.Map:
		if t.Elem().Kind() == reflect.Struct {
			return nullable(map[string]any{"type": "object", "additionalProperties": w.schema(t.Elem())})
		}
		return nullable(map[string]any{
			"type":                 "object",
			"additionalProperties": map[string]any{"type": []any{"string", "number", "boolean", "null"}},
		})
	case reflect.String:
		return map[string]any{"type": []any{"string", "number", "boolean", "null"}}
	case reflect.Bool:
		return map[string]any{"type": []any{"boolean", "string", "null"}}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": []any{"integer", "string", "null"}}
	}
	panic("config: no JSON Schema for field type " + t.String())
}

// structSchema returns the object schema of struct t: its koanf keys, in
// declaration order, and no others.
func (w *schemaWalker) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	for i := range t.NumField() {
		if key, ok := koanfKey(t.Field(i)); ok {
			props[key] = w.schema(t.Field(i).Type)
		}
	}
	return map[string]any{
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
}
