package cpu

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// Data-movement kernels. They are exact (no arithmetic beyond format
// conversion), so both tiers share them; the reference tier runs them on a
// single thread.

// noop is the kernel of view, reshape and permute: they only re-address
// their input's storage.
func noop(*program, *graph.Node) error { return nil }

// rowOffset returns the element offset of row r (an index over every
// dimension but the last) of a strided tensor.
func rowOffset(shape graph.Shape, strides []int64, offset int64, r int) int64 {
	off := offset
	for d := len(shape) - 2; d >= 0; d-- {
		off += int64(r%shape[d]) * strides[d]
		r /= shape[d]
	}
	return off
}

// lastStride returns the stride of the innermost dimension (1 for a scalar).
func lastStride(n *graph.Node) int64 {
	if len(n.Strides) == 0 {
		return 1
	}
	return n.Strides[len(n.Strides)-1]
}

func kGetRows(p *program, n *graph.Node) error {
	table, ids := n.Inputs[0], n.Inputs[1]
	v, d := table.Shape[0], table.Shape[1]
	idv := p.i32(ids)
	for i, id := range idv {
		if id < 0 || int(id) >= v {
			return fmt.Errorf("id %d at index %d is outside the table's rows [0, %d)", id, i, v)
		}
	}
	rb, err := table.DType.RowBytes(int64(d))
	if err != nil {
		return err
	}
	t := taskFor[getRowsTask](p, n)
	*t = getRowsTask{dt: table.DType, d: d, rb: rb, ids: idv, table: p.bytesOf(table), out: p.f32(n)}
	err = p.parallel(len(idv), 4, t)
	*t = getRowsTask{}
	return err
}

// getRowsTask decodes rows ids[i] of table into row i of out.
type getRowsTask struct {
	dt    graph.DType
	d     int
	rb    int64
	ids   []int32
	table []byte
	out   []float32
}

func (t *getRowsTask) run(lo, hi, _ int) error {
	for i := lo; i < hi; i++ {
		id := int64(t.ids[i])
		if err := quant.Dequantize(t.dt, t.table[id*t.rb:(id+1)*t.rb], t.out[i*t.d:(i+1)*t.d]); err != nil {
			return fmt.Errorf("row %d: %w", id, err)
		}
	}
	return nil
}

func kKVWrite(p *program, n *graph.Node) error {
	cache, src, pos := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	ctx := cache.Shape[0]
	rowLen := int(cache.Shape.NumElements()) / ctx
	pv := p.i32(pos)
	increasing := true
	for i, ps := range pv {
		if ps < 0 || int(ps) >= ctx {
			return fmt.Errorf("position %d at index %d is outside the cache's rows [0, %d)", ps, i, ctx)
		}
		increasing = increasing && (i == 0 || ps > pv[i-1])
	}
	switch cache.DType {
	case graph.F32, graph.F16, graph.BF16:
	default:
		return fmt.Errorf("cache dtype %s is not supported", cache.DType)
	}
	t := taskFor[kvWriteTask](p, n)
	*t = kvWriteTask{dt: cache.DType, rowLen: rowLen, pos: pv, src: p.f32(src)}
	if cache.DType == graph.F32 {
		t.f32 = p.f32(cache)
	} else {
		t.u16 = p.u16(cache)
	}
	var err error
	if increasing {
		// Distinct positions (a prompt's): the rows split across the
		// threads, each written once.
		err = p.parallel(len(pv), max(1, elemGrain/max(rowLen, 1)), t)
	} else {
		// Rows are written in order so that a repeated position keeps the
		// last row.
		err = t.run(0, len(pv), 0)
	}
	*t = kvWriteTask{}
	return err
}

// kvWriteTask stores rows of src into the cache rows their positions name
// (f32, or u16 for a 16-bit cache of dtype dt).
type kvWriteTask struct {
	dt     graph.DType
	rowLen int
	pos    []int32
	src    []float32
	f32    []float32
	u16    []uint16
}

func (t *kvWriteTask) run(lo, hi, _ int) error {
	n := t.rowLen
	for i := lo; i < hi; i++ {
		at := int(t.pos[i]) * n
		if t.f32 != nil {
			copy(t.f32[at:at+n], t.src[i*n:(i+1)*n])
			continue
		}
		encodeKV(t.dt, t.u16[at:at+n], t.src[i*n:(i+1)*n])
	}
	return nil
}

// encodeKV rounds the float32 values of src into dst, elements of a
// 16-bit KV cache of dtype dt (F16 or BF16), to nearest with ties to even.
func encodeKV(dt graph.DType, dst []uint16, src []float32) {
	dst = dst[:len(src)]
	if dt == graph.BF16 {
		for j, x := range src {
			dst[j] = quant.F32ToBF16(x)
		}
		return
	}
	quant.EncodeF16(dst, src)
}

// decodeKV converts the 16-bit KV cache elements src of dtype dt (F16 or
// BF16) to float32 in dst (exact).
func decodeKV(dt graph.DType, dst []float32, src []uint16) {
	if dt == graph.BF16 {
		quant.DecodeBF16(dst, src)
		return
	}
	quant.DecodeF16(dst, src)
}

// kContiguous copies a possibly strided tensor into contiguous memory.
func kContiguous(p *program, n *graph.Node) error {
	return copySame(p, n, n.Inputs[0])
}

// copySame copies x into n, both of x's dtype.
func copySame(p *program, n, x *graph.Node) error {
	dst := p.bytesOf(n)[:n.Bytes()]
	if x.IsContiguous() {
		copy(dst, p.bytesOf(x)[:n.Bytes()])
		return nil
	}
	t := taskFor[gatherTask](p, n)
	*t = gatherTask{x: x, last: n.Shape.Last(), ls: lastStride(x), size: elemSize(x.DType)}
	switch t.size {
	case 4:
		t.s32, t.d32 = asU32(p.storage(x)), asU32(dst)
	case 2:
		t.s16, t.d16 = asU16(p.storage(x), len(p.storage(x))/2), asU16(dst, len(dst)/2)
	default:
		return fmt.Errorf("cannot copy strided %s", x)
	}
	err := p.parallel(int(n.Shape.Rows()), 16, t)
	*t = gatherTask{}
	return err
}

// gatherTask copies the rows of strided x (4- or 2-byte elements) into
// contiguous rows.
type gatherTask struct {
	x        *graph.Node
	last     int
	ls       int64
	size     int64
	s32, d32 []uint32
	s16, d16 []uint16
}

func (t *gatherTask) run(lo, hi, _ int) error {
	x := t.x
	for r := lo; r < hi; r++ {
		off := rowOffset(x.Shape, x.Strides, x.Offset, r)
		if t.size == 4 {
			d := t.d32[r*t.last : (r+1)*t.last]
			for j := range d {
				d[j] = t.s32[off+int64(j)*t.ls]
			}
		} else {
			d := t.d16[r*t.last : (r+1)*t.last]
			for j := range d {
				d[j] = t.s16[off+int64(j)*t.ls]
			}
		}
	}
	return nil
}

func asU32(b []byte) []uint32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// kCopy converts x to n's dtype.
func kCopy(p *program, n *graph.Node) error {
	x := n.Inputs[0]
	if x.DType == n.DType {
		return copySame(p, n, x)
	}
	last := n.Shape.Last()
	rows := int(n.Shape.Rows())
	outRow, err := n.DType.RowBytes(int64(last))
	if err != nil {
		return err
	}
	inRow, err := x.DType.RowBytes(int64(last))
	if err != nil {
		return err
	}
	t := taskFor[convertTask](p, n)
	*t = convertTask{p: p, n: n, x: x, last: last, inRow: inRow, outRow: outRow, out: p.bytesOf(n)}
	if x.IsContiguous() {
		t.src = p.bytesOf(x)
	} else {
		t.src = p.storage(x)
	}
	err = p.parallel(rows, 4, t)
	*t = convertTask{}
	return err
}

// convertTask converts the rows of x to n's dtype through float32.
type convertTask struct {
	p             *program
	n, x          *graph.Node
	last          int
	inRow, outRow int64
	src, out      []byte
}

func (t *convertTask) run(lo, hi, slot int) error {
	n, x, last := t.n, t.x, t.last
	ls := lastStride(x)
	tmp := t.p.scratchFor(slot)[:last]
	for r := lo; r < hi; r++ {
		row := tmp
		if n.DType == graph.F32 {
			row = asF32(t.out[int64(r)*t.outRow:], last)
		}
		if x.IsContiguous() {
			if err := quant.Dequantize(x.DType, t.src[int64(r)*t.inRow:], row); err != nil {
				return fmt.Errorf("row %d: %w", r, err)
			}
		} else {
			gatherFloat(x.DType, t.src, rowOffset(x.Shape, x.Strides, x.Offset, r), ls, row)
		}
		if n.DType != graph.F32 {
			if err := quant.Quantize(n.DType, row, t.out[int64(r)*t.outRow:(int64(r)+1)*t.outRow]); err != nil {
				return fmt.Errorf("row %d: %w", r, err)
			}
		}
	}
	return nil
}

// gatherFloat reads len(dst) elements of a non-quantized float dtype from
// storage src, starting at element off with stride step, as float32.
func gatherFloat(dt graph.DType, src []byte, off, step int64, dst []float32) {
	switch dt {
	case graph.F32:
		sv := asU32(src)
		for j := range dst {
			dst[j] = math.Float32frombits(sv[off+int64(j)*step])
		}
	case graph.F16:
		sv := asU16(src, len(src)/2)
		for j := range dst {
			dst[j] = quant.F16ToF32(sv[off+int64(j)*step])
		}
	case graph.BF16:
		sv := asU16(src, len(src)/2)
		for j := range dst {
			dst[j] = quant.BF16ToF32(sv[off+int64(j)*step])
		}
	default:
		panic(fmt.Sprintf("gather from strided %s", dt))
	}
}

func kConcat(p *program, n *graph.Node) error {
	x, y := n.Inputs[0], n.Inputs[1]
	axis := n.Params.Axis
	es := elemSize(n.DType)
	outer := 1
	for _, d := range n.Shape[:axis] {
		outer *= d
	}
	inner := int64(1)
	for _, d := range n.Shape[axis+1:] {
		inner *= int64(d)
	}
	xc := int64(x.Shape[axis]) * inner * es
	yc := int64(y.Shape[axis]) * inner * es
	xb, yb, ob := p.bytesOf(x), p.bytesOf(y), p.bytesOf(n)
	for o := int64(0); o < int64(outer); o++ {
		base := o * (xc + yc)
		copy(ob[base:base+xc], xb[o*xc:(o+1)*xc])
		copy(ob[base+xc:base+xc+yc], yb[o*yc:(o+1)*yc])
	}
	return nil
}

func kArgmax(p *program, n *graph.Node) error {
	x := n.Inputs[0]
	last := x.Shape.Last()
	t := taskFor[argmaxTask](p, n)
	*t = argmaxTask{last: last, x: p.f32(x), out: p.i32(n)}
	err := p.parallel(len(t.out), 16, t)
	*t = argmaxTask{}
	return err
}

// argmaxTask writes the index of the largest element of each row.
type argmaxTask struct {
	last int
	x    []float32
	out  []int32
}

func (t *argmaxTask) run(lo, hi, _ int) error {
	for r := lo; r < hi; r++ {
		row := t.x[r*t.last : (r+1)*t.last]
		best, at := row[0], 0
		for j, v := range row[1:] {
			if v > best {
				best, at = v, j+1
			}
		}
		t.out[r] = int32(at)
	}
	return nil
}

// moveKernels are the kernels both tiers share.
func moveKernels() map[graph.Op]kernel {
	return map[graph.Op]kernel{
		graph.OpGetRows:    kGetRows,
		graph.OpKVWrite:    kKVWrite,
		graph.OpView:       noop,
		graph.OpReshape:    noop,
		graph.OpPermute:    noop,
		graph.OpContiguous: kContiguous,
		graph.OpConcat:     kConcat,
		graph.OpCopy:       kCopy,
		graph.OpArgmax:     kArgmax,
	}
}

// moveScratch is the per-thread float32 scratch of the shared kernels.
func moveScratch(n *graph.Node) int {
	if n.Op == graph.OpCopy && n.Inputs[0].DType != n.DType {
		return n.Shape.Last()
	}
	return 0
}
