package main

import (
	"go/parser"
	"go/token"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// goList runs `go list` with args in the module, or skips without the go command.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH: cannot list packages")
	}
	out, err := exec.Command(gocmd, append([]string{"list"}, args...)...).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		require.NoError(t, err, "go list: %s", ee.Stderr)
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestBinaryDoesNotLinkTesting checks that no package the golem binary is
// built from imports package testing, directly or through another package
// (with and without cgo, whose files differ).
func TestBinaryDoesNotLinkTesting(t *testing.T) {
	for _, cgo := range []string{"1", "0"} {
		t.Run("CGO_ENABLED="+cgo, func(t *testing.T) {
			t.Setenv("CGO_ENABLED", cgo)
			deps := goList(t, "-deps", "github.com/golem-llm/golem/cmd/golem")
			require.Contains(t, deps, "github.com/golem-llm/golem/backend", "the dependency list is real")
			for _, p := range []string{"testing", "github.com/stretchr/testify/require"} {
				require.NotContains(t, deps, p, "the golem binary links %s", p)
			}
		})
	}
}

// TestTestingOnlyInTestPackages checks the rule that only _test.go files and
// packages whose name ends in "test" import package testing.
func TestTestingOnlyInTestPackages(t *testing.T) {
	lines := goList(t, "-f", "{{.ImportPath}} {{.Name}} {{join .Imports \",\"}}", "github.com/golem-llm/golem/...")
	require.Greater(t, len(lines), 10, "the package list is real")
	for _, l := range lines {
		f := strings.Fields(l)
		require.GreaterOrEqual(t, len(f), 2, l)
		if strings.HasSuffix(f[1], "test") || len(f) < 3 {
			continue
		}
		for _, imp := range strings.Split(f[2], ",") {
			require.NotEqual(t, "testing", imp, "package %s (%s) imports testing outside a _test.go file; move that code into a package whose name ends in \"test\"", f[0], f[1])
		}
	}
}

// TestGenerationCommandsUseTheAPI checks that the commands that generate
// and tokenize (run, chat, tokenize, detokenize, serve) are written
// against the public Go API, package golem, and nothing else of golem's
// (serve adds package server, which is itself written against the API
// alone).
func TestGenerationCommandsUseTheAPI(t *testing.T) {
	files := map[string][]string{"run.go": nil, "chat.go": nil, "model.go": nil, "tokenize.go": nil,
		"serve.go": {"github.com/golem-llm/golem/server"}}
	for file, allowed := range files {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(path, "github.com/golem-llm/golem/") && !slices.Contains(allowed, path) {
				t.Errorf("%s imports %s: the generation commands use only package golem", file, path)
			}
		}
	}
	deps := goList(t, "-f", `{{join .Imports "\n"}}`, "github.com/golem-llm/golem/server")
	for _, p := range deps {
		if strings.HasPrefix(p, "github.com/golem-llm/golem/") {
			t.Errorf("package server imports %s: it uses only package golem", p)
		}
	}
	require.Contains(t, deps, "github.com/golem-llm/golem", "the import list is real")
}
