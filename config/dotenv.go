package config

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// envNameRE is what a variable name in a .env file may look like.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// parseDotEnv parses a .env file: NAME=value lines, optionally prefixed by
// "export ", blank lines and # comments. Values may be single-quoted
// (taken literally), double-quoted (\n, \t, \", \\ escapes) or bare (an
// unquoted " #" starts a comment; surrounding space is trimmed). Errors name
// the file and line but never the value.
func parseDotEnv(name string, data []byte) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		key, value, ok := strings.Cut(text, "=")
		key = strings.TrimSpace(key)
		if !ok || !envNameRE.MatchString(key) {
			return nil, fmt.Errorf("%s:%d: expected NAME=value", name, line)
		}
		v, err := dotEnvValue(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: variable %s: %w", name, line, key, err)
		}
		out[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// dotEnvValue unquotes one .env value.
func dotEnvValue(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "'"):
		end := strings.Index(v[1:], "'")
		if end < 0 {
			return "", fmt.Errorf("unterminated single quote")
		}
		return v[1 : 1+end], nil
	case strings.HasPrefix(v, `"`):
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '"':
				return b.String(), nil
			case c == '\\' && i+1 < len(v):
				i++
				switch v[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				default:
					b.WriteByte(v[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("unterminated double quote")
	default:
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		return strings.TrimSpace(v), nil
	}
}
