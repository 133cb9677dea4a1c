package config

import (
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The decoder copies the raw tree into the typed structs by their koanf
// tags. Unlike a generic decoder it knows the path of every value, so it
// reports unknown keys (with the closest valid key) and wrong types with
// their field paths, and it keeps going after a problem so that all of
// them are reported at once.

var durationType = reflect.TypeFor[time.Duration]()

// decoder carries the report and a hook that presets defaults on newly
// created structs (list elements and optional blocks), so that a value
// given explicitly, even a zero, is never overwritten by a default.
type decoder struct {
	r      *report
	preset func(path string, v reflect.Value)
}

// decode copies raw into v (addressable), reporting problems under path.
func (d *decoder) decode(path string, raw any, v reflect.Value) {
	if raw == nil {
		return // null leaves the default in place
	}
	t := v.Type()
	if t == durationType {
		d.duration(path, raw, v)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		d.structure(path, raw, v)
	case reflect.Pointer:
		if v.IsNil() {
			elem := reflect.New(t.Elem())
			if t.Elem().Kind() == reflect.Struct && d.preset != nil {
				d.preset(path, elem.Elem())
			}
			v.Set(elem)
		}
		d.decode(path, raw, v.Elem())
	case reflect.Slice:
		d.slice(path, raw, v)
	case reflect.Map:
		d.mapping(path, raw, v)
	case reflect.String:
		if s, ok := scalarString(raw); ok {
			v.SetString(s)
			return
		}
		d.r.errorf(path, "must be a string, not %s", describe(raw))
	case reflect.Bool:
		switch b := raw.(type) {
		case bool:
			v.SetBool(b)
			return
		case string:
			if parsed, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
				v.SetBool(parsed)
				return
			}
			d.r.errorf(path, "must be true or false")
			return
		}
		d.r.errorf(path, "must be true or false, not %s", describe(raw))
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := scalarInt(raw)
		if !ok || v.OverflowInt(n) {
			d.r.errorf(path, "must be a whole number, not %s", describe(raw))
			return
		}
		v.SetInt(n)
	default:
		d.r.errorf(path, "cannot be decoded (unsupported field type %s)", t)
	}
}

// structure decodes a map into a struct field by field.
func (d *decoder) structure(path string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.r.errorf(path, "must be a map, not %s", describe(raw))
		return
	}
	fields := tagFields(v.Type())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		idx, ok := fields[k]
		if !ok {
			if s := closest(k, fieldNames(fields)); s != "" {
				d.r.errorf(keyPath(path, k), "unknown key (did you mean %q?)", s)
				if _, given := m[s]; !given {
					d.r.explain(keyPath(path, s)) // "s is required" would follow
				}
			} else {
				d.r.errorf(keyPath(path, k), "unknown key (valid keys: %s)", strings.Join(fieldNames(fields), ", "))
			}
			continue
		}
		d.decode(keyPath(path, k), m[k], v.Field(idx))
	}
}

// slice decodes a list; struct elements are preset before decoding.
func (d *decoder) slice(path string, raw any, v reflect.Value) {
	items, ok := raw.([]any)
	if !ok {
		d.r.errorf(path, "must be a list, not %s", describe(raw))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(items), len(items))
	paths := elemPaths(path, items)
	for i, item := range items {
		p := paths[i]
		e := out.Index(i)
		if e.Kind() == reflect.Struct && d.preset != nil {
			d.preset(p, e)
		}
		d.decode(p, item, e)
	}
	v.Set(out)
}

// mapping decodes a map of scalars into map[string]string, or a map of
// maps into a map of structs, each element named by its key in paths
// (connection_variables.subdomain.pattern).
func (d *decoder) mapping(path string, raw any, v reflect.Value) {
	m, ok := raw.(map[string]any)
	if !ok {
		d.r.errorf(path, "must be a map, not %s", describe(raw))
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(m))
	for k, e := range m {
		if v.Type().Elem().Kind() == reflect.Struct {
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(keyPath(path, k), e, elem)
			out.SetMapIndex(reflect.ValueOf(k), elem)
			continue
		}
		if e == nil {
			out.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(""))
			continue
		}
		s, ok := scalarString(e)
		if !ok {
			d.r.errorf(keyPath(path, k), "must be a string, not %s", describe(e))
			continue
		}
		out.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(s))
	}
	v.Set(out)
}

// duration decodes "30s", "10m", "1h30m".
func (d *decoder) duration(path string, raw any, v reflect.Value) {
	s, ok := raw.(string)
	if !ok {
		if n, isInt := scalarInt(raw); isInt && n == 0 {
			v.SetInt(0)
			return
		}
		d.r.errorf(path, "must be a duration with a unit, such as \"30s\" or \"10m\", not %s", describe(raw))
		return
	}
	dur, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		d.r.errorf(path, "must be a duration with a unit, such as \"30s\" or \"10m\"")
		return
	}
	v.SetInt(int64(dur))
}

// scalarString accepts strings and prints numbers and booleans (client ids
// are often numeric in YAML).
func scalarString(raw any) (string, bool) {
	switch t := raw.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	default:
		return "", false
	}
}

// scalarInt accepts whole numbers and numeric strings (from $<env:...>).
func scalarInt(raw any) (int64, bool) {
	switch t := raw.(type) {
	case int:
		return int64(t), true
	case int64:
		return t, true
	case uint64:
		if t > math.MaxInt64 {
			return 0, false
		}
		return int64(t), true
	case float64:
		if t != math.Trunc(t) || t > math.MaxInt64 || t < math.MinInt64 {
			return 0, false
		}
		return int64(t), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		return n, err == nil
	default:
		return 0, false
	}
}

// tagFields maps koanf tags to field indexes.
func tagFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if key, ok := koanfKey(t.Field(i)); ok {
			out[key] = i
		}
	}
	return out
}

// koanfKey returns the file key of struct field f (its koanf tag), and
// whether it has one.
func koanfKey(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
	return tag, tag != "" && tag != "-"
}

func fieldNames(fields map[string]int) []string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// closest returns the candidate nearest to s by edit distance, or "" when
// none is near enough to be a plausible typo.
func closest(s string, candidates []string) string {
	best, bestDist := "", math.MaxInt
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(ls, c)
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(2, len(s)/3)
	if bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance, so a swapped pair of letters counts as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 256 || len(rb) > 256 {
		return math.MaxInt
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
