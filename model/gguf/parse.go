package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sort"

	"github.com/golem-llm/golem/internal/mmap"
)

// magic is "GGUF" read as a little-endian uint32.
const magic = 0x46554747

// prealloc caps the capacity allocated up front from a count read from the
// file, for items whose in-memory size exceeds their smallest encoding.
const prealloc = 1 << 16

// Open maps the file at path read-only and parses it. The File must be
// closed to release the mapping.
func Open(path string) (*File, error) {
	f, m, err := mmap.OpenWith("gguf", path, Parse)
	if err != nil {
		return nil, err
	}
	f.mapping = m
	return f, nil
}

// Parse parses a GGUF file held in memory; name is used in errors and as
// File.Path. The File keeps data (tensor data are slices of it), so data
// must not be modified while the File is in use.
func Parse(name string, data []byte) (*File, error) {
	p := &parser{path: name, data: data}
	f, err := p.parse()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// parser reads GGUF fields from data, checking every read against its end.
type parser struct {
	path string
	data []byte
	off  int
	v1   bool // GGUF v1: 32-bit counts, string lengths and dims
}

func (p *parser) remaining() int { return len(p.data) - p.off }

func (p *parser) need(n uint64) error {
	if n > uint64(p.remaining()) {
		return fmt.Errorf("truncated: need %d bytes at offset %d, only %d left", n, p.off, p.remaining())
	}
	return nil
}

func (p *parser) u8() (uint8, error) {
	if err := p.need(1); err != nil {
		return 0, err
	}
	x := p.data[p.off]
	p.off++
	return x, nil
}

func (p *parser) u16() (uint16, error) {
	if err := p.need(2); err != nil {
		return 0, err
	}
	x := binary.LittleEndian.Uint16(p.data[p.off:])
	p.off += 2
	return x, nil
}

func (p *parser) u32() (uint32, error) {
	if err := p.need(4); err != nil {
		return 0, err
	}
	x := binary.LittleEndian.Uint32(p.data[p.off:])
	p.off += 4
	return x, nil
}

func (p *parser) u64() (uint64, error) {
	if err := p.need(8); err != nil {
		return 0, err
	}
	x := binary.LittleEndian.Uint64(p.data[p.off:])
	p.off += 8
	return x, nil
}

// lenSize is the size of a count or string length: 4 bytes in v1, else 8.
func (p *parser) lenSize() int {
	if p.v1 {
		return 4
	}
	return 8
}

// count reads a count or length (uint32 in v1, uint64 otherwise).
func (p *parser) count() (uint64, error) {
	if p.v1 {
		x, err := p.u32()
		return uint64(x), err
	}
	return p.u64()
}

// str reads a length-prefixed string.
func (p *parser) str() (string, error) {
	start := p.off
	n, err := p.count()
	if err != nil {
		return "", err
	}
	if n > uint64(p.remaining()) {
		err := fmt.Errorf("truncated: string of %d bytes at offset %d, only %d left", n, start, p.remaining())
		p.off = start
		return "", err
	}
	s := string(p.data[p.off : p.off+int(n)])
	p.off += int(n)
	return s, nil
}

// checkCount rejects a count of items each needing at least minSize bytes
// when the rest of the file cannot hold them.
func (p *parser) checkCount(n uint64, minSize int, what string) error {
	if minSize > 0 && n > uint64(p.remaining())/uint64(minSize) {
		return fmt.Errorf("%s count %d is impossible: %d bytes left at offset %d, each needs at least %d",
			what, n, p.remaining(), p.off, minSize)
	}
	return nil
}

// minEncodedSize is the smallest encoding of one value of type t.
func (p *parser) minEncodedSize(t ValueType) int {
	switch t {
	case String:
		return p.lenSize()
	case Array:
		return 4 + p.lenSize()
	}
	return t.scalarSize()
}

func (p *parser) parse() (*File, error) {
	f := &File{Path: p.path, data: p.data}
	m, err := p.u32()
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: magic: %w", p.path, err)
	}
	if m != magic {
		return nil, fmt.Errorf("gguf: %s: bad magic %q, want \"GGUF\" (not a GGUF file)", p.path, p.data[:4])
	}
	ver, err := p.u32()
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: version: %w", p.path, err)
	}
	switch {
	case ver >= 1 && ver <= 3:
	case bits.ReverseBytes32(ver) >= 1 && bits.ReverseBytes32(ver) <= 3:
		return nil, fmt.Errorf("gguf: %s: big-endian GGUF (version %d) is not supported", p.path, bits.ReverseBytes32(ver))
	default:
		return nil, fmt.Errorf("gguf: %s: unsupported GGUF version %d (supported: 1, 2, 3)", p.path, ver)
	}
	f.Version = ver
	p.v1 = ver == 1

	nTensors, err := p.count()
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: tensor count: %w", p.path, err)
	}
	nKV, err := p.count()
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: metadata count: %w", p.path, err)
	}
	// A key/value entry needs a key length, a type and at least one byte of value.
	if err := p.checkCount(nKV, p.lenSize()+4+1, "metadata"); err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", p.path, err)
	}
	// A tensor info needs a name length, n_dims, one dim, a type and an offset.
	if err := p.checkCount(nTensors, p.lenSize()+4+p.lenSize()+4+8, "tensor"); err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", p.path, err)
	}

	if err := p.parseKV(f, int(nKV)); err != nil {
		return nil, err
	}
	if err := p.setAlignment(f); err != nil {
		return nil, err
	}
	if err := p.parseTensorInfos(f, int(nTensors)); err != nil {
		return nil, err
	}
	// The tensor data section starts at the aligned end of the header. A file
	// without tensors may end before it (vocab-only files do).
	f.DataOffset = alignUp(int64(p.off), f.Alignment)
	if err := p.checkTensorRanges(f); err != nil {
		return nil, err
	}
	return f, nil
}

func (p *parser) parseKV(f *File, n int) error {
	f.KV = make([]KV, 0, min(n, prealloc))
	f.kvIndex = make(map[string]int, min(n, prealloc))
	for i := 0; i < n; i++ {
		key, err := p.str()
		if err != nil {
			return fmt.Errorf("gguf: %s: metadata entry #%d: key: %w", p.path, i, err)
		}
		if key == "" {
			return fmt.Errorf("gguf: %s: metadata entry #%d: empty key", p.path, i)
		}
		if j, dup := f.kvIndex[key]; dup {
			return fmt.Errorf("gguf: %s: key %q: duplicate key (metadata entries #%d and #%d)", p.path, key, j, i)
		}
		t, err := p.u32()
		if err != nil {
			return fmt.Errorf("gguf: %s: key %q: value type: %w", p.path, key, err)
		}
		v, err := p.value(ValueType(t), 0)
		if err != nil {
			return fmt.Errorf("gguf: %s: key %q: %w", p.path, key, err)
		}
		f.kvIndex[key] = i
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	return nil
}

// value reads one value of type t; depth counts enclosing arrays.
func (p *parser) value(t ValueType, depth int) (Value, error) {
	v := Value{Type: t}
	switch t {
	case Uint8:
		x, err := p.u8()
		v.num = uint64(x)
		return v, err
	case Int8:
		x, err := p.u8()
		v.num = uint64(int64(int8(x)))
		return v, err
	case Bool:
		x, err := p.u8()
		if err == nil && x > 1 {
			return v, fmt.Errorf("bool value %d at offset %d is neither 0 nor 1", x, p.off-1)
		}
		v.num = uint64(x)
		return v, err
	case Uint16:
		x, err := p.u16()
		v.num = uint64(x)
		return v, err
	case Int16:
		x, err := p.u16()
		v.num = uint64(int64(int16(x)))
		return v, err
	case Uint32:
		x, err := p.u32()
		v.num = uint64(x)
		return v, err
	case Int32:
		x, err := p.u32()
		v.num = uint64(int64(int32(x)))
		return v, err
	case Float32:
		x, err := p.u32()
		v.num = uint64(x)
		return v, err
	case Uint64, Int64:
		x, err := p.u64()
		v.num = x
		return v, err
	case Float64:
		x, err := p.u64()
		v.num = x
		return v, err
	case String:
		s, err := p.str()
		v.str = s
		return v, err
	case Array:
		if depth >= maxArrayDepth {
			return v, fmt.Errorf("arrays nested deeper than %d at offset %d", maxArrayDepth, p.off)
		}
		a, err := p.array(depth)
		v.arr = a
		return v, err
	}
	return v, fmt.Errorf("unknown value type %d at offset %d", uint32(t), p.off-4)
}

// array reads an array body: element type, count and elements.
func (p *parser) array(depth int) (*array, error) {
	et, err := p.u32()
	if err != nil {
		return nil, fmt.Errorf("array element type: %w", err)
	}
	elem := ValueType(et)
	if !elem.valid() {
		return nil, fmt.Errorf("array of unknown value type %d at offset %d", et, p.off-4)
	}
	n64, err := p.count()
	if err != nil {
		return nil, fmt.Errorf("array of %s: length: %w", elem, err)
	}
	if err := p.checkCount(n64, p.minEncodedSize(elem), "array of "+elem.String()); err != nil {
		return nil, err
	}
	n := int(n64)
	a := &array{elem: elem}
	b := p.data[p.off:]
	switch elem {
	case Uint8:
		a.data = append([]uint8{}, b[:n]...)
		p.off += n
	case Int8:
		a.data = fill(n, func(i int) int8 { return int8(b[i]) })
		p.off += n
	case Bool:
		s := make([]bool, n)
		for i := range s {
			if b[i] > 1 {
				return nil, fmt.Errorf("array of bool: element %d: value %d at offset %d is neither 0 nor 1", i, b[i], p.off+i)
			}
			s[i] = b[i] == 1
		}
		a.data = s
		p.off += n
	case Uint16:
		a.data = fill(n, func(i int) uint16 { return binary.LittleEndian.Uint16(b[2*i:]) })
		p.off += 2 * n
	case Int16:
		a.data = fill(n, func(i int) int16 { return int16(binary.LittleEndian.Uint16(b[2*i:])) })
		p.off += 2 * n
	case Uint32:
		a.data = fill(n, func(i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) })
		p.off += 4 * n
	case Int32:
		a.data = fill(n, func(i int) int32 { return int32(binary.LittleEndian.Uint32(b[4*i:])) })
		p.off += 4 * n
	case Float32:
		a.data = fill(n, func(i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])) })
		p.off += 4 * n
	case Uint64:
		a.data = fill(n, func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) })
		p.off += 8 * n
	case Int64:
		a.data = fill(n, func(i int) int64 { return int64(binary.LittleEndian.Uint64(b[8*i:])) })
		p.off += 8 * n
	case Float64:
		a.data = fill(n, func(i int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])) })
		p.off += 8 * n
	case String:
		// Elements take more memory than their smallest encoding: grow the
		// slice as they are read rather than trusting the count.
		s := make([]string, 0, min(n, prealloc))
		for i := 0; i < n; i++ {
			x, err := p.str()
			if err != nil {
				return nil, fmt.Errorf("array of string: element %d: %w", i, err)
			}
			s = append(s, x)
		}
		a.data = s
	case Array:
		s := make([]Value, 0, min(n, prealloc))
		for i := 0; i < n; i++ {
			x, err := p.value(Array, depth+1)
			if err != nil {
				return nil, fmt.Errorf("array of array: element %d: %w", i, err)
			}
			s = append(s, x)
		}
		a.data = s
	}
	return a, nil
}

// setAlignment reads general.alignment, which must be a uint32 power of two.
func (p *parser) setAlignment(f *File) error {
	f.Alignment = DefaultAlignment
	v, ok := f.Get(KeyAlignment)
	if !ok {
		return nil
	}
	if v.Type != Uint32 {
		return fmt.Errorf("gguf: %s: key %q: has type %s, want uint32", p.path, KeyAlignment, v.Type)
	}
	a := v.num
	if a == 0 || a&(a-1) != 0 {
		return fmt.Errorf("gguf: %s: key %q: alignment %d is not a power of two", p.path, KeyAlignment, a)
	}
	f.Alignment = int64(a)
	return nil
}

func (p *parser) parseTensorInfos(f *File, n int) error {
	f.Tensors = make([]*TensorInfo, 0, min(n, prealloc))
	f.tensors = make(map[string]*TensorInfo, min(n, prealloc))
	index := make(map[string]int, min(n, prealloc))
	for i := 0; i < n; i++ {
		name, err := p.str()
		if err != nil {
			return fmt.Errorf("gguf: %s: tensor #%d: name: %w", p.path, i, err)
		}
		if name == "" {
			return fmt.Errorf("gguf: %s: tensor #%d: empty name", p.path, i)
		}
		if j, dup := index[name]; dup {
			return fmt.Errorf("gguf: %s: tensor %q: duplicate tensor name (tensors #%d and #%d)", p.path, name, j, i)
		}
		t, err := p.tensorInfo(name, f.Alignment)
		if err != nil {
			return fmt.Errorf("gguf: %s: tensor %q: %w", p.path, name, err)
		}
		index[name] = i
		f.tensors[name] = t
		f.Tensors = append(f.Tensors, t)
	}
	return nil
}

// tensorInfo reads the rest of a tensor info after its name.
func (p *parser) tensorInfo(name string, alignment int64) (*TensorInfo, error) {
	nd, err := p.u32()
	if err != nil {
		return nil, fmt.Errorf("n_dims: %w", err)
	}
	if nd == 0 || nd > MaxDims {
		return nil, fmt.Errorf("n_dims %d out of range 1..%d", nd, MaxDims)
	}
	dims := make([]int64, nd) // innermost-first, as in the file
	for j := range dims {
		d, err := p.count()
		if err != nil {
			return nil, fmt.Errorf("dimension %d: %w", j, err)
		}
		switch {
		case d == 0:
			return nil, fmt.Errorf("dimension %d is 0", j)
		case d > math.MaxInt64:
			return nil, fmt.Errorf("dimension %d is %d, negative as int64", j, int64(d))
		case d > math.MaxInt:
			return nil, fmt.Errorf("dimension %d is %d, too large for this platform", j, d)
		}
		dims[j] = int64(d)
	}
	typ, err := p.u32()
	if err != nil {
		return nil, fmt.Errorf("type: %w", err)
	}
	off, err := p.u64()
	if err != nil {
		return nil, fmt.Errorf("offset: %w", err)
	}
	gt, err := checkGGMLType(typ)
	if err != nil {
		return nil, err
	}
	shape := make([]int, nd)
	for j, d := range dims {
		shape[len(dims)-1-j] = int(d)
	}
	size, err := tensorBytes(shape, gt)
	if err != nil {
		return nil, err
	}
	if off > math.MaxInt64 {
		return nil, fmt.Errorf("offset %d overflows int64", off)
	}
	if int64(off)%alignment != 0 {
		return nil, fmt.Errorf("offset %d is not a multiple of the alignment %d", off, alignment)
	}
	return &TensorInfo{Name: name, Shape: shape, GGMLType: typ, Offset: int64(off), Size: size}, nil
}

// tensorBytes returns the byte size of a tensor of the given outermost-first
// shape and type, checking block divisibility and int64 overflow.
func tensorBytes(shape []int, gt ggmlType) (int64, error) {
	numel := int64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(uint64(numel), uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v: element count overflows int64", shape)
		}
		numel = int64(lo)
	}
	inner := int64(1)
	if len(shape) > 0 {
		inner = int64(shape[len(shape)-1])
	}
	if inner%gt.blockSize != 0 {
		return 0, fmt.Errorf("shape %v: innermost dimension %d is not a multiple of the %s block size %d",
			shape, inner, gt.name, gt.blockSize)
	}
	blocks := uint64(numel / gt.blockSize)
	hi, lo := bits.Mul64(blocks, uint64(gt.blockBytes))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("shape %v: byte size of %s data overflows int64", shape, gt.name)
	}
	return int64(lo), nil
}

// checkTensorRanges checks that every tensor's data lies inside the file
// and that no two tensors overlap.
func (p *parser) checkTensorRanges(f *File) error {
	fileLen := int64(len(p.data))
	for _, t := range f.Tensors {
		if t.Offset > math.MaxInt64-f.DataOffset || t.Size > math.MaxInt64-(f.DataOffset+t.Offset) {
			return fmt.Errorf("gguf: %s: tensor %q: offset %d + size %d overflows int64", p.path, t.Name, t.Offset, t.Size)
		}
		start := f.DataOffset + t.Offset
		if end := start + t.Size; end > fileLen {
			return fmt.Errorf("gguf: %s: tensor %q: data [%d, %d) extends past the end of the file (%d bytes)",
				p.path, t.Name, start, end, fileLen)
		}
	}
	order := make([]*TensorInfo, len(f.Tensors))
	copy(order, f.Tensors)
	sort.SliceStable(order, func(i, j int) bool { return order[i].Offset < order[j].Offset })
	for i := 1; i < len(order); i++ {
		a, b := order[i-1], order[i]
		if a.Offset+a.Size > b.Offset {
			return fmt.Errorf("gguf: %s: tensors %q (data offset %d, %d bytes) and %q (data offset %d, %d bytes) overlap",
				p.path, a.Name, a.Offset, a.Size, b.Name, b.Offset, b.Size)
		}
	}
	return nil
}

// alignUp rounds off up to a multiple of align (a power of two).
func alignUp(off, align int64) int64 {
	return (off + align - 1) &^ (align - 1)
}
