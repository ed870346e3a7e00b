//go:build cgo

package vulkan

import (
	"errors"
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// The matmul GEMV variants with 16-byte loads and integer dot products
// (kernels/vulkan/include/matmul_gemv4.glsl), registered in
// ops_matmul.go and selected by name; "auto" does not use them until they
// have been measured on GPUs:
//
//   - "gemv_vec4": weights and x read as uvec4/vec4 (F32, F16, BF16 in
//     units of 8 elements; Q8_0 and Q4_0 one block of 32 per unit, from
//     the 16-byte-aligned vectors covering it), F32 arithmetic.
//   - "gemv_q8": Q8_0 and Q4_0 weights against x quantized to int8 per
//     block of 32 (d = max|x|/127) by a first dispatch (quantize_x_q8)
//     into program scratch; the products of each block are summed in
//     integers, scaled once: Σ w·x ≈ d_w·d_x·Σ q_w·q_x (Q4_0: minus
//     8·d_w·d_x·Σ q_x).
//   - "gemv_dp4": gemv_q8 with OpSDot (four int8 products and their sum in
//     one instruction), on devices with shaderIntegerDotProduct
//     (VK_KHR_shader_integer_dot_product or Vulkan 1.3).
const (
	matmulGEMVVec4 = "gemv_vec4"
	matmulGEMVQ8   = "gemv_q8"
	matmulGEMVDP4  = "gemv_dp4"
)

// intDotAvailable: OpSDot needs shaderIntegerDotProduct.
func intDotAvailable(d *deviceInfo) error {
	if !d.Features.IntDot {
		return errors.New("the device has no integer dot products (shaderIntegerDotProduct)")
	}
	return nil
}

// gemv4Config returns the workgroup size (a power of two from 32 to
// gemvMaxLocal, no larger than the row's units) and MR of the gemv4
// kernels: units of 8 elements for float weights, blocks of 32 for
// quantized ones.
func gemv4Config(d graph.MatMulDims, wt graph.DType) (local uint32, mr int64) {
	units := int64(d.K) / 8
	if wt.IsQuantized() {
		units = int64(d.K) / 32
	}
	local = 32
	for local < gemvMaxLocal && int64(local) < units {
		local *= 2
	}
	mr = min(int64(d.M), gemvMaxMR)
	if d.M > gemvMaxMR {
		mr = 4
	}
	return local, mr
}

func supportsGEMV4(dev *deviceInfo, n *graph.Node) error {
	switch w := n.Inputs[1].DType; w {
	case graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0:
	default:
		return fmt.Errorf("the gemv_vec4 kernels take f32, f16, bf16, q8_0 and q4_0 weights, not %s", w)
	}
	return supportsMatMulGEMV(dev, n)
}

// xqBytes is the size of the int8 activations of n: 32 bytes and (d, Σq)
// per block of 32.
func xqBytes(n *graph.Node) int64 {
	d := n.MatMulDims()
	blocks := int64(d.M) * int64(d.Batches) * int64(d.K) / 32
	return 40 * blocks
}

func supportsGEMVQ8(dev *deviceInfo, n *graph.Node) error {
	switch w := n.Inputs[1].DType; w {
	case graph.Q8_0, graph.Q4_0:
	default:
		return fmt.Errorf("int8 activations are for q8_0 and q4_0 weights, not %s", w)
	}
	if b := xqBytes(n); b > dev.maxWindow() {
		return fmt.Errorf("the int8 activations (%d bytes) exceed one binding", b)
	}
	return supportsMatMulGEMV(dev, n)
}

// launchGEMV4 records the gemv4 kernel of kind ("gemv4", "gemv_q8",
// "gemv_dp4"), after the activations' quantization for the latter two,
// one dispatch per chunk of weight rows that fits a binding.
func launchGEMV4(kind string) func(c *compiler, n *graph.Node) error {
	return func(c *compiler, n *graph.Node) error {
		x, w := n.Inputs[0], n.Inputs[1]
		d := n.MatMulDims()
		m, nn, k, batches, rowBytes := int64(d.M), int64(d.N), int64(d.K), int64(d.Batches), d.WRowBytes
		xq := kind != "gemv4"
		rows := m * batches
		s := -1
		if xq {
			s = c.Scratch(xqBytes(n))
			l := c.Launch(n, "quantize_x_q8")
			ax, as := l.In(x), l.Scratch(s)
			l.Int(m)
			l.Int(k)
			l.Offset(ax, 4)
			l.Int(m * k)
			l.Int(rows)
			l.Offset(as, 4)
			l.Local(64, 1, 1)
			l.Grid1D(groups(rows*k/32, 64))
		}
		unit := weightUnit(w.DType)
		wRow := k
		if w.DType.IsQuantized() {
			wRow = rowBytes
		}
		chunks := [][2]int{{0, d.N}}
		if d.BatchedW {
			if batches*nn*rowBytes > c.Dev.maxWindow() {
				return fmt.Errorf("batched weight %s of %d bytes exceeds one binding (maxStorageBufferRange %d)",
					w, batches*nn*rowBytes, c.Dev.Limits.MaxStorageBufferRange)
			}
		} else if nn*rowBytes > c.Dev.maxWindow() {
			var err error
			if chunks, err = c.Dev.rowChunks(d.N, rowBytes); err != nil {
				return fmt.Errorf("weight %s: %w", w, err)
			}
		}
		var wbs int64
		if d.BatchedW {
			wbs = nn * rowBytes / unit
		}
		local, mr := gemv4Config(d, w.DType)
		for _, ch := range chunks {
			l := c.Launch(n, "matmul_"+w.DType.String()+"_"+kind)
			ax := l.In(x)
			var aw int
			if len(chunks) == 1 {
				aw = l.In(w)
			} else {
				aw = l.InRange(w, int64(ch[0])*rowBytes, int64(ch[1])*rowBytes)
			}
			ad := l.Out(n)
			as := -1
			if xq {
				as = l.Scratch(s)
			}
			l.Int(m)
			l.Int(nn)
			l.Int(k)
			l.Int(int64(ch[0]))
			l.Int(int64(ch[1] - ch[0]))
			l.Offset(ax, 4)
			l.Offset(aw, unit)
			l.Offset(ad, 4)
			l.Int(m * k)
			l.Int(wbs)
			l.Int(m * nn)
			l.Int(wRow)
			if xq {
				l.Offset(as, 4)
				l.Int(rows)
			}
			l.Local(local, 1, 1)
			l.Spec(3, gemvRowsPerGroup)
			l.Spec(4, uint32(mr))
			gx, gy := fold(groups(int64(ch[1]-ch[0]), gemvRowsPerGroup))
			l.Grid(gx, gy, uint32(batches))
		}
		return nil
	}
}
