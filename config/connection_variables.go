package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Connection variables are values an app gives per connection
// (oauth2.connection_variables); templates use them as <<connection.NAME>>.

// variableNameRE is a connection variable's name.
var variableNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// MaxVariableLength bounds a connection variable's value.
const MaxVariableLength = 255

// CompileVariablePattern compiles a connection variable's pattern,
// anchored at both ends: a value must match it whole.
func CompileVariablePattern(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + pattern + `)$`)
}

// connectionRE finds <<connection.NAME>> in a template.
var connectionRE = regexp.MustCompile(`<<\s*connection\.([A-Za-z0-9_]*)\s*>>`)

// SampleTemplate fills a template's <<connection.NAME>> with the
// variable's example (its fixed value when it has one), so a template
// whose host is a variable can be checked as a URL; other placeholders
// are left as written.
func SampleTemplate(s string, vars map[string]ConnectionVariable) string {
	return connectionRE.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := vars[connectionRE.FindStringSubmatch(m)[1]]
		switch {
		case !ok:
			return m
		case v.Value != "":
			return v.Value
		case v.Example != "":
			return v.Example
		}
		return "x"
	})
}

// validateConnectionVariables checks oauth2.connection_variables: names,
// patterns that compile, examples that match them. A fixed value (value,
// or env set) is the operator's choice and is not held to the pattern,
// which governs what apps may give: a custom domain in OKTA_DOMAIN keeps
// working.
func validateConnectionVariables(vars map[string]ConnectionVariable, base string, r *report) {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := vars[n]
		path := keyPath(keyPath(base, "connection_variables"), n)
		if !variableNameRE.MatchString(n) {
			r.errorf(path, "a variable's name must be lower-case letters, digits and '_', starting with a letter, at most 32 characters")
		}
		if strings.TrimSpace(v.Pattern) == "" {
			r.errorf(keyPath(path, "pattern"), "is required: the regular expression every value must match")
			continue
		}
		re, err := CompileVariablePattern(v.Pattern)
		if err != nil {
			r.errorf(keyPath(path, "pattern"), "is not a valid regular expression: %v", err)
			continue
		}
		if v.Example == "" {
			r.errorf(keyPath(path, "example"), "is required: a sample value matching the pattern")
		} else if !re.MatchString(v.Example) {
			r.errorf(keyPath(path, "example"), "does not match the pattern %s", v.Pattern)
		}
		if v.Env != "" && !envNameRE.MatchString(v.Env) {
			r.errorf(keyPath(path, "env"), "must be an environment variable's name")
		}
	}
}

// bindVariableEnv fixes the connection variables whose env names a set
// environment variable: their value becomes a $<env:NAME> reference,
// which interpolation resolves (and scrubs from messages) like any other.
// A variable whose environment variable is unset stays per connection.
func bindVariableEnv(doc map[string]any, lookup func(string) (string, bool)) {
	if lookup == nil {
		return
	}
	auth, _ := doc["auth"].(map[string]any)
	providers, _ := auth["providers"].([]any)
	for _, item := range providers {
		p, _ := item.(map[string]any)
		o, _ := p["oauth2"].(map[string]any)
		vars, _ := o["connection_variables"].(map[string]any)
		for _, raw := range vars {
			v, _ := raw.(map[string]any)
			env, _ := v["env"].(string)
			if env == "" || !envNameRE.MatchString(env) || v["value"] != nil {
				continue
			}
			if _, set := lookup(env); set {
				v["value"] = fmt.Sprintf("$<env:%s>", env)
			}
		}
	}
}
