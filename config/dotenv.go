package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// envNameRE is what a variable name in a .env file may look like.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// parseDotEnv parses a .env file: NAME=value lines, optionally prefixed by
// "export ", blank lines and # comments. Values may be single-quoted
// (taken literally), double-quoted (\n, \t, \r, \", \\ escapes) or bare
// (an unquoted " #" starts a comment; surrounding space is trimmed). A
// quoted value may span lines (a PEM key); after its closing quote only a
// comment may follow. No $NAME expansion happens: a value is taken as
// written. Errors name the file and line but never the value.
func parseDotEnv(name string, data []byte) (map[string]string, error) {
	out := make(map[string]string)
	lines := strings.Split(strings.TrimPrefix(string(data), "\ufeff"), "\n")
	for i := 0; i < len(lines); i++ {
		line := i + 1
		text := strings.TrimSpace(lines[i])
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		key, value, ok := strings.Cut(text, "=")
		key = strings.TrimSpace(key)
		if !ok || !envNameRE.MatchString(key) {
			return nil, fmt.Errorf("%s:%d: expected NAME=value", name, line)
		}
		value = strings.TrimLeft(value, " \t")
		if q := firstByte(value); q == '\'' || q == '"' {
			// A quoted value runs to its closing quote, on this line or a
			// later one.
			for !closed(value, q) && i+1 < len(lines) {
				i++
				value += "\n" + strings.TrimSuffix(lines[i], "\r")
			}
		}
		v, err := dotEnvValue(strings.TrimRight(value, " \t\r"))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: variable %s: %w", name, line, key, err)
		}
		out[key] = v
	}
	return out, nil
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// closed reports whether the value v, which starts with the quote q, holds
// its closing quote.
func closed(v string, q byte) bool {
	for i := 1; i < len(v); i++ {
		switch {
		case q == '"' && v[i] == '\\':
			i++
		case v[i] == q:
			return true
		}
	}
	return false
}

// errAfterQuote is text after a quoted value's closing quote.
var errAfterQuote = errors.New("unexpected text after the closing quote (only a # comment may follow)")

// dotEnvValue unquotes one .env value.
func dotEnvValue(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "'"):
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("unterminated single quote")
		}
		if err := afterQuote(v[2+end:]); err != nil {
			return "", err
		}
		return v[1 : 1+end], nil
	case strings.HasPrefix(v, `"`):
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '"':
				if err := afterQuote(v[i+1:]); err != nil {
					return "", err
				}
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

// afterQuote accepts what may follow a closing quote: nothing, or
// space and a comment.
func afterQuote(rest string) error {
	rest = strings.TrimSpace(rest)
	if rest == "" || strings.HasPrefix(rest, "#") {
		return nil
	}
	return errAfterQuote
}
