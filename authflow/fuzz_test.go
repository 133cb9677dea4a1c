package authflow

import (
	"strings"
	"testing"
)

// FuzzTemplate compiles arbitrary param templates: compiling either fails
// with the field path or yields a template that renders without panicking,
// and scope normalisation is idempotent and leaves no empty scope. The
// delimiter is one of the real ones (a delimiter made of scope characters,
// such as "00", cannot be told apart from the scopes and is not supported).
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "code", "<<client_id>>", "<<scopes>> <<existing_scopes>>", "<<scopes>>,<<existing_scopes>>", "<<", ">>", "<<<<scopes>>>>", "<< scopes >>", "a<<b>>c", "<<scope>>", "<<client_id>>x>>", "<<scopes>>>"} {
		f.Add(s, "read write,read", uint8(1))
	}
	f.Fuzz(func(t *testing.T, tmpl, scopes string, d uint8) {
		delims := []string{" ", ",", ";", "+", "|", ""}
		delim := delims[int(d)%len(delims)]
		txt, err := compileText("auth.providers[f].oauth2.authorize_request.params.p", tmpl, rules{allowed: allowAuthorize})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "auth.providers[f].oauth2.authorize_request.params.p: ") {
				t.Fatalf("error %q lacks the field path", err)
			}
			return
		}
		v := vars{clientID: "c", scopes: scopes, existingScopes: scopes}
		out := txt.render(&v)
		if txt.tmpl != nil {
			if full := txt.tmpl.ExecuteFuncString(v.tag); out != full {
				t.Fatalf("render %q = %q, but the template renders %q", tmpl, out, full)
			}
		}
		if txt.uses&(phScopes|phExistingScopes) == 0 {
			return
		}
		n := normalizeScopes(out, delim)
		if again := normalizeScopes(n, delim); again != n {
			t.Fatalf("normalizeScopes not idempotent: %q then %q", n, again)
		}
		if delim == "" {
			delim = " "
		}
		if n != "" {
			for _, s := range strings.Split(n, delim) {
				if strings.TrimSpace(s) == "" {
					t.Fatalf("empty scope in %q (delim %q)", n, delim)
				}
			}
		}
	})
}
