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
	tb := p.bytesOf(table)
	out := p.f32(n)
	return p.parallel(len(idv), 4, func(lo, hi, _ int) error {
		for i := lo; i < hi; i++ {
			row := tb[int64(idv[i])*rb : int64(idv[i]+1)*rb]
			if err := quant.Dequantize(table.DType, row, out[i*d:(i+1)*d]); err != nil {
				return fmt.Errorf("row %d: %w", idv[i], err)
			}
		}
		return nil
	})
}

func kKVWrite(p *program, n *graph.Node) error {
	cache, src, pos := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	ctx := cache.Shape[0]
	rowLen := int(cache.Shape.NumElements()) / ctx
	pv := p.i32(pos)
	for i, ps := range pv {
		if ps < 0 || int(ps) >= ctx {
			return fmt.Errorf("position %d at index %d is outside the cache's rows [0, %d)", ps, i, ctx)
		}
	}
	sv := p.f32(src)
	// Rows are written in order so that a repeated position keeps the last row.
	switch cache.DType {
	case graph.F32:
		cv := p.f32(cache)
		for i, ps := range pv {
			copy(cv[int(ps)*rowLen:(int(ps)+1)*rowLen], sv[i*rowLen:(i+1)*rowLen])
		}
	case graph.F16:
		cv := p.u16(cache)
		for i, ps := range pv {
			dst := cv[int(ps)*rowLen : (int(ps)+1)*rowLen]
			for j, x := range sv[i*rowLen : (i+1)*rowLen] {
				dst[j] = quant.F32ToF16(x)
			}
		}
	default:
		return fmt.Errorf("cache dtype %s is not supported", cache.DType)
	}
	return nil
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
	last := n.Shape.Last()
	rows := int(n.Shape.Rows())
	ls := lastStride(x)
	switch elemSize(x.DType) {
	case 4:
		sv := asU32(p.storage(x))
		dv := asU32(dst)
		return p.parallel(rows, 16, func(lo, hi, _ int) error {
			for r := lo; r < hi; r++ {
				off := rowOffset(x.Shape, x.Strides, x.Offset, r)
				d := dv[r*last : (r+1)*last]
				for j := range d {
					d[j] = sv[off+int64(j)*ls]
				}
			}
			return nil
		})
	case 2:
		sv := asU16(p.storage(x), len(p.storage(x))/2)
		dv := asU16(dst, len(dst)/2)
		return p.parallel(rows, 16, func(lo, hi, _ int) error {
			for r := lo; r < hi; r++ {
				off := rowOffset(x.Shape, x.Strides, x.Offset, r)
				d := dv[r*last : (r+1)*last]
				for j := range d {
					d[j] = sv[off+int64(j)*ls]
				}
			}
			return nil
		})
	}
	return fmt.Errorf("cannot copy strided %s", x)
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
	out := p.bytesOf(n)
	var src []byte
	if x.IsContiguous() {
		src = p.bytesOf(x)
	} else {
		src = p.storage(x)
	}
	ls := lastStride(x)
	return p.parallel(rows, 4, func(lo, hi, slot int) error {
		tmp := p.scratchFor(slot)[:last]
		for r := lo; r < hi; r++ {
			row := tmp
			if n.DType == graph.F32 {
				row = asF32(out[int64(r)*outRow:], last)
			}
			if x.IsContiguous() {
				if err := quant.Dequantize(x.DType, src[int64(r)*inRow:], row); err != nil {
					return fmt.Errorf("row %d: %w", r, err)
				}
			} else {
				gatherFloat(x.DType, src, rowOffset(x.Shape, x.Strides, x.Offset, r), ls, row)
			}
			if n.DType != graph.F32 {
				if err := quant.Quantize(n.DType, row, out[int64(r)*outRow:(int64(r)+1)*outRow]); err != nil {
					return fmt.Errorf("row %d: %w", r, err)
				}
			}
		}
		return nil
	})
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
	xv := p.f32(x)
	out := p.i32(n)
	return p.parallel(len(out), 16, func(lo, hi, _ int) error {
		for r := lo; r < hi; r++ {
			row := xv[r*last : (r+1)*last]
			best, at := row[0], 0
			for j, v := range row[1:] {
				if v > best {
					best, at = v, j+1
				}
			}
			out[r] = int32(at)
		}
		return nil
	})
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
