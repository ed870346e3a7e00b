package parity

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/optcheck"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/runtime"
)

// Model-level gates and defaults (ARCHITECTURE.md, Correctness).
const (
	// DefaultMaxMeanKL is the largest mean KL(P_a‖P_b) over the prompt's
	// positions that passes, for two backends at equal weight types.
	DefaultMaxMeanKL = 1e-4
	// DefaultMinTop1 is the smallest fraction of positions whose argmax
	// agrees that passes.
	DefaultMinTop1 = 0.995
	// DefaultGenerate is how many tokens the greedy continuation runs on
	// each backend.
	DefaultGenerate = 32
)

// ModelOptions configure CompareModel. Zero values mean the defaults.
type ModelOptions struct {
	// MaxMeanKL is the gate on the mean KL divergence, finite and > 0
	// (0: DefaultMaxMeanKL).
	MaxMeanKL float64
	// MinTop1 is the gate on top-1 agreement, a fraction in (0, 1]
	// (0: DefaultMinTop1).
	MinTop1 float64
	// Generate is the number of greedy tokens generated on each backend
	// (0: DefaultGenerate; negative: no generation).
	Generate int
	// Layers also compares every intermediate activation of the prompt's
	// run (every compute node that owns memory) and names the first one
	// whose NMSE exceeds its threshold. It keeps every activation of the
	// prompt on both devices at once: use short prompts on large models.
	Layers bool
	// NodeThreshold gives the NMSE tolerance of an activation with Layers
	// (nil: NodeThreshold).
	NodeThreshold func(n *graph.Node) float64
	// KVType is the KV cache element type: F32 (default), F16 or BF16
	// (graph.KVTypes).
	KVType graph.DType
	// Progress, if set, is told of each step of a long comparison: the
	// load, every prefill chunk and every generated token on each device,
	// and the activation comparison.
	Progress func(ModelProgress)
}

// ModelProgress is one step of CompareModel.
type ModelProgress struct {
	Device string // the device working ("" for the activation comparison)
	Stage  string // "load", "prefill", "generate" or "layers"
	Done   int    // tokens done in the stage
	Total  int    // tokens of the stage
}

// report tells o.Progress of a step, when set.
func (o ModelOptions) report(device, stage string, done, total int) {
	if o.Progress != nil {
		o.Progress(ModelProgress{Device: device, Stage: stage, Done: done, Total: total})
	}
}

// prefillChunk is how many prompt tokens runPrompt feeds between progress
// reports.
const prefillChunk = 512

// Validate reports the first field out of its range as an
// *optcheck.FieldError ("parity: ModelOptions.MaxMeanKL NaN: want ...").
func (o ModelOptions) Validate() error {
	s := optcheck.Struct{Pkg: "parity", Name: "ModelOptions"}
	var kl, top1, kv error
	if f := o.MaxMeanKL; !(f >= 0) || math.IsInf(f, 1) {
		kl = s.Fail("MaxMeanKL", f, "a finite number > 0")
	}
	if f := o.MinTop1; !(f >= 0 && f <= 1) {
		top1 = s.Fail("MinTop1", f, "a fraction in (0, 1]")
	}
	if !o.KVType.IsKVType() {
		kv = s.Fail("KVType", o.KVType, graph.KVTypeNames())
	}
	return optcheck.First(kl, top1, kv)
}

func (o ModelOptions) withDefaults() ModelOptions {
	if o.MaxMeanKL == 0 {
		o.MaxMeanKL = DefaultMaxMeanKL
	}
	if o.MinTop1 == 0 {
		o.MinTop1 = DefaultMinTop1
	}
	if o.Generate == 0 {
		o.Generate = DefaultGenerate
	}
	if o.NodeThreshold == nil {
		o.NodeThreshold = NodeThreshold
	}
	return o
}

// NodeThreshold is the default tolerance of a model activation compared
// with --layers. The per-op tolerances (Threshold) bound one op fed
// identical inputs; inside a model every node also carries the error of
// everything computed before it, so they cannot be applied unchanged
// (a residual add in layer 20 of a correct backend is far above 1e-7).
// The policy is:
//
//	block outputs (blk.N.l_out), logits    LayerThreshold (2e-3)
//	every other activation                 LayerThreshold (2e-3), or the
//	                                       op's own tolerance if larger
//
// so every activation is held to the whole-layer tolerance of
// ARCHITECTURE.md, and the first node that crosses it is where the error
// entered (a wrong kernel shows up as NMSE far above 2e-3 at its own node,
// with healthy NMSE at every node before it). ModelOptions.NodeThreshold
// replaces the policy, e.g. with OpNodeThreshold to hold each node to its
// op's single-op tolerance.
func NodeThreshold(n *graph.Node) float64 {
	return max(LayerThreshold, OpNodeThreshold(n))
}

// OpNodeThreshold returns the single-op tolerance of n's op and dtypes, as
// the op conformance suite uses it (see Threshold): 5e-4 for matmul and
// attention, 1e-6 for softmax, 1e-7 for element-wise ops, 0 for exact ops.
func OpNodeThreshold(n *graph.Node) float64 {
	c := Case{Op: n.Op}
	switch n.Op {
	case graph.OpMatMul:
		c.DTypes = []graph.DType{n.Inputs[1].DType}
	case graph.OpGetRows:
		c.DTypes = []graph.DType{n.Inputs[0].DType}
	case graph.OpAttention:
		c.DTypes = []graph.DType{n.Inputs[1].DType}
	case graph.OpCopy:
		c.DTypes = []graph.DType{n.Inputs[0].DType, n.DType}
	default:
		c.DTypes = []graph.DType{n.DType}
	}
	return Threshold(c)
}

// PositionMetrics compares the logits of one prompt position.
type PositionMetrics struct {
	// Pos is the position in the prompt; its logits predict token Pos+1.
	Pos int `json:"pos"`
	// Token is the prompt token at Pos.
	Token int32 `json:"token"`
	// MaxAbs is max |logit_a − logit_b| over the vocabulary.
	MaxAbs Float `json:"max_abs"`
	// KL is KL(P_a‖P_b) of the softmaxed logits.
	KL Float `json:"kl"`
	// Top1 reports whether both backends pick the same most likely token.
	Top1 bool `json:"top1"`
	// TopA and TopB are each backend's most likely next token.
	TopA int32 `json:"top_a"`
	TopB int32 `json:"top_b"`
}

// NodeMetrics compares one intermediate activation (with Layers).
type NodeMetrics struct {
	// Index is the node's place in graph (execution) order.
	Index int `json:"index"`
	// Name is the node's name: "blk.3.kqv", or an automatic one such as
	// "blk.3.rms_norm#41" for unnamed nodes.
	Name string `json:"name"`
	// Op is the op that computes the node.
	Op string `json:"op"`
	// Layer is "blk.N" inside block N, "input" before the first block and
	// "output" after the last.
	Layer string `json:"layer"`
	// Shape and DType describe the activation.
	Shape []int  `json:"shape"`
	DType string `json:"dtype"`
	// NMSE is Σ(a−b)²/Σb² over the elements where both are finite.
	NMSE Float `json:"nmse"`
	// MaxAbs is max |a−b| over the same elements.
	MaxAbs Float `json:"max_abs"`
	// NonFinite counts NaN and Inf values in a where b is finite.
	NonFinite int `json:"non_finite"`
	// Threshold is the tolerance the node was held to.
	Threshold float64 `json:"threshold"`
	// Pass reports NMSE ≤ Threshold with no non-finite values.
	Pass bool `json:"pass"`
}

// Describe names the node for a divergence message:
// `blk.3 attention "blk.3.kqv" NMSE 3.1e-02 > 2e-03`.
func (n NodeMetrics) Describe() string {
	why := fmt.Sprintf("NMSE %.1e > %.0e", float64(n.NMSE), n.Threshold)
	if n.NonFinite > 0 {
		why = fmt.Sprintf("%d NaN/Inf values, %s", n.NonFinite, why)
		if !math.IsNaN(float64(n.NMSE)) && float64(n.NMSE) <= n.Threshold {
			why = fmt.Sprintf("%d NaN/Inf values (NMSE %.1e)", n.NonFinite, float64(n.NMSE))
		}
	}
	return fmt.Sprintf("%s %s %q %s", n.Layer, n.Op, n.Name, why)
}

// Generation is one backend's greedy continuation of the prompt.
type Generation struct {
	// Device is the backend's device string.
	Device string `json:"device"`
	// Tokens are the generated token ids.
	Tokens []int32 `json:"tokens"`
	// Text is their decoded text.
	Text string `json:"text"`
	// StopReason is why generation ended: "length", "eos", "context" or
	// "non-finite" (the logits held NaN or ±Inf; Error says where).
	StopReason string `json:"stop_reason"`
	// Error is the message of a non-finite stop, else "".
	Error string `json:"error,omitempty"`
}

// ModelReport is the outcome of CompareModel. Backend B is the reference
// side: NMSE is normalised by B's values and KL is KL(P_a‖P_b).
type ModelReport struct {
	// Model names the source (its path).
	Model string `json:"model"`
	// A and B are the device strings of the compared backends.
	A string `json:"a"`
	B string `json:"b"`
	// Tokens is the prompt.
	Tokens []int32 `json:"tokens"`
	// Positions holds the comparison of every prompt position.
	Positions []PositionMetrics `json:"positions"`
	// MeanKL, MaxKL and MaxAbs summarise Positions.
	MeanKL Float `json:"mean_kl"`
	MaxKL  Float `json:"max_kl"`
	MaxAbs Float `json:"max_abs"`
	// Top1 is the fraction of positions whose argmax agrees.
	Top1 float64 `json:"top1"`
	// GateMeanKL and GateTop1 are the gates applied.
	GateMeanKL float64 `json:"gate_mean_kl"`
	GateTop1   float64 `json:"gate_top1"`
	// GenA and GenB are the greedy continuations (empty when disabled).
	GenA Generation `json:"gen_a"`
	GenB Generation `json:"gen_b"`
	// GenMismatch is the index of the first generated token that differs
	// between GenA and GenB, or -1 when they agree.
	GenMismatch int `json:"gen_mismatch"`
	// Nodes compares every activation in graph order (with Layers).
	Nodes []NodeMetrics `json:"nodes,omitempty"`
	// FirstDivergence is the first node of Nodes that fails its threshold.
	FirstDivergence *NodeMetrics `json:"first_divergence,omitempty"`
	// Failures lists every gate that failed, one sentence each.
	Failures []string `json:"failures"`
	// Pass reports whether every gate passed: mean KL, top-1 and, with
	// Layers, every activation within its threshold.
	Pass bool `json:"pass"`
}

// Divergence returns the "first divergence: ..." line, or "" when no
// activation failed (or Layers was off).
func (r *ModelReport) Divergence() string {
	if r.FirstDivergence == nil {
		return ""
	}
	return "first divergence: " + r.FirstDivergence.Describe()
}

// CompareModel loads src on backends a and b, runs the same prompt tokens
// through both (one prefill keeping every position's logits) and compares
// the logits position by position; it then generates a greedy
// continuation on each. With o.Layers it also compares every intermediate
// activation of the prompt's run. A gate that fails is reported in the
// report (Pass, Failures), not as an error; errors are reserved for runs
// that could not be made.
func CompareModel(ctx context.Context, src runtime.Source, a, b backend.Backend, tokens []int32, o ModelOptions) (*ModelReport, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	if len(tokens) == 0 {
		return nil, errors.New("parity: model: no prompt tokens")
	}
	r := &ModelReport{
		Model: src.Name(), A: a.Name(), B: b.Name(),
		Tokens:     append([]int32(nil), tokens...),
		GateMeanKL: o.MaxMeanKL, GateTop1: o.MinTop1, GenMismatch: -1,
		Failures: []string{},
	}
	la, ga, err := runPrompt(ctx, src, a, tokens, o)
	if err != nil {
		return nil, err
	}
	lb, gb, err := runPrompt(ctx, src, b, tokens, o)
	if err != nil {
		return nil, err
	}
	r.GenA, r.GenB = ga, gb
	vocab := len(la) / len(tokens)
	if len(la) != len(lb) || vocab*len(tokens) != len(la) || vocab == 0 {
		return nil, fmt.Errorf("parity: model: %s gave %d logits and %s %d for %d positions", a.Name(), len(la), b.Name(), len(lb), len(tokens))
	}
	comparePositions(r, la, lb, vocab)
	for i := range max(len(ga.Tokens), len(gb.Tokens)) {
		if i >= len(ga.Tokens) || i >= len(gb.Tokens) || ga.Tokens[i] != gb.Tokens[i] {
			r.GenMismatch = i
			break
		}
	}
	if o.Layers {
		nodes, err := CompareNodes(ctx, src, a, b, tokens, o)
		if err != nil {
			return nil, err
		}
		r.Nodes = nodes
		for i := range r.Nodes {
			if !r.Nodes[i].Pass {
				r.FirstDivergence = &r.Nodes[i]
				break
			}
		}
	}
	if kl := float64(r.MeanKL); math.IsNaN(kl) || kl > o.MaxMeanKL {
		r.Failures = append(r.Failures, fmt.Sprintf("mean KL %.3g > %.3g", kl, o.MaxMeanKL))
	}
	if r.Top1 < o.MinTop1 {
		r.Failures = append(r.Failures, fmt.Sprintf("top-1 agreement %.2f%% < %.2f%%", 100*r.Top1, 100*o.MinTop1))
	}
	if r.FirstDivergence != nil {
		r.Failures = append(r.Failures, r.Divergence())
	}
	for _, g := range []Generation{r.GenA, r.GenB} {
		if g.Error != "" {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: greedy generation: %s", g.Device, g.Error))
		}
	}
	r.Pass = len(r.Failures) == 0
	return r, nil
}

// comparePositions fills the per-position and overall logit metrics.
func comparePositions(r *ModelReport, la, lb []float32, vocab int) {
	var sumKL, maxKL, maxAbs float64
	agree := 0
	for p := range r.Tokens {
		pa, pb := la[p*vocab:(p+1)*vocab], lb[p*vocab:(p+1)*vocab]
		kl := KLDivergence(pa, pb)
		ma := MaxAbsDiff(pa, pb)
		pm := PositionMetrics{
			Pos: p, Token: r.Tokens[p], MaxAbs: Float(ma), KL: Float(kl),
			TopA: int32(Argmax(pa)), TopB: int32(Argmax(pb)),
		}
		pm.Top1 = pm.TopA >= 0 && pm.TopA == pm.TopB
		if pm.Top1 {
			agree++
		}
		sumKL += kl
		maxKL = nanMax(maxKL, kl)
		maxAbs = nanMax(maxAbs, ma)
		r.Positions = append(r.Positions, pm)
	}
	r.MeanKL = Float(sumKL / float64(len(r.Tokens)))
	r.MaxKL, r.MaxAbs = Float(maxKL), Float(maxAbs)
	r.Top1 = float64(agree) / float64(len(r.Tokens))
}

// nanMax is max that keeps a NaN.
func nanMax(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return math.Max(a, b)
}

// runPrompt loads src on be, prefills tokens keeping every position's
// logits, and generates the greedy continuation in a second session.
func runPrompt(ctx context.Context, src runtime.Source, be backend.Backend, tokens []int32, o ModelOptions) (logits []float32, gen Generation, err error) {
	gen.Device = be.Name()
	o.report(be.Name(), "load", 0, len(tokens))
	m, err := runtime.Load(ctx, src, be, runtime.LoadOptions{})
	if err != nil {
		return nil, gen, fmt.Errorf("parity: model: load on %s: %w", be.Name(), err)
	}
	defer func() {
		if cerr := m.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("parity: model: %s: %w", be.Name(), cerr)
		}
	}()
	s, err := m.NewSession(runtime.SessionOptions{Context: len(tokens), KVType: o.KVType, AllLogits: true})
	if err != nil {
		return nil, gen, fmt.Errorf("parity: model: %s: %w", be.Name(), err)
	}
	for start := 0; start < len(tokens) && err == nil; start += prefillChunk {
		o.report(be.Name(), "prefill", start, len(tokens))
		err = s.Feed(ctx, tokens[start:min(start+prefillChunk, len(tokens))])
		logits = append(logits, s.Logits()...)
	}
	if cerr := s.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, gen, fmt.Errorf("parity: model: prefill on %s: %w", be.Name(), err)
	}
	if o.Generate < 0 {
		return logits, gen, nil
	}
	s, err = m.NewSession(runtime.SessionOptions{Context: len(tokens) + o.Generate, KVType: o.KVType})
	if err != nil {
		return nil, gen, fmt.Errorf("parity: model: %s: %w", be.Name(), err)
	}
	defer s.Close()
	o.report(be.Name(), "generate", 0, o.Generate)
	made := 0
	text, st, err := runtime.Generate(ctx, s, tokens, runtime.GenerateOptions{MaxTokens: o.Generate,
		OnText: func(string) error {
			made++
			o.report(be.Name(), "generate", made, o.Generate)
			return nil
		}})
	switch {
	case errors.Is(err, runtime.ErrNonFinite): // a result to report, not a failure to run
		gen.Text, gen.StopReason, gen.Error = text, "non-finite", err.Error()
	case err != nil:
		return nil, gen, fmt.Errorf("parity: model: generate on %s: %w", be.Name(), err)
	default:
		gen.Text, gen.StopReason = text, st.StopReason
	}
	if fed := s.Tokens(); len(fed) > len(tokens) {
		gen.Tokens = append([]int32(nil), fed[len(tokens):]...)
	}
	return logits, gen, nil
}

// WithAllOutputs returns a graph with g's nodes in g's order whose outputs
// are g's outputs followed by every other compute node that owns its memory
// (not a leaf, not a view, reshape, permute or kv_write), in graph order,
// so that a program compiled from it lets the caller bind and read every
// intermediate activation. g itself is not modified.
//
// graph.Builder.Build cannot be used here: the builder of a model graph is
// private to the model package. The returned graph is checked with
// Graph.Topological; its Node lookup by name is not available (use g's).
func WithAllOutputs(g *graph.Graph) (*graph.Graph, error) {
	outs := append([]*graph.Node(nil), g.Outputs...)
	for _, n := range g.Nodes {
		if n.Op.IsLeaf() || n.Op.IsAlias() || g.IsOutput(n) {
			continue
		}
		outs = append(outs, n)
	}
	all := &graph.Graph{Nodes: g.Nodes, Outputs: outs}
	if err := all.Topological(); err != nil {
		return nil, fmt.Errorf("parity: expose activations: %w", err)
	}
	return all, nil
}

// blockRE extracts the block of a node name made in a block's scope.
var blockRE = regexp.MustCompile(`^blk\.(\d+)\.`)

// nodeLayers returns the layer label of every node of g: "blk.N" inside
// block N, "input" before the first block node, "output" after the last.
func nodeLayers(g *graph.Graph) []string {
	out := make([]string, len(g.Nodes))
	seen := false
	for i, n := range g.Nodes {
		if m := blockRE.FindStringSubmatch(n.Name); m != nil {
			out[i] = "blk." + m[1]
			seen = true
		} else if seen {
			out[i] = "output"
		} else {
			out[i] = "input"
		}
	}
	return out
}

// CompareNodes builds the model's graph for the prompt with every
// intermediate activation exposed as an output (WithAllOutputs), runs it
// on a and on b from an empty KV cache, and compares each activation in
// graph order against o.NodeThreshold (B is the reference side).
func CompareNodes(ctx context.Context, src runtime.Source, a, b backend.Backend, tokens []int32, o ModelOptions) ([]NodeMetrics, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	n := len(tokens)
	if n == 0 {
		return nil, errors.New("parity: layers: no prompt tokens")
	}
	built, err := llama.Build(src.Config(), src.Weights(), llama.BuildOptions{
		Tokens: n, Context: n, KVType: o.KVType, AllLogits: true,
	})
	if err != nil {
		return nil, fmt.Errorf("parity: layers: %w", err)
	}
	g, err := WithAllOutputs(built.Graph)
	if err != nil {
		return nil, err
	}
	o.report(a.Name(), "layers", 0, n)
	ra, err := runExposed(ctx, src, a, built, g, tokens)
	if err != nil {
		return nil, err
	}
	defer ra.close()
	o.report(b.Name(), "layers", 0, n)
	rb, err := runExposed(ctx, src, b, built, g, tokens)
	if err != nil {
		return nil, err
	}
	defer rb.close()
	layers := nodeLayers(g)
	index := make(map[*graph.Node]int, len(g.Nodes))
	for i, nd := range g.Nodes {
		index[nd] = i
	}
	// Compare in graph order, reading one activation at a time.
	var out []NodeMetrics
	for _, nd := range g.Nodes {
		k, ok := ra.slot[nd]
		if !ok {
			continue
		}
		va, err := ra.read(k)
		if err != nil {
			return nil, err
		}
		vb, err := rb.read(k)
		if err != nil {
			return nil, err
		}
		ck := Compare(va, vb)
		thr := o.NodeThreshold(nd)
		nm := NodeMetrics{
			Index: index[nd], Name: nd.Name, Op: nd.Op.String(), Layer: layers[index[nd]],
			Shape: append([]int(nil), nd.Shape...), DType: nd.DType.String(),
			NMSE: Float(ck.NMSE), MaxAbs: Float(ck.MaxAbs), NonFinite: ck.NaN + ck.Inf,
			Threshold: thr,
		}
		nm.Pass = nm.NonFinite == 0 && !math.IsNaN(ck.NMSE) && ck.NMSE <= thr
		out = append(out, nm)
	}
	return out, nil
}

// exposedRun is a graph with every activation bound, after one run.
type exposedRun struct {
	be   backend.Backend
	g    *graph.Graph
	prog backend.Program
	bufs []backend.Buffer // everything to free
	outs []backend.Buffer // one per g.Outputs
	slot map[*graph.Node]int
}

// read returns output k decoded to float32.
func (r *exposedRun) read(k int) ([]float32, error) {
	nd := r.g.Outputs[k]
	raw := make([]byte, nd.Bytes())
	if err := r.outs[k].Read(0, raw); err != nil {
		return nil, fmt.Errorf("parity: layers: read %s from %s: %w", nd, r.be.Name(), err)
	}
	v, err := decode(nd.DType, raw)
	if err != nil {
		return nil, fmt.Errorf("parity: layers: decode %s from %s: %w", nd, r.be.Name(), err)
	}
	return v, nil
}

func (r *exposedRun) close() {
	if r.prog != nil {
		r.prog.Close()
	}
	for _, b := range r.bufs {
		b.Free()
	}
}

// runExposed compiles g on be, binds the model's weights, fresh zeroed KV
// caches, the prompt and a buffer per output, and runs it once.
func runExposed(ctx context.Context, src runtime.Source, be backend.Backend, built *llama.Built, g *graph.Graph, tokens []int32) (*exposedRun, error) {
	prog, err := be.Compile(g)
	if err != nil {
		return nil, fmt.Errorf("parity: layers: compile on %s: %w", be.Name(), err)
	}
	r := &exposedRun{be: be, g: g, prog: prog, slot: map[*graph.Node]int{}}
	fail := func(err error) (*exposedRun, error) {
		r.close()
		return nil, fmt.Errorf("parity: layers: %s: %w", be.Name(), err)
	}
	alloc := func(size int64) (backend.Buffer, error) {
		buf, err := be.Alloc(size)
		if err == nil {
			r.bufs = append(r.bufs, buf)
		}
		return buf, err
	}
	hw, zeroCopy := be.(backend.HostWrapper)
	for _, w := range g.Leaves(graph.OpWeight) {
		data, err := src.TensorData(w.Name)
		if err != nil {
			return fail(fmt.Errorf("tensor %q: %w", w.Name, err))
		}
		if int64(len(data)) != w.Bytes() {
			return fail(fmt.Errorf("tensor %q has %d bytes, want %d", w.Name, len(data), w.Bytes()))
		}
		var buf backend.Buffer
		if zeroCopy {
			buf, err = hw.WrapHost(data)
			if err == nil {
				r.bufs = append(r.bufs, buf)
			}
		} else if buf, err = alloc(int64(len(data))); err == nil {
			err = buf.Write(0, data)
		}
		if err != nil {
			return fail(fmt.Errorf("upload tensor %q: %w", w.Name, err))
		}
		if err := prog.Bind(w, buf, 0); err != nil {
			return fail(err)
		}
	}
	for _, c := range built.Caches {
		buf, err := alloc(c.Bytes())
		if err == nil {
			err = buf.Write(0, make([]byte, c.Bytes()))
		}
		if err != nil {
			return fail(fmt.Errorf("cache %q: %w", c.Name, err))
		}
		if err := prog.Bind(c, buf, 0); err != nil {
			return fail(err)
		}
	}
	ids := make([]byte, 4*len(tokens))
	pos := make([]byte, 4*len(tokens))
	for i, t := range tokens {
		binary.LittleEndian.PutUint32(ids[4*i:], uint32(t))
		binary.LittleEndian.PutUint32(pos[4*i:], uint32(i))
	}
	for _, in := range []struct {
		n    *graph.Node
		data []byte
	}{{built.Tokens, ids}, {built.Pos, pos}} {
		buf, err := alloc(int64(len(in.data)))
		if err == nil {
			err = buf.Write(0, in.data)
		}
		if err != nil {
			return fail(fmt.Errorf("input %q: %w", in.n.Name, err))
		}
		if err := prog.Bind(in.n, buf, 0); err != nil {
			return fail(err)
		}
	}
	for k, o := range g.Outputs {
		buf, err := alloc(o.Bytes())
		if err != nil {
			return fail(fmt.Errorf("output %s: %w", o, err))
		}
		if err := prog.Bind(o, buf, 0); err != nil {
			return fail(err)
		}
		r.outs = append(r.outs, buf)
		r.slot[o] = k
	}
	if err := prog.Run(ctx); err != nil {
		return fail(fmt.Errorf("run: %w", err))
	}
	return r, nil
}

// Float is a float64 that survives JSON: NaN is written as null and
// ±Inf as the strings "+Inf" and "-Inf"; reading accepts numbers, those
// strings and null (as NaN).
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte("null"), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch s {
	case "null", `"NaN"`:
		*f = Float(math.NaN())
		return nil
	case `"+Inf"`, `"Inf"`:
		*f = Float(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = Float(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("parity: %s is not a number", s)
	}
	*f = Float(v)
	return nil
}

// String formats the value like %g, with NaN and ±Inf spelled out.
func (f Float) String() string { return strconv.FormatFloat(float64(f), 'g', 3, 64) }
