package config

import (
	"fmt"
	"reflect"

	"github.com/authengine/authengine/config/catalog"
)

// CatalogProvider returns the built-in template id as the Provider it
// describes, with the defaults filled in and without client credentials,
// for listing and documentation (`authengine catalog`, docs/providers.md).
// References such as $<env:OKTA_DOMAIN> are left as written; Load
// resolves them when a provider uses the template.
func CatalogProvider(id string) (Provider, error) {
	if _, ok := catalog.Lookup(id); !ok {
		return Provider{}, fmt.Errorf("unknown built-in provider %q", id)
	}
	doc, err := mergeProvider(map[string]any{"provider_id": id})
	if err != nil {
		return Provider{}, err
	}
	var r report
	var p Provider
	v := reflect.ValueOf(&p).Elem()
	path := "catalog[" + id + "]"
	preset(path, v)
	d := decoder{r: &r, preset: preset}
	d.decode(path, doc, v)
	providerDefaults(&p)
	if err := r.err(); err != nil {
		return Provider{}, err
	}
	return p, nil
}
