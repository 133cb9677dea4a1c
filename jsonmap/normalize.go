package jsonmap

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxExpiresIn is the largest expires_in accepted: 100 years. Anything larger
// is not a lifetime (milliseconds since the epoch, say) and would overflow
// time.Duration arithmetic; int32 max (68 years), which some providers send
// for "practically never", still fits.
const MaxExpiresIn = 100 * 365 * 24 * 60 * 60

// ExpiresIn normalises an expires_in value to whole seconds.
//
// Numbers of any Go numeric type, json.Number and numeric strings ("3600",
// " 3600 ", "3600.0") are accepted; a fraction is truncated. Missing values
// (nil, or a string of only spaces) give (0, false, nil): the token does not
// expire. Zero gives (0, true, nil); what "expires now" means is the caller's
// call. Negative, non-finite, non-numeric and larger-than-MaxExpiresIn values
// are errors that name the value's type, never the value.
func ExpiresIn(v any) (seconds int64, ok bool, err error) {
	var f float64
	switch t := v.(type) {
	case nil:
		return 0, false, nil
	case int:
		return checkSeconds(int64(t), "number")
	case int8:
		return checkSeconds(int64(t), "number")
	case int16:
		return checkSeconds(int64(t), "number")
	case int32:
		return checkSeconds(int64(t), "number")
	case int64:
		return checkSeconds(t, "number")
	case uint:
		return checkUnsigned(uint64(t))
	case uint8:
		return checkUnsigned(uint64(t))
	case uint16:
		return checkUnsigned(uint64(t))
	case uint32:
		return checkUnsigned(uint64(t))
	case uint64:
		return checkUnsigned(t)
	case float32:
		f = float64(t)
	case float64:
		f = t
	case json.Number:
		return parseSeconds(string(t), "number")
	case string:
		if strings.TrimSpace(t) == "" {
			return 0, false, nil
		}
		return parseSeconds(t, "string")
	default:
		return 0, false, fmt.Errorf("expires_in is %s, want a number or a numeric string", aKind(v))
	}
	return floatSeconds(f, "number")
}

func parseSeconds(s, kind string) (int64, bool, error) {
	s = strings.TrimSpace(s)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return checkSeconds(i, kind)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("expires_in is a %s that is not a number", kind)
	}
	return floatSeconds(f, kind)
}

func floatSeconds(f float64, kind string) (int64, bool, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("expires_in is a %s that is not finite", kind)
	}
	if f < 0 {
		return 0, false, fmt.Errorf("expires_in is a negative %s", kind)
	}
	if f > MaxExpiresIn {
		return 0, false, fmt.Errorf("expires_in is a %s larger than %d seconds (100 years)", kind, MaxExpiresIn)
	}
	return int64(f), true, nil
}

func checkSeconds(i int64, kind string) (int64, bool, error) {
	if i < 0 {
		return 0, false, fmt.Errorf("expires_in is a negative %s", kind)
	}
	if i > MaxExpiresIn {
		return 0, false, fmt.Errorf("expires_in is a %s larger than %d seconds (100 years)", kind, MaxExpiresIn)
	}
	return i, true, nil
}

func checkUnsigned(u uint64) (int64, bool, error) {
	if u > MaxExpiresIn {
		return 0, false, fmt.Errorf("expires_in is a number larger than %d seconds (100 years)", MaxExpiresIn)
	}
	return int64(u), true, nil
}

// Scopes normalises a scope value to a list: each entry trimmed, empties
// dropped, duplicates removed keeping the first occurrence.
//
// A string is split on delim (an empty delim means " "). With delim " " the
// string is split on any whitespace, and a string that has commas but no
// whitespace is split on commas: GitHub answers "repo,user" whatever the
// configured delimiter, and a scope never contains a comma. An array of
// strings is taken element by element (non-strings skipped). nil, and any
// other type, give nil.
func Scopes(v any, delim string) []string {
	if delim == "" {
		delim = " "
	}
	var parts []string
	switch t := v.(type) {
	case string:
		switch {
		case delim != " ":
			parts = strings.Split(t, delim)
		case strings.Contains(t, ",") && !strings.ContainsAny(t, " \t\r\n"):
			parts = strings.Split(t, ",")
		default:
			parts = strings.Fields(t)
		}
	case []string:
		parts = t
	case []any:
		parts = make([]string, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				parts = append(parts, s)
			}
		}
	default:
		return nil
	}
	var out []string
	seen := make(map[string]struct{}, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		out = append(out, p)
	}
	return out
}
