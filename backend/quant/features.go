package quant

import (
	"fmt"
	"os"
	"strings"
)

// FeaturesEnv is the environment variable that caps the kernel family the
// package uses: "avx512" (the default: the best the CPU has), "avxvnni"
// (the AVX2 kernels with AVX-VNNI's 256-bit integer dot products, as on a
// CPU with AVX-VNNI and no AVX-512; "avx2" where the CPU lacks AVX-VNNI),
// "avx2" (the AVX2 kernels alone) or "generic" (the portable Go code
// only). It is read once, when the program starts.
const FeaturesEnv = "GOLEM_CPU_FEATURES"

// Kernel families, from the portable code up.
const (
	levelGeneric = iota
	levelAVX2
	levelAVXVNNI
	levelAVX512
)

// levelNames are the values FeaturesEnv accepts, by level.
var levelNames = [...]string{levelGeneric: "generic", levelAVX2: "avx2", levelAVXVNNI: "avxvnni", levelAVX512: "avx512"}

// envLevel returns the cap that value (FeaturesEnv's value) puts on the
// kernel family: the highest level for "", an error for an unknown name.
func envLevel(value string) (int, error) {
	v := strings.ToLower(strings.TrimSpace(value))
	if v == "" {
		return levelAVX512, nil
	}
	for l, name := range levelNames {
		if v == name {
			return l, nil
		}
	}
	return levelAVX512, fmt.Errorf("quant: %s=%q: want avx512, avxvnni, avx2 or generic", FeaturesEnv, value)
}

// featuresErr is the error of FeaturesEnv's value at start-up (nil when it
// is valid or unset); the kernels then run at the CPU's best level.
var featuresErr error

// startLevel is the kernel family chosen at start-up: the CPU's best level
// (cpuLevel, per platform) capped by FeaturesEnv.
var startLevel = func() int {
	capLevel, err := envLevel(os.Getenv(FeaturesEnv))
	featuresErr = err
	return runnable(min(cpuLevel(), capLevel))
}()

// runnable returns level l, or avx2 for avxvnni on a CPU without AVX-VNNI
// (one with AVX-512 but not AVX-VNNI, capped at avxvnni): the levels are
// ordered by what the kernels do, and only avxvnni needs a feature that a
// higher level does not imply.
func runnable(l int) int {
	if l == levelAVXVNNI && !cpuHasAVXVNNI() {
		return levelAVX2
	}
	return l
}

// CheckFeatures returns an error naming FeaturesEnv when its value at
// start-up was not one it accepts; the CPU backend refuses to open then.
func CheckFeatures() error { return featuresErr }

// Kernels names the kernel family in use: "avx512" (AVX-512 F/BW/VL with
// VNNI integer dot products), "avxvnni" (the avx2 kernels, with AVX-VNNI's
// integer dot products where they have them), "avx2" (AVX2, FMA and F16C)
// or "generic".
func Kernels() string { return levelNames[level()] }
