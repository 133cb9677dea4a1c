package catalog

import (
	"bytes"
	"slices"
	"testing"
)

func TestIDsListTheShippedProviders(t *testing.T) {
	ids := IDs()
	for _, want := range []string{"github", "google", "microsoft", "notion", "slack", "twitch"} {
		if !slices.Contains(ids, want) {
			t.Errorf("IDs() = %v, missing %q", ids, want)
		}
	}
	if !slices.IsSorted(ids) {
		t.Errorf("IDs() not sorted: %v", ids)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"a shipped provider is found", "github", true},
		{"an unknown provider is not found", "hooli", false},
		{"an empty id is not found", "", false},
		{"a path is not followed", "../catalog", false},
		{"a file name with its extension is not an id", "github.yaml", false},
		{"ids are case-sensitive", "GitHub", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := Lookup(tt.id)
			if ok != tt.ok || (ok && len(b) == 0) {
				t.Fatalf("Lookup(%q) = %d bytes, %v; want ok=%v", tt.id, len(b), ok, tt.ok)
			}
		})
	}
}

func TestLookupReturnsACopy(t *testing.T) {
	a, _ := Lookup("github")
	orig := bytes.Clone(a)
	for i := range a {
		a[i] = 'x'
	}
	b, _ := Lookup("github")
	if !bytes.Equal(b, orig) {
		t.Fatal("changing a returned template changed the catalog")
	}
}

func TestFamiliesNameShippedTemplates(t *testing.T) {
	keys := map[string]bool{}
	for _, f := range Families {
		if keys[f.Key] || f.Key == "" || f.Name == "" || len(f.Entries) == 0 {
			t.Errorf("family %+v: empty or duplicate", f)
		}
		keys[f.Key] = true
		for _, id := range f.Entries {
			if _, ok := Lookup(id); !ok {
				t.Errorf("family %s names %q, which is not in the catalog", f.Key, id)
			}
		}
	}
}
