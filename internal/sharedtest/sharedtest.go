// Package sharedtest holds helpers shared by golem's tests (its name ends in
// "test" because it imports package testing).
package sharedtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, walking up from the working
// directory of the test.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("sharedtest: getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("sharedtest: no go.mod above the test's directory")
		}
		dir = parent
	}
}

// SharedPath returns the path of rel inside ../shared beside the repository
// (or inside $GOLEM_SHARED when set, as on a GPU machine running a bundle).
// When the file is absent the test is skipped with a message naming the
// path, except under CI=true, where a missing file fails the test.
func SharedPath(t testing.TB, rel ...string) string {
	t.Helper()
	root := "" // not needed with GOLEM_SHARED (a bundle has no go.mod)
	if os.Getenv("GOLEM_SHARED") == "" {
		root = RepoRoot(t)
	}
	p, err := locate(root, rel...)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sharedtest: required shared file missing: %s", p)
		}
		t.Skipf("sharedtest: shared file missing: %s", p)
	}
	return p
}

// MainPath is SharedPath for a TestMain whose package's tests and examples
// all need the file, run from the directory holding go.mod (examples
// cannot skip): it returns the path, or, when the file is absent, prints
// why and exits (status 0 skips the package, 1 under CI=true).
func MainPath(rel ...string) string {
	p, err := locate(".", rel...)
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "sharedtest: required shared file missing: %s\n", p)
			os.Exit(1)
		}
		fmt.Printf("sharedtest: shared file missing: %s; skipping the package\n", p)
		os.Exit(0)
	}
	return p
}

// locate returns the path of rel in the shared folder beside root (or in
// $GOLEM_SHARED), and an error when it does not exist.
func locate(root string, rel ...string) (string, error) {
	dir := os.Getenv("GOLEM_SHARED")
	if dir == "" {
		dir = filepath.Join(root, "..", "shared")
	}
	p := filepath.Join(append([]string{dir}, rel...)...)
	_, err := os.Stat(p)
	return p, err
}
