// Package paritytest runs golem's op conformance suite (package parity) as
// Go subtests. It is the only part of the parity machinery that needs
// package testing, and lives apart so that the golem binary, which uses
// parity for `golem parity`, does not link testing.
package paritytest

import (
	"slices"
	"testing"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/parity"
)

// RunOpSuite runs the op conformance suite on target against the float64
// CPU reference (parity.ReferenceDevice), one subtest per case named by the
// case, and parity.ShortCases only under -short. The test binary must
// register the CPU backend with a blank import of
// github.com/golem-llm/golem/backend/cpu. The seed comes from
// parity.SeedEnv (default parity.DefaultSeed) and is logged.
func RunOpSuite(t *testing.T, target backend.Backend) {
	t.Helper()
	if !slices.Contains(backend.Drivers(), "cpu") {
		t.Fatalf("paritytest: the reference backend %q is not registered; add `import _ \"github.com/golem-llm/golem/backend/cpu\"` to the test", parity.ReferenceDevice)
	}
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{})
	if err != nil {
		t.Fatalf("paritytest: open the reference backend: %v", err)
	}
	t.Cleanup(func() {
		if err := ref.Close(); err != nil {
			t.Errorf("paritytest: close %s: %v", parity.ReferenceDevice, err)
		}
	})
	seed, err := parity.SeedFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("paritytest: seed %d (set %s to rerun)", seed, parity.SeedEnv)
	cases := parity.Cases()
	if testing.Short() {
		cases = parity.ShortCases()
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r := parity.RunCase(t.Context(), target, ref, c, seed)
			switch {
			case r.Skipped:
				t.Skip(r.Message())
			case r.Err != nil || !r.Pass:
				t.Fatal(r.Message())
			}
		})
	}
}
