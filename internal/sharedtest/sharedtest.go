// Package sharedtest holds helpers shared by golem's tests (its name ends in
// "test" because it imports package testing).
package sharedtest

import (
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
	root := os.Getenv("GOLEM_SHARED")
	if root == "" {
		root = filepath.Join(RepoRoot(t), "..", "shared")
	}
	p := filepath.Join(append([]string{root}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sharedtest: required shared file missing: %s", p)
		}
		t.Skipf("sharedtest: shared file missing: %s", p)
	}
	return p
}
