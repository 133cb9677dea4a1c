package jsonmap_test

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/authengine/authengine/jsonmap"
)

func TestExpiresIn(t *testing.T) {
	tests := []struct {
		name    string
		v       any
		want    int64
		wantOK  bool
		wantErr string
	}{
		{name: "an int64 from Parse is read as seconds", v: int64(3600), want: 3600, wantOK: true},
		{name: "a plain int is read as seconds", v: 60, want: 60, wantOK: true},
		{name: "an int32 is read as seconds", v: int32(90), want: 90, wantOK: true},
		{name: "a uint is read as seconds", v: uint(120), want: 120, wantOK: true},
		{name: "a float64 is read as seconds", v: 3600.0, want: 3600, wantOK: true},
		{name: "a float32 is read as seconds", v: float32(30), want: 30, wantOK: true},
		{name: "a fractional float is truncated", v: 59.9, want: 59, wantOK: true},
		{name: "a json.Number is read as seconds", v: json.Number("7200"), want: 7200, wantOK: true},
		{name: "a numeric string is read as seconds", v: "3600", want: 3600, wantOK: true},
		{name: "a numeric string with spaces is read as seconds", v: " 3600 ", want: 3600, wantOK: true},
		{name: "a decimal string is truncated", v: "3600.0", want: 3600, wantOK: true},
		{name: "zero is a present value", v: int64(0), want: 0, wantOK: true},
		{name: "int32 max fits", v: int64(math.MaxInt32), want: math.MaxInt32, wantOK: true},
		{name: "exactly 100 years fits", v: int64(jsonmap.MaxExpiresIn), want: jsonmap.MaxExpiresIn, wantOK: true},
		{name: "nil means the token does not expire", v: nil, wantOK: false},
		{name: "a blank string means the token does not expire", v: "  ", wantOK: false},
		{name: "a negative number is refused", v: int64(-1), wantErr: "expires_in is a negative number"},
		{name: "a negative float is refused", v: -0.5, wantErr: "expires_in is a negative number"},
		{name: "a negative string is refused", v: "-60", wantErr: "expires_in is a negative string"},
		{name: "a non-numeric string is refused without quoting it", v: "s3cr3t", wantErr: "expires_in is a string that is not a number"},
		{name: "a Tableau-style duration string is refused", v: "177:05:38", wantErr: "expires_in is a string that is not a number"},
		{name: "NaN is refused", v: math.NaN(), wantErr: "expires_in is a number that is not finite"},
		{name: "an infinite string is refused", v: "Inf", wantErr: "expires_in is a string that is not finite"},
		{name: "milliseconds since the epoch are absurd", v: int64(1767225600000), wantErr: "expires_in is a number larger than 3153600000 seconds (100 years)"},
		{name: "an absurd string is refused", v: "99999999999", wantErr: "expires_in is a string larger than 3153600000 seconds (100 years)"},
		{name: "an absurd uint64 is refused", v: uint64(math.MaxUint64), wantErr: "expires_in is a number larger than 3153600000 seconds (100 years)"},
		{name: "an absurd float is refused", v: 1e300, wantErr: "expires_in is a number larger than 3153600000 seconds (100 years)"},
		{name: "an integer beyond int64 from Parse is refused", v: json.Number("12345678901234567890"), wantErr: "expires_in is a number larger than 3153600000 seconds (100 years)"},
		{name: "a boolean names its type", v: true, wantErr: "expires_in is a boolean, want a number or a numeric string"},
		{name: "an object names its type", v: map[string]any{"s": 1}, wantErr: "expires_in is an object, want a number or a numeric string"},
		{name: "an array names its type", v: []any{"3600"}, wantErr: "expires_in is an array, want a number or a numeric string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := jsonmap.ExpiresIn(tt.v)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ExpiresIn(%#v) error = %v, want %q", tt.v, err, tt.wantErr)
				}
				if got != 0 || ok {
					t.Fatalf("ExpiresIn(%#v) = (%d, %v) alongside an error, want (0, false)", tt.v, got, ok)
				}
				return
			}
			if err != nil {
				t.Fatalf("ExpiresIn(%#v): %v", tt.v, err)
			}
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("ExpiresIn(%#v) = (%d, %v), want (%d, %v)", tt.v, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestExpiresInErrorsNeverQuoteTheValue(t *testing.T) {
	for _, v := range []any{"tok-abc", " tok-abc ", "-tok-abc"} {
		_, _, err := jsonmap.ExpiresIn(v)
		if err == nil || strings.Contains(err.Error(), "tok-abc") {
			t.Fatalf("ExpiresIn(%q) error = %v, want an error without the value", v, err)
		}
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		name  string
		v     any
		delim string
		want  []string
	}{
		{name: "a space-delimited string is split", v: "openid email profile", delim: " ", want: []string{"openid", "email", "profile"}},
		{name: "runs of whitespace and tabs are one separator", v: "  openid\temail\n profile ", delim: " ", want: []string{"openid", "email", "profile"}},
		{name: "an empty delimiter means a space", v: "a b", delim: "", want: []string{"a", "b"}},
		{name: "duplicates are dropped keeping the first position", v: "b a b c a", delim: " ", want: []string{"b", "a", "c"}},
		{name: "GitHub's comma list is split on commas when the delimiter is a space", v: "repo,user", delim: " ", want: []string{"repo", "user"}},
		{name: "a comma list with empties is cleaned", v: ",repo,,user,", delim: " ", want: []string{"repo", "user"}},
		{name: "a string with spaces is not split on commas even if it has some", v: "a,b c", delim: " ", want: []string{"a,b", "c"}},
		{name: "a comma delimiter splits and trims", v: "chat:write, channels:history ,", delim: ",", want: []string{"chat:write", "channels:history"}},
		{name: "a comma delimiter does not split on spaces", v: "a b,c", delim: ",", want: []string{"a b", "c"}},
		{name: "a plus delimiter is honoured", v: "a+b+a", delim: "+", want: []string{"a", "b"}},
		{name: "an array of strings is trimmed and de-duplicated", v: []any{" read ", "write", "read", ""}, delim: " ", want: []string{"read", "write"}},
		{name: "non-strings in an array are skipped", v: []any{"read", 7, nil, "write"}, delim: " ", want: []string{"read", "write"}},
		{name: "a []string is accepted", v: []string{"a", "b", "a"}, delim: " ", want: []string{"a", "b"}},
		{name: "array elements are not split on the delimiter", v: []any{"a b"}, delim: " ", want: []string{"a b"}},
		{name: "nil gives nil", v: nil, delim: " ", want: nil},
		{name: "an empty string gives nil", v: "", delim: " ", want: nil},
		{name: "an empty array gives nil", v: []any{}, delim: " ", want: nil},
		{name: "a number gives nil", v: int64(5), delim: " ", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jsonmap.Scopes(tt.v, tt.delim)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("Scopes(%#v, %q) = %#v, want %#v", tt.v, tt.delim, got, tt.want)
			}
		})
	}
}
