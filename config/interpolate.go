package config

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// refRE matches one reference: $<env:NAME> or $<file:/path> (and, to
// report them, references of unknown kinds), or Arcade's spelling of the
// same two, ${env:NAME} and ${file:/path}, so that an Arcade engine.yaml
// section moves over unchanged.
var refRE = regexp.MustCompile(`\$<([A-Za-z_]+):([^>]*)>|\$\{(env|file):([^}]*)\}`)

// shellRefRE matches the shell and compose spelling ${NAME}, which this
// file does not expand: left alone it would become the literal value.
var shellRefRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-=?+][^}]*)?\}`)

// openRefRE matches the start of a reference; what remains of a string
// once every complete reference is removed must not contain one, or a
// reference was left unclosed.
var openRefRE = regexp.MustCompile(`\$<[A-Za-z_]+:|\$\{(env|file):`)

// resolver replaces references in the raw tree.
type resolver struct {
	lookup   func(string) (string, bool)
	readFile func(string) ([]byte, error)
	// envOverrides merges the AUTHENGINE_* settings (EnvOverrides).
	envOverrides bool
	// checkProvider, when set, compiles providers' templates when the
	// configuration has other errors (WithProviderCheck).
	checkProvider ProviderCheck
	// used collects every substituted value, so that messages quoting a
	// field's value can be scrubbed of anything that came from the
	// environment or a file.
	used *[]string
}

// minScrubLen is the shortest substituted value scrubbed from messages:
// shorter ones (ports, booleans) are not secrets, and scrubbing them would
// mangle the messages.
const minScrubLen = 6

// note remembers a substituted value for scrubbing.
func (rs resolver) note(v string) {
	if rs.used != nil && len(v) >= minScrubLen {
		*rs.used = append(*rs.used, v)
	}
}

// replacer replaces every substituted value with "[redacted]"; nil when
// nothing was substituted.
func (rs resolver) replacer() *strings.Replacer {
	if rs.used == nil || len(*rs.used) == 0 {
		return nil
	}
	pairs := make([]string, 0, 2*len(*rs.used))
	for _, v := range *rs.used {
		pairs = append(pairs, v, redacted)
	}
	return strings.NewReplacer(pairs...)
}

// scrub replaces every substituted value in the report's messages.
func (rs resolver) scrub(r *report) {
	rep := rs.replacer()
	if rep == nil {
		return
	}
	for _, list := range [][]FieldError{r.errs, r.warnings} {
		for i := range list {
			list[i].Path = rep.Replace(list[i].Path) // ids may come from references
			list[i].Message = rep.Replace(list[i].Message)
		}
	}
}

// severity says whether an unresolved reference is an error or a warning
// (inside a disabled provider or worker).
type severity int

const (
	sevError severity = iota
	sevWarning
)

// interpolateRoot resolves every string leaf of the document. Disabled
// providers and workers get warnings instead of errors, so that a parked
// provider does not need its secrets.
func (rs resolver) interpolateRoot(root map[string]any, r *report) map[string]any {
	lists := map[string]string{"auth": "providers", "tools": "workers"}
	out := make(map[string]any, len(root))
	for k, v := range root {
		sec, isMap := v.(map[string]any)
		listKey, hasList := lists[k]
		if !isMap || !hasList {
			out[k] = rs.walk(k, v, sevError, r)
			continue
		}
		secOut := make(map[string]any, len(sec))
		for sk, sv := range sec {
			items, isList := sv.([]any)
			if sk != listKey || !isList {
				secOut[sk] = rs.walk(keyPath(k, sk), sv, sevError, r)
				continue
			}
			base := keyPath(k, sk)
			resolved := make([]any, len(items))
			paths := elemPaths(base, items)
			for i, item := range items {
				p := paths[i]
				sev := sevError
				if m, ok := item.(map[string]any); ok && !rawEnabled(rs, p, m) {
					sev = sevWarning
				}
				resolved[i] = rs.walk(p, item, sev, r)
			}
			secOut[sk] = resolved
		}
		out[k] = secOut
	}
	return out
}

// rawEnabled reads an element's enabled flag before decoding (resolving a
// reference in it first); anything unreadable counts as enabled, and the
// decoder reports it.
func rawEnabled(rs resolver, path string, m map[string]any) bool {
	switch v := m["enabled"].(type) {
	case bool:
		return v
	case string:
		var scratch report
		s := rs.resolve(keyPath(path, "enabled"), v, sevError, &scratch)
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		return err != nil || b
	default:
		return true
	}
}

// walk copies a raw subtree, resolving references in every string.
func (rs resolver) walk(path string, v any, sev severity, r *report) any {
	switch t := v.(type) {
	case string:
		return rs.resolve(path, t, sev, r)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = rs.walk(keyPath(path, k), e, sev, r)
		}
		return out
	case []any:
		out := make([]any, len(t))
		paths := elemPaths(path, t)
		for i, e := range t {
			out[i] = rs.walk(paths[i], e, sev, r)
		}
		return out
	default:
		return v
	}
}

// resolve replaces the references in one string. Replacement is a single
// pass: a value that itself contains $<...> is not expanded again. An
// unresolved reference becomes the empty string and is reported; the
// report names the variable or file, never a value.
func (rs resolver) resolve(path, s string, sev severity, r *report) string {
	if !strings.Contains(s, "$<") && !strings.Contains(s, "${") {
		return s
	}
	rest := refRE.ReplaceAllString(s, "")
	for _, m := range shellRefRE.FindAllStringSubmatch(rest, -1) {
		r.errorf(path, "${%s} is not expanded here and would be used literally; write $<env:%s>", m[1], m[1])
	}
	if loc := openRefRE.FindStringIndex(rest); loc != nil {
		open := rest[loc[0]:loc[1]]
		closer := ">"
		if strings.HasPrefix(open, "${") {
			closer = "}"
		}
		r.errorf(path, "reference %s... is not closed (add %q at its end, as in $<env:NAME>)", open, closer)
	}
	problem := func(format string, args ...any) {
		if sev == sevWarning {
			r.warnf(path, format+" (ignored: disabled)", args...)
			return
		}
		r.errorf(path, format, args...)
		r.explain(path) // the field is empty because of this
	}
	return refRE.ReplaceAllStringFunc(s, func(ref string) string {
		m := refRE.FindStringSubmatch(ref)
		kind, arg := m[1], strings.TrimSpace(m[2])
		if m[3] != "" {
			kind, arg = m[3], strings.TrimSpace(m[4])
		}
		switch kind {
		case "env":
			if !envNameRE.MatchString(arg) {
				r.errorf(path, "bad environment variable name %q in $<env:...>", arg)
				return ""
			}
			v, ok := rs.lookup(arg)
			if !ok {
				problem("environment variable %s is not set", arg)
				return ""
			}
			rs.note(v)
			return v
		case "file":
			if arg == "" {
				r.errorf(path, "$<file:...> needs a path")
				return ""
			}
			b, err := rs.readFile(arg)
			if err != nil {
				problem("cannot read file %s: %s", arg, fileProblem(err))
				return ""
			}
			v := trimOneNewline(string(b))
			rs.note(v)
			return v
		default:
			r.errorf(path, "unknown reference kind %q (want $<env:NAME> or $<file:/path>)", kind)
			return ""
		}
	})
}

// fileProblem describes a file read error without repeating the path.
func fileProblem(err error) string {
	switch {
	case os.IsNotExist(err):
		return "no such file"
	case os.IsPermission(err):
		return "permission denied"
	default:
		if pe, ok := err.(*os.PathError); ok {
			return pe.Err.Error()
		}
		return fmt.Sprint(err)
	}
}

// trimOneNewline removes one trailing newline (LF or CRLF), as editors and
// `echo` add one to a secret file.
func trimOneNewline(s string) string {
	if t, ok := strings.CutSuffix(s, "\r\n"); ok {
		return t
	}
	return strings.TrimSuffix(s, "\n")
}
