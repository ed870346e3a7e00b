// Package parity checks that a backend computes what golem's float64 CPU
// reference computes. It holds the comparison metrics (NMSE, max |Δ|, NaN,
// Inf and sign checks, guard and poison checks, KL divergence and top-1
// agreement for logits), the per-op tolerance table, and the op conformance
// suite: a catalogue of tiny seeded graphs, one per op, dtype and shape
// class, each run on a target backend and on the reference and compared.
//
// Tests use paritytest.RunOpSuite (package parity/paritytest, which
// keeps package testing out of the golem binary); the CLI (`golem parity ops`) uses Cases, Filter and
// RunCase directly.
package parity

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// NMSE returns the normalised mean squared error Σ(got−want)² / Σwant²,
// accumulated in float64. When want is all zero the result is 0 if got is
// all zero too and +Inf otherwise. Slices of different lengths give NaN, as
// does any NaN in either slice.
func NMSE(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.NaN()
	}
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		d := g - w
		num += d * d
		den += w * w
	}
	return nmseRatio(num, den)
}

// nmseRatio divides the accumulated error by the accumulated signal with the
// all-zero convention of NMSE.
func nmseRatio(num, den float64) float64 {
	if math.IsNaN(num) || math.IsNaN(den) {
		return math.NaN()
	}
	if den == 0 {
		if num == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return num / den
}

// MaxAbsDiff returns max |got[i] − want[i]| in float64. Slices of different
// lengths give NaN, as does a NaN difference.
func MaxAbsDiff(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.NaN()
	}
	m := 0.0
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return math.NaN()
		}
		m = math.Max(m, d)
	}
	return m
}

// Check is the outcome of comparing one backend's output (got) with the
// reference (want). Counts are in elements unless said otherwise.
type Check struct {
	// N is the number of elements compared.
	N int
	// NMSE is Σ(got−want)²/Σwant² over the elements where both are finite.
	NMSE float64
	// MaxAbs is the largest |got−want| over the elements where both are finite.
	MaxAbs float64
	// NaN counts NaNs in got where want is finite (poisoned elements excluded).
	NaN int
	// Inf counts infinities in got where want is finite.
	Inf int
	// SignFlips counts elements with |want| > 0.1·rms(want) whose sign in got
	// differs (a zero in got counts as a flip).
	SignFlips int
	// RefNonFinite counts NaN or Inf values in want: the reference itself is
	// broken (or the case is), so nothing there was compared.
	RefNonFinite int
	// Mismatch counts elements whose bytes differ, for exact comparisons
	// (threshold 0: argmax, same-type copies); it stays 0 otherwise.
	Mismatch int
	// Guard counts guard bytes, before and after the output's range, that
	// the backend overwrote.
	Guard int
	// Unwritten counts output elements that still hold the poison pattern
	// written before the run.
	Unwritten int
}

// Compare fills the value metrics of a Check (N, NMSE, MaxAbs, NaN, Inf,
// SignFlips, RefNonFinite) for got against want. Slices of different
// lengths give a Check whose NMSE is NaN, which never passes.
func Compare(got, want []float32) Check {
	c := Check{N: len(want)}
	if len(got) != len(want) {
		c.NMSE, c.MaxAbs = math.NaN(), math.NaN()
		return c
	}
	var sumSq float64
	var finite int
	for _, w := range want {
		if isFinite32(w) {
			sumSq += float64(w) * float64(w)
			finite++
		}
	}
	rms := 0.0
	if finite > 0 {
		rms = math.Sqrt(sumSq / float64(finite))
	}
	var num, den float64
	for i, w := range want {
		g := got[i]
		if !isFinite32(w) {
			c.RefNonFinite++
			continue
		}
		switch {
		case math.IsNaN(float64(g)):
			c.NaN++
			continue
		case math.IsInf(float64(g), 0):
			c.Inf++
			continue
		}
		gd, wd := float64(g), float64(w)
		d := gd - wd
		num += d * d
		den += wd * wd
		c.MaxAbs = math.Max(c.MaxAbs, math.Abs(d))
		if math.Abs(wd) > 0.1*rms && sign(gd) != sign(wd) {
			c.SignFlips++
		}
	}
	c.NMSE = nmseRatio(num, den)
	return c
}

// Merge combines checks of several outputs into one: the worst NMSE and
// MaxAbs, and the sums of every count.
func (c Check) Merge(o Check) Check {
	worst := func(a, b float64) float64 {
		if math.IsNaN(a) || math.IsNaN(b) {
			return math.NaN()
		}
		return math.Max(a, b)
	}
	return Check{
		N:            c.N + o.N,
		NMSE:         worst(c.NMSE, o.NMSE),
		MaxAbs:       worst(c.MaxAbs, o.MaxAbs),
		NaN:          c.NaN + o.NaN,
		Inf:          c.Inf + o.Inf,
		SignFlips:    c.SignFlips + o.SignFlips,
		RefNonFinite: c.RefNonFinite + o.RefNonFinite,
		Mismatch:     c.Mismatch + o.Mismatch,
		Guard:        c.Guard + o.Guard,
		Unwritten:    c.Unwritten + o.Unwritten,
	}
}

// Pass reports whether the check is within threshold: NMSE ≤ threshold (a
// NaN NMSE never passes) and every count is zero.
func (c Check) Pass(threshold float64) bool { return c.Err(threshold) == nil }

// Err returns nil when the check passes threshold, or an error naming every
// criterion that failed, e.g. "NMSE 1.2e-03 > 5e-04; 3 NaN".
func (c Check) Err(threshold float64) error {
	var why []string
	if c.RefNonFinite > 0 {
		why = append(why, fmt.Sprintf("the reference produced %d non-finite values", c.RefNonFinite))
	}
	if c.Unwritten > 0 {
		why = append(why, fmt.Sprintf("%d of %d elements unwritten (still poisoned)", c.Unwritten, c.N))
	}
	if c.Guard > 0 {
		why = append(why, fmt.Sprintf("%d guard bytes overwritten outside the output range", c.Guard))
	}
	if c.NaN > 0 {
		why = append(why, fmt.Sprintf("%d NaN where the reference is finite", c.NaN))
	}
	if c.Inf > 0 {
		why = append(why, fmt.Sprintf("%d Inf where the reference is finite", c.Inf))
	}
	if c.Mismatch > 0 {
		why = append(why, fmt.Sprintf("%d of %d elements differ in an exact comparison", c.Mismatch, c.N))
	}
	if c.SignFlips > 0 {
		why = append(why, fmt.Sprintf("%d sign flips", c.SignFlips))
	}
	if math.IsNaN(c.NMSE) || c.NMSE > threshold {
		why = append(why, fmt.Sprintf("NMSE %.3g > %.3g (max |Δ| %.3g)", c.NMSE, threshold, c.MaxAbs))
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New(strings.Join(why, "; "))
}

// String summarises the check: "NMSE 1.2e-09, max |Δ| 3.1e-06 over 672 elements".
func (c Check) String() string {
	return fmt.Sprintf("NMSE %.3g, max |Δ| %.3g over %d elements", c.NMSE, c.MaxAbs, c.N)
}

// KLDivergence returns KL(P‖Q) = Σ p·(log p − log q) where P = softmax(logitsP)
// and Q = softmax(logitsQ), computed in float64 with a stable log-sum-exp.
// Different lengths, empty input or non-finite results give NaN; terms with
// p = 0 contribute nothing, and q = 0 where p > 0 gives +Inf.
func KLDivergence(logitsP, logitsQ []float32) float64 {
	if len(logitsP) != len(logitsQ) || len(logitsP) == 0 {
		return math.NaN()
	}
	lseP, lseQ := logSumExp(logitsP), logSumExp(logitsQ)
	if math.IsNaN(lseP) || math.IsNaN(lseQ) || math.IsInf(lseP, 0) || math.IsInf(lseQ, 0) {
		return math.NaN()
	}
	kl := 0.0
	for i := range logitsP {
		lp := float64(logitsP[i]) - lseP
		lq := float64(logitsQ[i]) - lseQ
		p := math.Exp(lp)
		if p == 0 {
			continue
		}
		kl += p * (lp - lq)
	}
	if kl < 0 { // rounding can leave a tiny negative value for equal distributions
		kl = 0
	}
	return kl
}

// logSumExp returns log Σ exp(x) in float64, shifting by the maximum.
func logSumExp(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		if math.IsNaN(float64(v)) {
			return math.NaN()
		}
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, 0) {
		return m
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// Argmax returns the index of the largest element of x, the first one on
// ties, ignoring NaNs; it returns −1 when x is empty or all NaN.
func Argmax(x []float32) int {
	best := -1
	for i, v := range x {
		if math.IsNaN(float64(v)) {
			continue
		}
		if best < 0 || v > x[best] {
			best = i
		}
	}
	return best
}

// Top1 reports whether a and b have the same argmax (and are not empty).
func Top1(a, b []float32) bool {
	ia := Argmax(a)
	return ia >= 0 && ia == Argmax(b)
}

func isFinite32(v float32) bool {
	f := float64(v)
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
