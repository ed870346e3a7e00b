// Package optcheck checks the fields of golem's option structs. A bad field
// is reported as a *FieldError that names the package, the struct, the
// field, its value and the values accepted, so that a library caller reads
// "runtime: SamplerConfig.TopP 2: want a value in [0, 1]" and a command line
// can name its own flag instead ("--top-p 2: want a value in [0, 1]").
package optcheck

import (
	"fmt"
	"math"
	"time"
)

// FieldError is a field of an option struct whose value is out of range.
type FieldError struct {
	Pkg    string // package of the struct: "runtime"
	Struct string // the struct: "SamplerConfig"
	Field  string // the field: "TopP"
	Value  string // the value as %v prints it: "2", "NaN", "-1s"
	Want   string // what is accepted: "a value in [0, 1]"
}

// Path returns "pkg.Struct.Field", the key a command line maps to its flag.
func (e *FieldError) Path() string { return e.Pkg + "." + e.Struct + "." + e.Field }

// Error formats the error as "pkg: Struct.Field value: want ...".
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s.%s %s: want %s", e.Pkg, e.Struct, e.Field, e.Value, e.Want)
}

// Struct checks the fields of one struct; its methods return nil for a good
// value and a *FieldError otherwise.
type Struct struct {
	Pkg, Name string
}

// Fail returns the error for field holding v, which is not one of want.
func (s Struct) Fail(field string, v any, want string) error {
	return &FieldError{Pkg: s.Pkg, Struct: s.Name, Field: field, Value: fmt.Sprint(v), Want: want}
}

// NonNegative accepts 0 and more.
func (s Struct) NonNegative(field string, v int) error {
	if v < 0 {
		return s.Fail(field, v, "0 or more")
	}
	return nil
}

// IntRange accepts lo ≤ v ≤ hi.
func (s Struct) IntRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return s.Fail(field, v, fmt.Sprintf("a value in [%d, %d]", lo, hi))
	}
	return nil
}

// Duration accepts 0 and more.
func (s Struct) Duration(field string, v time.Duration) error {
	if v < 0 {
		return s.Fail(field, v, "0 or more")
	}
	return nil
}

// Float is float32 or float64.
type Float interface{ ~float32 | ~float64 }

func finite[F Float](v F) bool {
	f := float64(v)
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

// Finite accepts any finite value (not NaN or ±Inf).
func Finite[F Float](s Struct, field string, v F) error {
	if !finite(v) {
		return s.Fail(field, v, "a finite number")
	}
	return nil
}

// FiniteNonNegative accepts finite values ≥ 0.
func FiniteNonNegative[F Float](s Struct, field string, v F) error {
	if !finite(v) || v < 0 {
		return s.Fail(field, v, "a finite number ≥ 0")
	}
	return nil
}

// FiniteRange accepts lo ≤ v ≤ hi (so never NaN).
func FiniteRange[F Float](s Struct, field string, v, lo, hi F) error {
	if !(v >= lo && v <= hi) {
		return s.Fail(field, v, fmt.Sprintf("a value in [%v, %v]", lo, hi))
	}
	return nil
}

// First returns the first non-nil error of errs.
func First(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Restruct returns err reported as a field of s when err is a *FieldError
// (a layer whose option struct has the field under the same name, passing
// the check on to the struct that owns the rule), and err unchanged
// otherwise.
func Restruct(err error, s Struct) error {
	fe, ok := err.(*FieldError)
	if !ok {
		return err
	}
	return &FieldError{Pkg: s.Pkg, Struct: s.Name, Field: fe.Field, Value: fe.Value, Want: fe.Want}
}
