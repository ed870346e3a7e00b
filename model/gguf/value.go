package gguf

import (
	"fmt"
	"math"
)

// ValueType is the type of a GGUF metadata value, with GGUF's own ids.
type ValueType uint32

// The GGUF metadata value types.
const (
	Uint8   ValueType = 0
	Int8    ValueType = 1
	Uint16  ValueType = 2
	Int16   ValueType = 3
	Uint32  ValueType = 4
	Int32   ValueType = 5
	Float32 ValueType = 6
	Bool    ValueType = 7
	String  ValueType = 8
	Array   ValueType = 9
	Uint64  ValueType = 10
	Int64   ValueType = 11
	Float64 ValueType = 12
)

var valueTypeNames = [...]string{
	Uint8: "uint8", Int8: "int8", Uint16: "uint16", Int16: "int16",
	Uint32: "uint32", Int32: "int32", Float32: "float32", Bool: "bool",
	String: "string", Array: "array", Uint64: "uint64", Int64: "int64",
	Float64: "float64",
}

// String returns the lower-case name of t ("uint32", "array").
func (t ValueType) String() string {
	if t.valid() {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

func (t ValueType) valid() bool { return t <= Float64 }

func (t ValueType) isSigned() bool {
	return t == Int8 || t == Int16 || t == Int32 || t == Int64
}

func (t ValueType) isUnsigned() bool {
	return t == Uint8 || t == Uint16 || t == Uint32 || t == Uint64
}

// scalarSize is the encoded size of a fixed-size scalar type, 0 otherwise.
func (t ValueType) scalarSize() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16:
		return 2
	case Uint32, Int32, Float32:
		return 4
	case Uint64, Int64, Float64:
		return 8
	}
	return 0
}

// Value is one GGUF metadata value. Type tells which accessor applies; the
// zero Value is the uint8 0. Values returned by the parser own their memory
// and stay valid after the File is closed.
type Value struct {
	Type ValueType
	num  uint64 // integers (two's complement), float32 or float64 bits, bool 0/1
	str  string
	arr  *array
}

// array holds the elements of an array value as one typed slice:
// []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool,
// []string, []Value (nested arrays), []uint64, []int64 or []float64.
type array struct {
	elem ValueType
	data any
}

func (a *array) len() int {
	switch s := a.data.(type) {
	case []uint8:
		return len(s)
	case []int8:
		return len(s)
	case []uint16:
		return len(s)
	case []int16:
		return len(s)
	case []uint32:
		return len(s)
	case []int32:
		return len(s)
	case []float32:
		return len(s)
	case []bool:
		return len(s)
	case []string:
		return len(s)
	case []Value:
		return len(s)
	case []uint64:
		return len(s)
	case []int64:
		return len(s)
	case []float64:
		return len(s)
	}
	return 0
}

// Uint returns an integer value as uint64; ok is false for non-integers and
// for negative values.
func (v Value) Uint() (uint64, bool) {
	switch {
	case v.Type.isUnsigned():
		return v.num, true
	case v.Type.isSigned():
		if int64(v.num) < 0 {
			return 0, false
		}
		return v.num, true
	}
	return 0, false
}

// Int returns an integer value as int64; ok is false for non-integers and
// for unsigned values above math.MaxInt64.
func (v Value) Int() (int64, bool) {
	switch {
	case v.Type.isSigned():
		return int64(v.num), true
	case v.Type.isUnsigned():
		if v.num > math.MaxInt64 {
			return 0, false
		}
		return int64(v.num), true
	}
	return 0, false
}

// Float returns a float or integer value as float64.
func (v Value) Float() (float64, bool) {
	switch {
	case v.Type == Float32:
		return float64(math.Float32frombits(uint32(v.num))), true
	case v.Type == Float64:
		return math.Float64frombits(v.num), true
	case v.Type.isSigned():
		return float64(int64(v.num)), true
	case v.Type.isUnsigned():
		return float64(v.num), true
	}
	return 0, false
}

// Bool returns a bool value.
func (v Value) Bool() (bool, bool) {
	if v.Type != Bool {
		return false, false
	}
	return v.num != 0, true
}

// Str returns a string value.
func (v Value) Str() (string, bool) {
	if v.Type != String {
		return "", false
	}
	return v.str, true
}

// Array returns the element type and length of an array value.
func (v Value) Array() (elemType ValueType, n int, ok bool) {
	if v.Type != Array || v.arr == nil {
		return 0, 0, false
	}
	return v.arr.elem, v.arr.len(), true
}

// Strings returns a copy of the elements of an array of strings.
func (v Value) Strings() ([]string, bool) {
	if v.Type != Array || v.arr == nil {
		return nil, false
	}
	s, ok := v.arr.data.([]string)
	if !ok {
		return nil, false
	}
	return clone(s), true
}

// Float32s returns the elements of an array of numbers (floats or
// integers) converted to float32.
func (v Value) Float32s() ([]float32, bool) {
	if v.Type != Array || v.arr == nil {
		return nil, false
	}
	switch s := v.arr.data.(type) {
	case []float32:
		return clone(s), true
	case []float64:
		return convertFloats(s), true
	case []uint8:
		return convertFloats(s), true
	case []int8:
		return convertFloats(s), true
	case []uint16:
		return convertFloats(s), true
	case []int16:
		return convertFloats(s), true
	case []uint32:
		return convertFloats(s), true
	case []int32:
		return convertFloats(s), true
	case []uint64:
		return convertFloats(s), true
	case []int64:
		return convertFloats(s), true
	}
	return nil, false
}

// Int32s returns the elements of an array of integers of any width as
// int32; ok is false if an element does not fit.
func (v Value) Int32s() ([]int32, bool) {
	return intsAs[int32](v, math.MinInt32, math.MaxInt32)
}

// Uint32s returns the elements of an array of integers of any width as
// uint32; ok is false if an element is negative or does not fit.
func (v Value) Uint32s() ([]uint32, bool) {
	return intsAs[uint32](v, 0, math.MaxUint32)
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type number interface {
	integer | ~float32 | ~float64
}

func convertFloats[S number](src []S) []float32 {
	out := make([]float32, len(src))
	for i, x := range src {
		out[i] = float32(x)
	}
	return out
}

// intsAs converts an integer array value to []T, checking each element
// against [lo, hi].
func intsAs[T int32 | uint32](v Value, lo int64, hi uint64) ([]T, bool) {
	if v.Type != Array || v.arr == nil {
		return nil, false
	}
	switch s := v.arr.data.(type) {
	case []uint8:
		return convertInts[T](s, lo, hi)
	case []int8:
		return convertInts[T](s, lo, hi)
	case []uint16:
		return convertInts[T](s, lo, hi)
	case []int16:
		return convertInts[T](s, lo, hi)
	case []uint32:
		return convertInts[T](s, lo, hi)
	case []int32:
		return convertInts[T](s, lo, hi)
	case []uint64:
		return convertInts[T](s, lo, hi)
	case []int64:
		return convertInts[T](s, lo, hi)
	}
	return nil, false
}

func convertInts[T int32 | uint32, S integer](src []S, lo int64, hi uint64) ([]T, bool) {
	out := make([]T, len(src))
	for i, x := range src {
		if x < 0 {
			if int64(x) < lo {
				return nil, false
			}
		} else if uint64(x) > hi {
			return nil, false
		}
		out[i] = T(x)
	}
	return out, true
}

// Any returns the value as a plain Go value for printing: uint8 … float64,
// bool or string for scalars; a typed slice ([]uint32, []string, …) for
// arrays, or []any for arrays of arrays. Slices are copies.
func (v Value) Any() any {
	switch v.Type {
	case Uint8:
		return uint8(v.num)
	case Int8:
		return int8(v.num)
	case Uint16:
		return uint16(v.num)
	case Int16:
		return int16(v.num)
	case Uint32:
		return uint32(v.num)
	case Int32:
		return int32(v.num)
	case Float32:
		return math.Float32frombits(uint32(v.num))
	case Bool:
		return v.num != 0
	case String:
		return v.str
	case Uint64:
		return v.num
	case Int64:
		return int64(v.num)
	case Float64:
		return math.Float64frombits(v.num)
	case Array:
		if v.arr == nil {
			return nil
		}
		switch s := v.arr.data.(type) {
		case []uint8:
			return clone(s)
		case []int8:
			return clone(s)
		case []uint16:
			return clone(s)
		case []int16:
			return clone(s)
		case []uint32:
			return clone(s)
		case []int32:
			return clone(s)
		case []float32:
			return clone(s)
		case []bool:
			return clone(s)
		case []string:
			return clone(s)
		case []uint64:
			return clone(s)
		case []int64:
			return clone(s)
		case []float64:
			return clone(s)
		case []Value:
			out := make([]any, len(s))
			for i, e := range s {
				out[i] = e.Any()
			}
			return out
		}
	}
	return nil
}

// Uint8Value returns a uint8 value.
func Uint8Value(x uint8) Value { return Value{Type: Uint8, num: uint64(x)} }

// Int8Value returns an int8 value.
func Int8Value(x int8) Value { return Value{Type: Int8, num: uint64(int64(x))} }

// Uint16Value returns a uint16 value.
func Uint16Value(x uint16) Value { return Value{Type: Uint16, num: uint64(x)} }

// Int16Value returns an int16 value.
func Int16Value(x int16) Value { return Value{Type: Int16, num: uint64(int64(x))} }

// Uint32Value returns a uint32 value.
func Uint32Value(x uint32) Value { return Value{Type: Uint32, num: uint64(x)} }

// Int32Value returns an int32 value.
func Int32Value(x int32) Value { return Value{Type: Int32, num: uint64(int64(x))} }

// Uint64Value returns a uint64 value.
func Uint64Value(x uint64) Value { return Value{Type: Uint64, num: x} }

// Int64Value returns an int64 value.
func Int64Value(x int64) Value { return Value{Type: Int64, num: uint64(x)} }

// Float32Value returns a float32 value.
func Float32Value(x float32) Value { return Value{Type: Float32, num: uint64(math.Float32bits(x))} }

// Float64Value returns a float64 value.
func Float64Value(x float64) Value { return Value{Type: Float64, num: math.Float64bits(x)} }

// BoolValue returns a bool value.
func BoolValue(x bool) Value {
	v := Value{Type: Bool}
	if x {
		v.num = 1
	}
	return v
}

// StringValue returns a string value.
func StringValue(s string) Value { return Value{Type: String, str: s} }

// StringsValue returns an array of strings (the slice is copied).
func StringsValue(s []string) Value {
	return Value{Type: Array, arr: &array{elem: String, data: append([]string{}, s...)}}
}

// Float32sValue returns an array of float32 (the slice is copied).
func Float32sValue(s []float32) Value {
	return Value{Type: Array, arr: &array{elem: Float32, data: append([]float32{}, s...)}}
}

// Int32sValue returns an array of int32 (the slice is copied).
func Int32sValue(s []int32) Value {
	return Value{Type: Array, arr: &array{elem: Int32, data: append([]int32{}, s...)}}
}

// Uint32sValue returns an array of uint32 (the slice is copied).
func Uint32sValue(s []uint32) Value {
	return Value{Type: Array, arr: &array{elem: Uint32, data: append([]uint32{}, s...)}}
}

// ArrayValue returns an array whose elements, all of type elem, are elems.
// It builds arrays of any element type, arrays of arrays included.
func ArrayValue(elem ValueType, elems []Value) (Value, error) {
	if !elem.valid() {
		return Value{}, fmt.Errorf("gguf: array of unknown value type %d", uint32(elem))
	}
	for i, e := range elems {
		if e.Type != elem {
			return Value{}, fmt.Errorf("gguf: array of %s: element %d has type %s", elem, i, e.Type)
		}
		if err := e.validate(0); err != nil {
			return Value{}, fmt.Errorf("gguf: array of %s: element %d: %w", elem, i, err)
		}
	}
	n := len(elems)
	var data any
	switch elem {
	case Uint8:
		data = fill(n, func(i int) uint8 { return uint8(elems[i].num) })
	case Int8:
		data = fill(n, func(i int) int8 { return int8(elems[i].num) })
	case Uint16:
		data = fill(n, func(i int) uint16 { return uint16(elems[i].num) })
	case Int16:
		data = fill(n, func(i int) int16 { return int16(elems[i].num) })
	case Uint32:
		data = fill(n, func(i int) uint32 { return uint32(elems[i].num) })
	case Int32:
		data = fill(n, func(i int) int32 { return int32(elems[i].num) })
	case Float32:
		data = fill(n, func(i int) float32 { return math.Float32frombits(uint32(elems[i].num)) })
	case Bool:
		data = fill(n, func(i int) bool { return elems[i].num != 0 })
	case String:
		data = fill(n, func(i int) string { return elems[i].str })
	case Array:
		data = append([]Value{}, elems...)
	case Uint64:
		data = fill(n, func(i int) uint64 { return elems[i].num })
	case Int64:
		data = fill(n, func(i int) int64 { return int64(elems[i].num) })
	case Float64:
		data = fill(n, func(i int) float64 { return math.Float64frombits(elems[i].num) })
	}
	return Value{Type: Array, arr: &array{elem: elem, data: data}}, nil
}

// clone returns a copy of s that is non-nil even when s is empty.
func clone[T any](s []T) []T { return append(make([]T, 0, len(s)), s...) }

func fill[T any](n int, f func(int) T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// maxArrayDepth bounds the nesting of arrays of arrays.
const maxArrayDepth = 8

// validate checks that v can be encoded: a known type and, for arrays,
// storage matching the element type, nested at most maxArrayDepth deep.
func (v Value) validate(depth int) error {
	if !v.Type.valid() {
		return fmt.Errorf("unknown value type %d", uint32(v.Type))
	}
	if v.Type != Array {
		return nil
	}
	if depth >= maxArrayDepth {
		return fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
	}
	if v.arr == nil {
		return fmt.Errorf("array value without elements (build arrays with ArrayValue or the *sValue constructors)")
	}
	ok := false
	switch v.arr.data.(type) {
	case []uint8:
		ok = v.arr.elem == Uint8
	case []int8:
		ok = v.arr.elem == Int8
	case []uint16:
		ok = v.arr.elem == Uint16
	case []int16:
		ok = v.arr.elem == Int16
	case []uint32:
		ok = v.arr.elem == Uint32
	case []int32:
		ok = v.arr.elem == Int32
	case []float32:
		ok = v.arr.elem == Float32
	case []bool:
		ok = v.arr.elem == Bool
	case []string:
		ok = v.arr.elem == String
	case []uint64:
		ok = v.arr.elem == Uint64
	case []int64:
		ok = v.arr.elem == Int64
	case []float64:
		ok = v.arr.elem == Float64
	case []Value:
		if v.arr.elem != Array {
			break
		}
		for i, e := range v.arr.data.([]Value) {
			if e.Type != Array {
				return fmt.Errorf("array of arrays: element %d has type %s", i, e.Type)
			}
			if err := e.validate(depth + 1); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		ok = true
	}
	if !ok {
		return fmt.Errorf("array storage does not match element type %s", v.arr.elem)
	}
	return nil
}
