package quant

import (
	"fmt"
	"os"
	"strings"
)

// FeaturesEnv is the environment variable that caps the kernel family the
// package uses: "avx512" (the default: the best the CPU has), "avx2" (no
// AVX-512 kernels, as on a CPU without them) or "generic" (the portable Go
// code only). It is read once, when the program starts.
const FeaturesEnv = "GOLEM_CPU_FEATURES"

// Kernel families, from the portable code up.
const (
	levelGeneric = iota
	levelAVX2
	levelAVX512
)

// levelNames are the values FeaturesEnv accepts, by level.
var levelNames = [...]string{levelGeneric: "generic", levelAVX2: "avx2", levelAVX512: "avx512"}

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
	return levelAVX512, fmt.Errorf("quant: %s=%q: want avx512, avx2 or generic", FeaturesEnv, value)
}

// featuresErr is the error of FeaturesEnv's value at start-up (nil when it
// is valid or unset); the kernels then run at the CPU's best level.
var featuresErr error

// startLevel is the kernel family chosen at start-up: the CPU's best level
// (cpuLevel, per platform) capped by FeaturesEnv.
var startLevel = func() int {
	capLevel, err := envLevel(os.Getenv(FeaturesEnv))
	featuresErr = err
	return min(cpuLevel(), capLevel)
}()

// CheckFeatures returns an error naming FeaturesEnv when its value at
// start-up was not one it accepts; the CPU backend refuses to open then.
func CheckFeatures() error { return featuresErr }

// Kernels names the kernel family in use: "avx512" (AVX-512 F/BW/VL with
// VNNI integer dot products), "avx2" (AVX2, FMA and F16C) or "generic".
func Kernels() string { return levelNames[level()] }
