package main

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/config/catalog"
)

// catalogEntry is one built-in template as `authengine catalog` shows it.
type catalogEntry struct {
	id        string
	p         config.Provider
	notes     []string // the template's leading "# - " comment lines
	variables []string // connection variables, each with the environment variable that fixes it
}

// grants lists the grant types the template uses.
func (e catalogEntry) grants() string {
	g := e.p.OAuth2.GrantType
	if e.p.OAuth2.RefreshTokenRequest != nil {
		g += ", refresh_token"
	}
	return g
}

func (e catalogEntry) pkce() string {
	if e.p.OAuth2.PKCE.Enabled {
		return "S256"
	}
	return "off"
}

// clientAuth is the token request's client authentication.
func (e catalogEntry) clientAuth() string {
	if t := e.p.OAuth2.TokenRequest; t != nil {
		return t.AuthMethod
	}
	return ""
}

// loadCatalog decodes every template, in id order.
func loadCatalog() ([]catalogEntry, error) {
	var out []catalogEntry
	for _, id := range catalog.IDs() {
		p, err := config.CatalogProvider(id)
		if err != nil {
			return nil, fmt.Errorf("built-in provider %s: %w", id, err)
		}
		raw, _ := catalog.Lookup(id)
		out = append(out, catalogEntry{id: id, p: p, notes: templateNotes(raw), variables: connectionVariables(p)})
	}
	return out, nil
}

// connectionVariables lists a template's connection variables as
// "name (ENV)", sorted by name.
func connectionVariables(p config.Provider) []string {
	var out []string
	for name, v := range p.OAuth2.ConnectionVariables {
		if v.Env != "" {
			name += " (" + v.Env + ")"
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// templateNotes returns the "# - note" items of a template's leading
// comment, continuation lines ("#   more") joined.
func templateNotes(raw []byte) []string {
	var notes []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			break
		}
		switch {
		case strings.HasPrefix(line, "# - "):
			notes = append(notes, strings.TrimPrefix(line, "# - "))
		case strings.HasPrefix(line, "#   ") && len(notes) > 0:
			notes[len(notes)-1] += " " + strings.TrimSpace(strings.TrimPrefix(line, "#"))
		}
	}
	return notes
}

func listCatalog(format string, w io.Writer) error {
	entries, err := loadCatalog()
	if err != nil {
		return err
	}
	switch format {
	case "text":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPROVIDER\tGRANTS\tPKCE\tCLIENT AUTH\tCONNECTION VARIABLES\tGUIDE")
		for _, e := range entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.id, e.p.Description, e.grants(), e.pkce(),
				e.clientAuth(), cmp.Or(strings.Join(e.variables, ","), "-"), e.p.GuideURL)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "%d built-in providers; use one with `provider_id: <ID>` (docs/providers.md)\n", len(entries))
		return err
	case "markdown":
		_, err := io.WriteString(w, providersMarkdown(entries))
		return err
	}
	return fmt.Errorf("--format must be text or markdown, not %q", format)
}

// regenerateProviders is the command that writes docs/providers.md.
const regenerateProviders = "go run ./cmd/authengine catalog --format markdown > docs/providers.md"

// providersMarkdown renders docs/providers.md.
func providersMarkdown(entries []catalogEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Built-in providers

<!-- Generated from config/catalog/providers/ by: %s
     Do not edit by hand; a test fails when this file is stale. -->

The engine ships **%d provider templates**. A provider entry names one with `+"`provider_id`"+` and gives
its client credentials; every other field comes from the template and may be overridden (maps merge
key by key, lists replace; see [configuration.md](configuration.md#built-in-providers)):

`+"```yaml"+`
auth:
  providers:
    - provider_id: github          # id defaults to "github"
      client_id: $<env:GITHUB_CLIENT_ID>
      client_secret: $<env:GITHUB_CLIENT_SECRET>
`+"```"+`

Register `+"`<public_url>/oauth/callback`"+` as the redirect URI of the app you create with the
provider (the guide column links to each provider's instructions). `+"`authengine catalog`"+` prints this
list; `+"`authengine check`"+` names the guide of every provider that uses a template.

Templates of providers whose host differs per customer declare it as a connection variable (the
"connection variables" column), such as Zendesk's `+"`subdomain`"+`: the app gives its value in the
authorize request (`+"`auth_requirement.connection_variables`"+`), checked against the template's
pattern, and the engine keeps it with the connection. The environment variable in brackets, when
set, fixes the value for every connection instead (an engine serving one tenant, as before); the
admin API never reads the engine's environment. See
[configuration.md](configuration.md#connection-variables).

## Summary

| id | provider | grants | PKCE | client auth | scope delimiter | default scopes | connection variables |
|---|---|---|---|---|---|---|---|
`, regenerateProviders, len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "| `%s` | [%s](%s) | %s | %s | `%s` | %s | %s | %s |\n", e.id, e.p.Description, e.p.GuideURL,
			e.grants(), e.pkce(), e.clientAuth(), delimiterName(e.p.OAuth2.ScopeDelimiter), codeList(e.p.OAuth2.DefaultScopes, " "),
			codeList(e.variables, ", "))
	}
	b.WriteString(`
## Quirk families

Each family below is run end to end through the engine's HTTP API (authorize, consent, callback,
token and user info, then expiry and refresh where the template refreshes) with every template
listed, its endpoints pointed at the strict stand-in provider (` + "`internal/providertest`" + `) set to
reproduce the quirk and to demand exactly the template's client authentication, PKCE, scope
delimiter and body type.

| family | catalog entries | test |
|---|---|---|
`)
	for _, f := range catalog.Families {
		fmt.Fprintf(&b, "| %s | %s | `%s/%s` |\n", f.Name, codeList(f.Entries, ", "), catalog.FamilyTest, f.Key)
	}
	b.WriteString("\n## Providers\n")
	for _, e := range entries {
		o := e.p.OAuth2
		fmt.Fprintf(&b, "\n### `%s`: %s\n\n", e.id, e.p.Description)
		fmt.Fprintf(&b, "- Create the OAuth app: <%s>\n", e.p.GuideURL)
		for _, r := range []struct {
			name string
			req  *config.Request
		}{{"authorize", o.AuthorizeRequest}, {"token", o.TokenRequest}, {"refresh", o.RefreshTokenRequest}, {"user info", o.UserInfoRequest}, {"revocation", o.RevocationRequest}} {
			if r.req != nil {
				fmt.Fprintf(&b, "- %s: `%s %s`\n", r.name, r.req.Method, r.req.Endpoint)
			}
		}
		if o.UserInfoFrom == config.UserInfoFromIDToken {
			fmt.Fprintf(&b, "- user info: the id_token's claims, verified against the keys of the issuer `%s`\n", o.Issuer)
		}
		if len(o.AllowedScopes) > 0 {
			fmt.Fprintf(&b, "- allowed scopes: %s\n", codeList(o.AllowedScopes, " "))
		}
		for _, n := range e.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	b.WriteString(discoveredProvidersMarkdown)
	return b.String()
}

// codeList renders items as inline code joined by sep, or "" for none.
func codeList(items []string, sep string) string {
	if len(items) == 0 {
		return ""
	}
	return "`" + strings.Join(items, "`"+sep+"`") + "`"
}

// delimiterName shows a scope delimiter in a table cell.
func delimiterName(d string) string {
	if d == " " {
		return "space"
	}
	return "`" + d + "`"
}
