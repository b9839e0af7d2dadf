package parley_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestLayout checks the dependency rules of the house style: the domain
// package imports only the standard library, adapters never import each
// other, and only cmd/ knows concrete adapters.
func TestLayout(t *testing.T) {
	const module = "github.com/parley-chat/parley"
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Standard", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	adapters := []string{"server", "client", "sqlite", "postgres", "inmem", "disk", "web"}
	isAdapter := func(p string) string {
		for _, a := range adapters {
			if p == module+"/"+a {
				return a
			}
		}
		return ""
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var pkg struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg.ImportPath, module), "/")
		for _, imp := range pkg.Imports {
			switch {
			case pkg.ImportPath == module && strings.Contains(strings.SplitN(imp, "/", 2)[0], "."):
				t.Errorf("the domain package imports %s; it may use only the standard library", imp)
			case isAdapter(pkg.ImportPath) != "" && isAdapter(imp) != "" && imp != pkg.ImportPath:
				t.Errorf("adapter %s imports adapter %s; share code through internal/ instead", rel, strings.TrimPrefix(imp, module+"/"))
			case strings.HasPrefix(imp, module+"/cmd/"):
				t.Errorf("%s imports the command %s", rel, imp)
			}
		}
	}
}
