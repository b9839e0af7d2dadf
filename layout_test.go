package parley_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	pathpkg "path"
	"path/filepath"
	"reflect"
	"strconv"
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

// TestServerCore checks that server/ keeps its service core free of wire
// types: outside the Connect adapter files (named *_connect.go) and
// routes.go, which wires them, no function takes or returns, and no type is
// built from, a type of connect-go or of the generated protobuf packages.
// A second way in (REST, SSE, a job) then calls the core with domain types.
func TestServerCore(t *testing.T) {
	wire := func(path string) bool {
		return path == "connectrpc.com/connect" || strings.HasPrefix(path, "github.com/parley-chat/parley/gen/")
	}
	files, err := filepath.Glob("server/*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		base := filepath.Base(name)
		if strings.HasSuffix(base, "_test.go") || strings.HasSuffix(base, "_connect.go") || base == "routes.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		wireNames := map[string]string{} // local import name -> path
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !wire(path) {
				continue
			}
			local := pathpkg.Base(path)
			if imp.Name != nil {
				local = imp.Name.Name
			}
			wireNames[local] = path
		}
		check := func(what string, n ast.Node) {
			if n == nil || reflect.ValueOf(n).IsNil() {
				return
			}
			ast.Inspect(n, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && wireNames[x.Name] != "" {
					t.Errorf("%s: %s uses %s.%s; move it to a *_connect.go adapter or use domain types",
						fset.Position(sel.Pos()), what, wireNames[x.Name], sel.Sel.Name)
				}
				return true
			})
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				check("func "+d.Name.Name, d.Recv)
				check("func "+d.Name.Name, d.Type)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if ts, ok := spec.(*ast.TypeSpec); ok {
						check("type "+ts.Name.Name, ts.Type)
					}
				}
			}
		}
	}
}
