package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// pageData is what every page template receives; each page uses the
// fields it needs.
type pageData struct {
	Title   string
	Nav     string // the active nav link
	CSRF    string
	Message string
	Error   string
	Notice  string
	NoKeys  bool

	RedirectURI  string
	Providers    []providerRow
	Form         *providerForm
	Templates    []templateInfo
	Tiles        []tile
	Connections  []connectionRow
	Filter       connectionFilter
	Page         pager
	Target       string // the provider or connection a confirm page is about
	Count        int
	TokenResult  *tokenResult
	SignedIn     bool
	ConfirmLabel string
}

// parsePages parses each page together with the layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"join":    strings.Join,
		"when":    formatTime,
		"lower":   strings.ToLower,
		"plural":  plural,
		"fieldID": fieldID,
		"slice3":  func(f *providerForm, path, label string) []any { return []any{f, path, label} },
	}
	pages := map[string]*template.Template{}
	entries, err := templateFiles.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if name == "layout.html" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render executes a page into a buffer first, so that a template error
// never sends half a page.
func (c *Console) render(w http.ResponseWriter, status int, page string, d pageData) {
	var buf bytes.Buffer
	if err := c.pages[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		c.log.Error("console: render page", "page", page, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// fieldID turns a document path (oauth2.token_request.endpoint) into an
// HTML id.
func fieldID(path string) string {
	return "f-" + strings.NewReplacer(".", "-", "_", "-").Replace(path)
}
