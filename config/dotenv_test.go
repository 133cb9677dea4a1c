package config

import (
	"errors"
	"strings"
	"testing"
)

// TestDotEnvValues: quoted values may span lines (PEM keys), text after a
// closing quote is an error naming the line, never the value, and nothing
// is expanded.
func TestDotEnvValues(t *testing.T) {
	const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----"
	tests := []struct {
		name, text string
		want       map[string]string
		wantErr    string
	}{
		{"a double-quoted value over several lines", "KEY=\"" + pem + "\"\nNEXT=1\n", map[string]string{"KEY": pem, "NEXT": "1"}, ""},
		{"a single-quoted value over several lines", "KEY='" + pem + "' # the key\nNEXT=1\n", map[string]string{"KEY": pem, "NEXT": "1"}, ""},
		{"CRLF line ends", "KEY=\"a\r\nb\"\r\nNEXT=1\r\n", map[string]string{"KEY": "a\nb", "NEXT": "1"}, ""},
		{"an escaped quote does not close", `KEY="a \" b"` + "\n", map[string]string{"KEY": `a " b`}, ""},
		{"single-quoted values are taken as written", "A=1\nB='p@$A${A}'\n", map[string]string{"A": "1", "B": "p@$A${A}"}, ""},
		{"an escaped dollar is a dollar", "A=1\nB=\"p@\\$A\"\nC=q\\$A\n", map[string]string{"A": "1", "B": "p@$A", "C": "q$A"}, ""},
		{"a dollar before a lower-case name stays", "B=p@$sw0rd\n", map[string]string{"B": "p@$sw0rd"}, ""},
		{"a bare $NAME is refused, not expanded", "A=1\nB=p@$A" + secretValue + "\n", nil, "x.env:2: variable B: holds $NAME"},
		{"a double-quoted ${NAME} is refused, not expanded", "A=1\nB=\"" + secretValue + "${A}\"\n", nil, "x.env:2: variable B: holds $NAME"},
		{"a second assignment after a closing quote", "A='abc' B=2\n", nil, "x.env:1: variable A: unexpected text after the closing quote"},
		{"text after a closing quote on the last line", "A='abc' junk", nil, "x.env:1: variable A: unexpected text after the closing quote"},
		{"a line that is not NAME=value", "OK=1\nA B=" + secretValue + "\n", nil, "x.env:2: expected NAME=value"},
		{"a comment after the closing quote", "A='abc'   # fine\n", map[string]string{"A": "abc"}, ""},
		{"text after a single-quoted value", "OK=1\nA='abc' junk-" + secretValue + "\n", nil, "x.env:2: variable A: unexpected text after the closing quote"},
		{"text after a double-quoted value", `A="abc"junk` + secretValue + "\n", nil, "x.env:1: variable A: unexpected text after the closing quote"},
		{"an unclosed quote names its first line", "OK=1\nA=\"" + secretValue + "\nB=2\n", nil, "x.env:2: variable A: unterminated double quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDotEnv("x.env", []byte(tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("want error %q, got %v (%q)", tt.wantErr, err, got)
				}
				if strings.Contains(err.Error(), secretValue) || strings.Contains(err.Error(), "junk") {
					t.Fatalf("error leaks the value: %v", err)
				}
				if strings.Contains(tt.wantErr, "after the closing quote") && !errors.Is(err, errAfterQuote) {
					t.Fatalf("error does not wrap errAfterQuote: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
