package cuda

import (
	"github.com/golem-llm/golem/graph"
)

// Kernel selection: which implementation "auto" runs a matmul or an
// attention node with, as pure functions of the device's capability, the
// node's shape and its dtypes. Every choice is also a variant of its own
// (ops_matmul.go, ops_attention.go), so that golem bench --variant and
// parity can force it.

// Matmul kernels.
const (
	// mmSIMT is the first, simple kernel: a warp per output element, every
	// weight dtype, batched weights (matmul.cu).
	mmSIMT = "simt"
	// mmGEMV reads each weight byte once with 16-byte loads (F32, F16,
	// BF16) or dp4a against activations quantized to int8 on the fly
	// (quantized weights), two weight rows per warp, up to gemvRows rows
	// of x per pass (matmul_fast.cu).
	mmGEMV = "gemv"
	// mmMMA is the tensor-core GEMM: f16/bf16 tiles through ldmatrix and
	// mma.sync, a cp.async pipeline, swizzled shared memory, quantized
	// weights dequantized to f16 in shared memory, split-K for few output
	// tiles (gemm.cu).
	mmMMA = "mma"
	// mmCublasLt is cuBLASLt's matmul, when the library loads.
	mmCublasLt = "cublaslt"
)

const (
	// gemvRows is the largest number of rows of x "auto" multiplies with
	// the GEMV kernels (decode, small batches): one pass over the weights.
	gemvRows = 8
	// gemmTile and gemmBigTile are the GEMM's square block tiles (M and N);
	// gemmTileK is its K slice.
	gemmTile, gemmBigTile, gemmTileK = 64, 128, 32
	// gemmMaxSplit bounds split-K.
	gemmMaxSplit = 16
)

// matmulPlan is how a matmul node runs.
type matmulPlan struct {
	Kernel string
	// Tile is the mma kernel's block tile edge: gemmBigTile (8 warps, 4
	// stages) when such tiles fill the SMs, else gemmTile (4 warps).
	Tile int
	// Split is the split-K factor of the mma kernel (1: none): each split
	// computes K/Split of the sum into scratch, a second kernel adds them.
	Split int
}

// mmaWeight reports whether the tensor-core GEMM takes weights of dtype
// dt: f16 and bf16 (multiplied as they are), and the block-quantized types
// (dequantized to f16 in shared memory).
func mmaWeight(dt graph.DType) bool { return dt != graph.F32 }

// chooseMatMul is the kernel "auto" runs a matmul of geometry md and
// weight dtype wt with on a device of compute capability cc (major·10 +
// minor) with sms multiprocessors:
//
//	batched w (attention-style products)        simt
//	M ≤ gemvRows (decode, small batches)         gemv
//	f32 weights                                  simt (no tf32 kernel)
//	otherwise, on sm_80 and newer                mma: 128-wide tiles when they fill
//	                                             the SMs, else 64-wide, split over K
//	                                             when those fill less than one wave
//	                                             and K has enough tiles to share
func chooseMatMul(cc, sms int, md graph.MatMulDims, wt graph.DType) matmulPlan {
	switch {
	case md.BatchedW:
		return matmulPlan{Kernel: mmSIMT, Split: 1}
	case md.M <= gemvRows:
		return matmulPlan{Kernel: mmGEMV, Split: 1}
	case !mmaWeight(wt) || cc < 80:
		return matmulPlan{Kernel: mmSIMT, Split: 1}
	}
	return gemmPlan(sms, md)
}

// gemmPlan is the mma kernel's tile and split-K for md on sms SMs: the
// 128-wide tile when its tiles fill the SMs (more reuse of each loaded
// element), else the 64-wide one, split over K when even those leave SMs
// idle.
func gemmPlan(sms int, md graph.MatMulDims) matmulPlan {
	if big := groups(int64(md.M), gemmBigTile) * groups(int64(md.N), gemmBigTile); big >= int64(sms) {
		return matmulPlan{Kernel: mmMMA, Tile: gemmBigTile, Split: 1}
	}
	return matmulPlan{Kernel: mmMMA, Tile: gemmTile, Split: gemmSplit(sms, md)}
}

// gemmSplit is the split-K factor of the 64-wide mma kernel: 1 when the
// output tiles fill the SMs; otherwise enough splits to fill them, each
// with at least 4 K tiles, at most gemmMaxSplit.
func gemmSplit(sms int, md graph.MatMulDims) int {
	tiles := int(groups(int64(md.M), gemmTile) * groups(int64(md.N), gemmTile))
	kTiles := int(groups(int64(md.K), gemmTileK))
	if tiles >= sms || kTiles < 8 {
		return 1
	}
	split := (sms + tiles - 1) / tiles
	split = min(split, kTiles/4, gemmMaxSplit)
	return max(split, 1)
}

// Attention kernels.
const (
	// attnSimple is the first, simple kernel: a block per (query, head),
	// every head dim up to 512, F32/F16/BF16 K and V (attention.cu).
	attnSimple = "simple"
	// attnFlash is FlashAttention-2 on tensor cores: 64 queries per block,
	// K and V tiles of 64 keys in f16 (F32 and BF16 converted), online
	// softmax in f32, causal tile skipping, GQA by indexing (flash.cu).
	attnFlash = "flash"
	// attnSplitKV is flash-decoding: each query's visible keys split into
	// chunks by its position, one block per (chunk, kv head) for all the
	// kv head's query heads, then a reduce pass (flash.cu).
	attnSplitKV = "splitkv"
)

// flashDims reports whether the flash kernel has an instantiation for
// head dims d and dv.
func flashDims(d, dv int) bool { return d == dv && (d == 64 || d == 80 || d == 96 || d == 128) }

// splitKVMaxGroup is the largest GQA group (query heads per kv head) one
// split-KV block serves; larger groups take several blocks.
const splitKVMaxGroup = 8

// splitKVDims reports whether the split-KV kernel takes head dims d and
// dv with K/V elements of esize bytes: a warp's lanes hold a row in 16-byte
// pieces.
func splitKVDims(d, dv, esize int) bool { return max(d, dv)*esize <= 32*16 }

// chooseAttention is the kernel "auto" runs an attention node of geometry
// a with K and V of dtypes kt and vt with, on a device of compute
// capability cc:
//
//	one query per batch (decode), one K/V dtype  splitkv (head dims up to 128 f32 / 256 f16, bf16)
//	K and V of one dtype, d = dv in 64/80/96/128 flash (sm_80 and newer)
//	otherwise                                    simple
func chooseAttention(cc int, a graph.AttentionDims, kt, vt graph.DType) string {
	esize := max(kt.BlockBytes(), vt.BlockBytes())
	switch {
	case a.Sq == 1 && kt == vt && splitKVDims(a.D, a.Dv, esize):
		return attnSplitKV
	case cc >= 80 && kt == vt && flashDims(a.D, a.Dv):
		return attnFlash
	}
	return attnSimple
}

// splitKVMinChunk is the fewest keys a split-KV block takes: fewer would
// cost more in the reduce pass than they save.
const splitKVMinChunk = 64

// splitKVMaxSplits is the grid's split count of a split-KV launch: enough
// blocks for four waves over the device's sms when every split works (a
// decode is memory-bound: many blocks keep many loads in flight),
// bounded by the cache's length (Sk keys in chunks of at least
// splitKVMinChunk) and by 64. heads is the number of (kv head, head
// chunk) blocks per query and rows the number of queries (batch × Sq).
func splitKVMaxSplits(sms int, a graph.AttentionDims, heads, rows int) int {
	blocks := max(heads*rows, 1)
	want := (4*sms + blocks - 1) / blocks
	byLen := (a.Sk + splitKVMinChunk - 1) / splitKVMinChunk
	return max(1, min(want, byLen, 64))
}

// splitKVCount is how many of the grid's maxSplits splits work for a query
// that sees nvis keys: one per splitKVMinChunk keys, at most maxSplits
// (at least 1). It depends on the position, not on the cache size; the
// kernels compute the same (flash.cu: splitkv_count).
func splitKVCount(nvis, maxSplits int) int {
	return max(1, min(maxSplits, (nvis+splitKVMinChunk-1)/splitKVMinChunk))
}
