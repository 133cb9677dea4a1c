package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"

	"github.com/authengine/authengine/config/catalog"
)

// Option changes how Load reads the configuration.
type Option func(*loadOptions)

type loadOptions struct {
	envFile         string
	envFileExplicit bool
	lookupEnv       func(string) (string, bool)
	envOverrides    bool
	readFile        func(string) ([]byte, error)
	checkProvider   ProviderCheck
}

// ProviderCheck compiles one provider's templates and JSONPath (package
// authflow does) and returns its problems, each path starting
// "auth.providers[<id>]".
type ProviderCheck func(Provider) []FieldError

// WithProviderCheck has Load run check over every enabled provider when
// the configuration has other errors, so that template and JSONPath
// problems are reported in the same report as the structural ones rather
// than only once those are fixed.
func WithProviderCheck(check ProviderCheck) Option {
	return func(o *loadOptions) { o.checkProvider = check }
}

// WithEnvFile names the .env file to read (the -e/--env flag). It must
// exist. WithEnvFile("") reads no .env file at all. Without this option,
// .env in the working directory is read when present.
func WithEnvFile(path string) Option {
	return func(o *loadOptions) { o.envFile, o.envFileExplicit = path, true }
}

// WithEnvOverrides lets the variables of EnvOverrides (AUTHENGINE_API_PORT
// and the like), from the environment or the .env file, override the
// file's settings. Their values are settings, not secrets: a bad one is
// quoted in the error like a value of the file.
func WithEnvOverrides() Option {
	return func(o *loadOptions) { o.envOverrides = true }
}

// WithLookupEnv replaces os.LookupEnv as the source of the real
// environment (tests use it). The real environment wins over .env values.
func WithLookupEnv(lookup func(string) (string, bool)) Option {
	return func(o *loadOptions) { o.lookupEnv = lookup }
}

// Load reads, interpolates, merges, decodes, defaults and validates the
// configuration file at path. It returns the configuration, the warnings
// (each "field.path: message"), and an error: *Errors listing every problem
// with its field path, or an error about reading the files. On error the
// returned Config is nil. Neither warnings nor errors contain secret values.
func Load(path string, opts ...Option) (*Config, []string, error) {
	o := loadOptions{envFile: ".env", lookupEnv: os.LookupEnv, readFile: os.ReadFile}
	for _, opt := range opts {
		opt(&o)
	}
	dotenv, err := readDotEnv(o)
	if err != nil {
		return nil, nil, err
	}
	data, err := file.Provider(path).ReadBytes()
	if err != nil {
		return nil, nil, fmt.Errorf("read config %s: %w", path, err)
	}
	lookup := func(name string) (string, bool) {
		if v, ok := o.lookupEnv(name); ok {
			return v, true
		}
		v, ok := dotenv[name]
		return v, ok
	}
	return parse(data, resolver{lookup: lookup, readFile: o.readFile, envOverrides: o.envOverrides, checkProvider: o.checkProvider})
}

// readDotEnv reads the .env file named by the options; a missing default
// .env is not an error, a missing explicit one is.
func readDotEnv(o loadOptions) (map[string]string, error) {
	if o.envFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(o.envFile)
	if err != nil {
		if !o.envFileExplicit && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read env file: %w", err)
	}
	return parseDotEnv(o.envFile, b)
}

// parse runs every stage after reading: YAML, catalog merge, references,
// decoding, defaults and validation.
func parse(data []byte, rs resolver) (*Config, []string, error) {
	if rs.used == nil {
		rs.used = new([]string)
	}
	// koanf parses the file; its key delimiter is one no YAML key here
	// uses, so keys holding dots (params, response_map) stay whole.
	k := koanf.New("\x00")
	if err := k.Load(rawbytes.Provider(data), yaml.Parser()); err != nil {
		var fields []FieldError
		for _, msg := range yamlProblems(err, data) {
			fields = append(fields, FieldError{Message: "invalid YAML: " + msg})
		}
		return nil, nil, &Errors{Fields: fields}
	}
	if rs.envOverrides {
		if err := loadEnvOverrides(k, rs.lookup); err != nil {
			return nil, nil, fmt.Errorf("read AUTHENGINE_* settings from the environment: %w", err)
		}
	}
	doc, _ := deepCopy(k.Raw()).(map[string]any)
	if doc == nil {
		doc = map[string]any{}
	}

	var r report
	// A top-level $schema names the JSON Schema editors validate the file
	// with; it is not configuration.
	if _, ok := doc["$schema"].(string); ok {
		delete(doc, "$schema")
	}
	mergeCatalog(doc, &r)
	bindVariableEnv(doc, rs.lookup)
	doc = rs.interpolateRoot(doc, &r)

	c := Default()
	d := decoder{r: &r, preset: preset}
	d.decode("", doc, reflect.ValueOf(c).Elem())
	applyDerived(c)
	validate(c, &r)
	if len(r.errs) > 0 && rs.checkProvider != nil {
		checkProviders(c, &r, rs.checkProvider)
	}
	rs.scrub(&r)
	if err := r.err(); err != nil {
		return nil, r.warningLines(), err
	}
	c.references = rs.replacer()
	return c, r.warningLines(), nil
}

// yamlLineRE finds the line number in a YAML error.
var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// yamlDuplicateRE is the parser's report of a key given twice in one
// mapping.
var yamlDuplicateRE = regexp.MustCompile(`line (\d+): mapping key "([^"]*)" already defined at line (\d+)`)

// yamlProblems turns the parser's error into one line per problem, each
// naming the line and saying what to do. It keeps the parser's wording
// (which holds line numbers) but never an excerpt of the file, which may
// hold a secret: only keys (never values) are quoted.
func yamlProblems(err error, data []byte) []string {
	msg := err.Error()
	if dups := yamlDuplicateRE.FindAllStringSubmatch(msg, -1); len(dups) > 0 {
		out := make([]string, len(dups))
		for i, m := range dups {
			out[i] = fmt.Sprintf("key %q is given twice in one mapping, at line %s and at line %s: keep one", m[2], m[3], m[1])
		}
		return out
	}
	if strings.Contains(msg, "cannot unmarshal") {
		where := ""
		if m := yamlLineRE.FindString(msg); m != "" {
			where = " (" + m + ")"
		}
		return []string{"the document must be a map of keys such as api, store and auth" + where}
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if tabIndented(data, n) {
			return []string{msg + ": the line is indented with a tab; YAML indents with spaces only, replace the tab with spaces"}
		}
		return []string{msg + ": check the indentation, the colon after each key and the quotes on that line and the one before"}
	}
	return []string{msg}
}

// tabIndented says whether line n (1-based) of data, or the line before
// it (the parser sometimes reports the next one), has a tab in its
// leading whitespace.
func tabIndented(data []byte, n int) bool {
	lines := strings.Split(string(data), "\n")
	for _, i := range []int{n - 1, n - 2} {
		if i >= 0 && i < len(lines) {
			rest := strings.TrimLeft(lines[i], " \t")
			if strings.Contains(lines[i][:len(lines[i])-len(rest)], "\t") {
				return true
			}
		}
	}
	return false
}

// mergeCatalog prepares every provider entry of the document with
// mergeProvider (the refresh_request alias, the id defaulted to the
// provider_id, the built-in template laid under it).
func mergeCatalog(doc map[string]any, r *report) {
	auth, _ := doc["auth"].(map[string]any)
	providers, _ := auth["providers"].([]any)
	for i, item := range providers {
		p, ok := item.(map[string]any)
		if !ok {
			continue
		}
		merged, err := mergeProvider(p)
		if err != nil {
			r.errorf(keyPath(elemPath("auth.providers", providers, i), "provider_id"), "%v", err)
		}
		providers[i] = merged
	}
}

// mergeProvider is the raw-tree stage of one provider entry: it folds the
// refresh_request alias, defaults a missing id to the provider_id, and
// lays the entry over the built-in template its provider_id names. It
// modifies p (alias and id) and returns the merged entry, which shares
// nothing with the template. An unknown provider_id is left for
// validateProvider to report; a template that does not parse is an error
// (p is returned unmerged).
func mergeProvider(p map[string]any) (map[string]any, error) {
	foldRawRefreshAlias(p)
	name, ok := p["provider_id"].(string)
	if !ok || name == "" {
		return p, nil
	}
	if _, hasID := p["id"]; !hasID {
		p["id"] = name
	}
	tmpl, ok := catalog.Lookup(name)
	if !ok {
		return p, nil
	}
	base, err := yaml.Parser().Unmarshal(tmpl)
	if err != nil {
		return p, fmt.Errorf("built-in template %q is broken: %w", name, err)
	}
	return deepMerge(base, p), nil
}

// foldRawRefreshAlias renames refresh_request to refresh_token_request in a
// raw provider before it is merged, so that the alias overrides a
// template's refresh_token_request. Both given stay for Validate to report.
func foldRawRefreshAlias(p map[string]any) {
	o, ok := p["oauth2"].(map[string]any)
	if !ok {
		return
	}
	alias, hasAlias := o["refresh_request"]
	if _, hasBoth := o["refresh_token_request"]; !hasAlias || hasBoth {
		return
	}
	delete(o, "refresh_request")
	o["refresh_token_request"] = alias
}

// checkProviders adds the problems check finds in the enabled providers
// that are compiled at start (not those completed by discovery), under
// the paths validateAuth names them by. A problem at a path that already
// has an error is left out: validation named it first.
func checkProviders(c *Config, r *report, check ProviderCheck) {
	reported := make(map[string]bool, len(r.errs))
	for _, e := range r.errs {
		reported[e.Path] = true
	}
	bases := providerBases(c.Auth.Providers)
	for i, p := range c.Auth.Providers {
		if p.ID == "" || !p.IsEnabled() || p.NeedsDiscovery() {
			continue
		}
		prefix := "auth.providers[" + p.ID + "]"
		for _, e := range check(p) {
			rest, ok := strings.CutPrefix(e.Path, prefix)
			if !ok {
				continue // a problem across providers: validation reports those
			}
			e.Path = bases[i] + rest
			if reported[e.Path] {
				continue
			}
			reported[e.Path] = true
			r.errs = append(r.errs, e)
		}
	}
}
