package config

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/joho/godotenv"
)

// envNameRE is what a variable name in a .env file may look like.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// parseDotEnv parses a .env file with github.com/joho/godotenv: NAME=value
// lines, optionally prefixed by "export ", blank lines and # comments.
// Values may be single-quoted (taken literally), double-quoted (\n and \r
// escapes) or bare (an unquoted " #" starts a comment; surrounding space is
// trimmed); a quoted value may span lines (a PEM key).
//
// checkDotEnv runs first and refuses what the library would take silently:
// text after a closing quote (A='abc' junk), a line that is not NAME=value,
// an unclosed quote, and a $NAME the library would replace by another
// variable's value in a bare or double-quoted value (a secret holding
// "$" would change without a word). Errors name the file, line and
// variable, never a value; the library's own messages, which quote the
// file, are never shown.
func parseDotEnv(name string, data []byte) (map[string]string, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if err := checkDotEnv(name, data); err != nil {
		return nil, err
	}
	vars, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid .env file (check its quoting)", name)
	}
	for k := range vars {
		if !envNameRE.MatchString(k) {
			return nil, fmt.Errorf("%s: a line is not NAME=value", name)
		}
	}
	return vars, nil
}

// errAfterQuote is text after a quoted value's closing quote.
var errAfterQuote = errors.New("unexpected text after the closing quote (only a # comment may follow)")

// errExpands is a $NAME the parser would replace.
var errExpands = errors.New(`holds $NAME or ${NAME}, which the .env parser replaces by another variable's value: single-quote the value, or write \$, to keep it as written`)

// expandsRE finds what godotenv expands in a bare or double-quoted value:
// $NAME, ${NAME} or $(NAME) with an upper-case name, not after a backslash.
var expandsRE = regexp.MustCompile(`(^|[^\\])\$\(?\{?[A-Z0-9_]`)

// checkDotEnv walks the file's statements as godotenv reads them and
// refuses what it would accept silently (see parseDotEnv).
func checkDotEnv(name string, data []byte) error {
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		line := i + 1
		text := strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		key, value, ok := strings.Cut(text, "=")
		key = strings.TrimSpace(key)
		if !ok || !envNameRE.MatchString(key) {
			return fmt.Errorf("%s:%d: expected NAME=value", name, line)
		}
		value = strings.TrimLeft(value, " \t")
		q := byte(0)
		if value != "" && (value[0] == '\'' || value[0] == '"') {
			q = value[0]
		}
		if q == 0 {
			if j := strings.Index(value, " #"); j >= 0 {
				value = value[:j]
			}
			if expandsRE.MatchString(value) {
				return fmt.Errorf("%s:%d: variable %s: %w", name, line, key, errExpands)
			}
			continue
		}
		// A quoted value runs to its closing quote (one not after a
		// backslash), on this line or a later one.
		end := closingQuote(value, q)
		for end < 0 && i+1 < len(lines) {
			i++
			value += "\n" + strings.TrimSuffix(lines[i], "\r")
			end = closingQuote(value, q)
		}
		if end < 0 {
			kind := "single"
			if q == '"' {
				kind = "double"
			}
			return fmt.Errorf("%s:%d: variable %s: unterminated %s quote", name, line, key, kind)
		}
		if rest := strings.TrimSpace(value[end+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
			return fmt.Errorf("%s:%d: variable %s: %w", name, line, key, errAfterQuote)
		}
		if q == '"' && expandsRE.MatchString(value[1:end]) {
			return fmt.Errorf("%s:%d: variable %s: %w", name, line, key, errExpands)
		}
	}
	return nil
}

// closingQuote is the index of the quote q closing v (which starts with
// q), or -1; a quote after a backslash does not close, as in godotenv.
func closingQuote(v string, q byte) int {
	for i := 1; i < len(v); i++ {
		if v[i] == q && v[i-1] != '\\' {
			return i
		}
	}
	return -1
}
