package graph

import "fmt"

// Op identifies what a node computes. Leaves (Weight, Input, State) compute
// nothing: their storage is bound by the caller.
type Op uint8

// The op set. Semantics are documented on the Builder method of the same name.
const (
	OpInvalid Op = iota
	// Leaves.
	OpWeight // read-only parameters, loaded once
	OpInput  // bound on every run: token ids, positions, masks
	OpState  // persistent across runs, owned by the caller: the KV cache
	// Compute ops.
	OpGetRows
	OpMatMul
	OpAdd
	OpMul
	OpScale
	OpRMSNorm
	OpLayerNorm
	OpSiLU
	OpGELU
	OpSwiGLU
	OpSoftmax
	OpRoPE
	OpAttention
	OpKVWrite
	OpView
	OpReshape
	OpPermute
	OpContiguous
	OpConcat
	OpCopy
	OpArgmax
	// Fused ops (see fused.go): each computes what a small subgraph of the
	// ops above computes, in one kernel. Fuse makes them for backends that
	// support them; every backend still runs the unfused graph.
	OpRMSNormMul
	OpRoPEKVWrite
	OpMatMulFused
	numOps
)

var opNames = [numOps]string{
	OpInvalid:     "invalid",
	OpWeight:      "weight",
	OpInput:       "input",
	OpState:       "state",
	OpGetRows:     "get_rows",
	OpMatMul:      "matmul",
	OpAdd:         "add",
	OpMul:         "mul",
	OpScale:       "scale",
	OpRMSNorm:     "rms_norm",
	OpLayerNorm:   "layer_norm",
	OpSiLU:        "silu",
	OpGELU:        "gelu",
	OpSwiGLU:      "swiglu",
	OpSoftmax:     "softmax",
	OpRoPE:        "rope",
	OpAttention:   "attention",
	OpKVWrite:     "kv_write",
	OpView:        "view",
	OpReshape:     "reshape",
	OpPermute:     "permute",
	OpContiguous:  "contiguous",
	OpConcat:      "concat",
	OpCopy:        "copy",
	OpArgmax:      "argmax",
	OpRMSNormMul:  "rms_norm_mul",
	OpRoPEKVWrite: "rope_kv_write",
	OpMatMulFused: "matmul_fused",
}

// String returns the op's snake_case name ("rms_norm").
func (o Op) String() string {
	if o >= numOps {
		return fmt.Sprintf("op(%d)", uint8(o))
	}
	return opNames[o]
}

// ParseOp returns the op with the given name.
func ParseOp(s string) (Op, error) {
	for o := Op(1); o < numOps; o++ {
		if opNames[o] == s {
			return o, nil
		}
	}
	return OpInvalid, fmt.Errorf("graph: unknown op %q", s)
}

// ComputeOps lists every op that is not a leaf, in declaration order.
func ComputeOps() []Op {
	var out []Op
	for o := OpGetRows; o < numOps; o++ {
		out = append(out, o)
	}
	return out
}

// IsLeaf reports whether o is a leaf kind (weight, input or state).
func (o Op) IsLeaf() bool { return o == OpWeight || o == OpInput || o == OpState }

// IsAlias reports whether a node of op o shares the storage of its first
// input instead of owning memory: the view family, kv_write and
// rope_kv_write.
func (o Op) IsAlias() bool {
	return o == OpView || o == OpReshape || o == OpPermute || o == OpKVWrite || o == OpRoPEKVWrite
}

// IsFused reports whether o is a fused op: optional for backends, since
// graph.Fuse emits one only where the backend's Supports accepts it and
// every backend runs the unfused graph.
func (o Op) IsFused() bool { return o == OpRMSNormMul || o == OpRoPEKVWrite || o == OpMatMulFused }

// WritesState reports whether a node of op o writes the state tensor it
// aliases (kv_write, rope_kv_write): its result is that state after the
// write.
func (o Op) WritesState() bool { return o == OpKVWrite || o == OpRoPEKVWrite }

// RoPEMode selects how rotary embedding pairs dimensions.
type RoPEMode uint8

const (
	// RoPENormal rotates adjacent pairs (x[2i], x[2i+1]), as Llama's GGUF layout does.
	RoPENormal RoPEMode = iota
	// RoPENeoX rotates the halves (x[i], x[i+dims/2]), as GPT-NeoX, Qwen and Hugging Face layouts do.
	RoPENeoX
)

// String returns "normal" or "neox".
func (m RoPEMode) String() string {
	if m == RoPENeoX {
		return "neox"
	}
	return "normal"
}

// RoPEParams configures a rope node. The angle of pair i at position p is
// p·FreqScale·Theta^(−2i/Dims) / factor[i], where factor is the optional
// frequency-factor input (Llama 3 scaling) or 1.
type RoPEParams struct {
	Mode      RoPEMode
	Dims      int     // rotated dimensions (even, ≤ head dim); the rest pass through
	Theta     float32 // frequency base, e.g. 10000 or 500000
	FreqScale float32 // linear position scaling (1 = none)
}

// Params holds the parameters of every op; each op reads only its own fields.
type Params struct {
	Scale          float32     // scale: factor; softmax, attention: logit scale
	Eps            float32     // rms_norm, layer_norm
	Causal         bool        // softmax, attention
	HasMask        bool        // softmax, attention: an explicit additive mask input follows
	HasPos         bool        // attention: query positions input follows (causal by position)
	HasFreqFactors bool        // rope: frequency-factor input follows
	RoPE           RoPEParams  // rope
	Axis           int         // concat
	Perm           []int       // permute: output dim i is input dim Perm[i]
	Fused          FusedMatMul // matmul_fused
}

// FusedMatMul configures a matmul_fused node (see Builder.MatMulFused).
type FusedMatMul struct {
	Parts    int  // weights multiplied by the same x: 1 to MaxFusedParts
	Norm     bool // x is RMS-normalised (Params.Eps) and multiplied by a weight first
	SwiGLU   bool // silu(first product) ⊙ second product (Parts = 2) instead of their concatenation
	Residual bool // a tensor of the result's shape is added last
}
