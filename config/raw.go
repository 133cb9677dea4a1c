package config

import (
	"fmt"
	"strconv"
)

// The raw tree is what the YAML parser returns: map[string]any, []any and
// scalars (deepCopy turns any map[any]any into map[string]any). Config is
// checked on this tree before it is decoded, so that keys containing dots
// (params, response_map) stay whole and every problem can be reported with
// its path.

// elemPath is the path of the i-th element of the list at path: the
// element's id in brackets when it has a usable one, its index otherwise
// (auth.providers[hooli], api.api_keys[0]); two elements sharing an id are
// both named by their index.
func elemPath(path string, list []any, i int) string {
	if m, ok := list[i].(map[string]any); ok {
		if id, ok := scalarString(m["id"]); ok && !sharedID(list, i, id) {
			return listPath(path, id, i)
		}
	}
	return path + "[" + strconv.Itoa(i) + "]"
}

// elemPaths returns elemPath of every element of list, counting the ids
// once (elemPath alone looks at every other element).
func elemPaths(path string, list []any) []string {
	ids := make([]string, len(list))
	for i, e := range list {
		if m, ok := e.(map[string]any); ok {
			ids[i], _ = scalarString(m["id"])
		}
	}
	return listPaths(path, ids)
}

// sharedID reports whether another element of list has the id id: both
// are then named by position, as auth.providers[<id>] would name either.
func sharedID(list []any, i int, id string) bool {
	for j, e := range list {
		if m, ok := e.(map[string]any); ok && j != i {
			if other, ok := scalarString(m["id"]); ok && other == id {
				return true
			}
		}
	}
	return false
}

// keyPath joins a map key onto a path.
func keyPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names the YAML kind of a raw value for error messages. It never
// includes the value itself, which may be a secret.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, int32, uint32, int8, int16, uint8, uint16, uint, float32, float64:
		return "a number"
	case map[string]any, map[any]any:
		return "a map"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// deepMerge returns base with over laid on top: maps merge key by key,
// anything else (lists included) in over replaces what base has. Neither
// input is modified.
func deepMerge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = deepCopy(v)
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = deepMerge(bm, om)
			continue
		}
		out[k] = deepCopy(v)
	}
	return out
}

// deepCopy copies the maps and lists of a raw tree, turning every
// map[any]any (YAML allows non-string keys) into map[string]any keyed by
// the keys' printed form.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}
