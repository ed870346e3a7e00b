package parity

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// Seeds and the bytes the runner writes around and into outputs.
const (
	// DefaultSeed is the suite seed used when SeedEnv is not set
	// (paritytest.RunOpSuite, golem parity ops).
	DefaultSeed int64 = 20240917
	// SeedEnv names the environment variable that sets the suite seed
	// (see SeedFromEnv).
	SeedEnv = "GOLEM_PARITY_SEED"
	// ReferenceDevice is the device string of the float64 CPU reference.
	ReferenceDevice = "cpu:ref"
	// GuardBytes is the size of the guard regions placed before and after
	// every output range.
	GuardBytes = 256
	// PoisonF32 is the NaN bit pattern every F32 output element holds before
	// a run; an element still holding it afterwards was never written.
	PoisonF32 uint32 = 0x7fc00bad
	// PoisonF16 is the poison of F16 outputs (a quiet NaN with a payload).
	PoisonF16 uint16 = 0x7e5a
	// PoisonBF16 is the poison of BF16 outputs (a quiet NaN with a payload).
	PoisonBF16 uint16 = 0x7fcb
	// PoisonByte fills I32 outputs and quantized output blocks (a block of
	// 0xff bytes has a NaN scale).
	PoisonByte byte = 0xff
)

// Case is one conformance check: a tiny graph exercising one op with one
// combination of dtypes and shapes, and seeded data for each of its leaves.
type Case struct {
	// Name identifies the case stably, llama.cpp test-backend-ops style:
	// "matmul(type_w=q4_0,m=7,n=96,k=256)". It also seeds the case's data.
	Name string
	// Op is the op under test (the graph may contain others around it).
	Op graph.Op
	// DTypes are the dtypes the case exercises: the weight or table dtype
	// for matmul and get_rows, the KV dtype for attention, the cache dtype
	// for kv_write, [source, destination] for copy, the data dtype otherwise.
	DTypes []graph.DType
	// Threshold is the NMSE tolerance (see Threshold); 0 compares bytes exactly.
	Threshold float64
	// Build adds the case's nodes to an empty builder, drawing all data from
	// rng, and returns the outputs and the bytes of every leaf.
	Build func(b *graph.Builder, rng *rand.Rand) (Fixture, error)

	short bool // also part of ShortCases
}

// Fixture is what a case's Build produces.
type Fixture struct {
	// Outputs are the nodes whose values are compared, in order.
	Outputs []*graph.Node
	// Data holds the encoded bytes of every leaf, by leaf name.
	Data map[string][]byte
}

// String returns the case name.
func (c Case) String() string { return c.Name }

// HasDType reports whether the case exercises dtype d.
func (c Case) HasDType(d graph.DType) bool { return slices.Contains(c.DTypes, d) }

// ShortCases returns a quick subset of Cases: the first case of every
// distinct (op, dtypes) combination plus a few chosen shape classes.
func ShortCases() []Case {
	all := Cases()
	seen := map[string]bool{}
	var out []Case
	for _, c := range all {
		key := fmt.Sprint(c.Op, c.DTypes)
		if c.short || !seen[key] {
			out = append(out, c)
		}
		seen[key] = true
	}
	return out
}

// Filter keeps the cases whose op name fully matches opRegex ("" keeps all;
// "mat.*" or "add|mul") and that exercise dtype ("" keeps all; "q4_k").
func Filter(cases []Case, opRegex, dtype string) ([]Case, error) {
	var re *regexp.Regexp
	if opRegex != "" {
		var err error
		re, err = regexp.Compile("^(?:" + opRegex + ")$")
		if err != nil {
			return nil, fmt.Errorf("parity: op filter %q: %w", opRegex, err)
		}
	}
	var dt graph.DType
	if dtype != "" {
		var err error
		dt, err = graph.ParseDType(dtype)
		if err != nil {
			return nil, fmt.Errorf("parity: dtype filter: %w", err)
		}
	}
	var out []Case
	for _, c := range cases {
		if re != nil && !re.MatchString(c.Op.String()) {
			continue
		}
		if dtype != "" && !c.HasDType(dt) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Find returns the case with exactly the given name.
func Find(cases []Case, name string) (Case, bool) {
	for _, c := range cases {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// CaseSeed derives a case's own seed from the suite seed and the case name,
// so that one case can be rerun alone with the same data.
func CaseSeed(seed int64, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return splitmix64(uint64(seed) ^ h.Sum64())
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// NewRand returns the generator a case's Build draws from.
func NewRand(seed int64, name string) *rand.Rand {
	s := CaseSeed(seed, name)
	return rand.New(rand.NewPCG(s, splitmix64(s)))
}

// OutputCheck is the comparison of one compared tensor: an output of the
// graph, or a state leaf after the run.
type OutputCheck struct {
	Name  string // node name
	State bool   // a state leaf (compared after the run), not an output
	Check Check
}

// Result is the outcome of RunCase.
type Result struct {
	// Case is the case name.
	Case string
	// Op is the op under test.
	Op graph.Op
	// Seed is the suite seed the case's data was derived from.
	Seed int64
	// Threshold is the tolerance the checks were held to.
	Threshold float64
	// Check merges the checks of every output and state (worst NMSE, summed counts).
	Check Check
	// Outputs holds each compared tensor's own check.
	Outputs []OutputCheck
	// Pass reports whether the target matched the reference.
	Pass bool
	// Skipped is set when the target does not support a node of the case.
	Skipped bool
	// SkipReason names the unsupported node when Skipped.
	SkipReason string
	// Err is a build, setup or run error (of the target or the reference);
	// a result with Err never passes.
	Err error
}

// Message describes the result in one line that names the case and seed:
// what failed, why it was skipped, or the metrics when it passed.
func (r Result) Message() string {
	head := fmt.Sprintf("parity: %s (seed %d)", r.Case, r.Seed)
	switch {
	case r.Err != nil:
		return fmt.Sprintf("%s: %v", head, r.Err)
	case r.Skipped:
		return fmt.Sprintf("%s: skipped: %s", head, r.SkipReason)
	case r.Pass:
		return fmt.Sprintf("%s: ok: %v (threshold %.3g)", head, r.Check, r.Threshold)
	}
	var why []string
	for _, o := range r.Outputs {
		if err := o.Check.Err(r.Threshold); err != nil {
			kind := "output"
			if o.State {
				kind = "state"
			}
			why = append(why, fmt.Sprintf("%s %q: %v", kind, o.Name, err))
		}
	}
	if len(why) == 0 { // merged check failed without a per-output cause
		why = append(why, fmt.Sprint(r.Check.Err(r.Threshold)))
	}
	return fmt.Sprintf("%s: %s", head, strings.Join(why, "; "))
}

// RunCase builds case c with data derived from seed, runs it on target and
// on ref, and compares every output (and every state leaf after the run).
// Outputs are bound between guard regions and poisoned before each run;
// weight and input leaves must come back unchanged.
func RunCase(ctx context.Context, target, ref backend.Backend, c Case, seed int64) Result {
	thr := c.Threshold
	res := Result{Case: c.Name, Op: c.Op, Seed: seed, Threshold: thr}
	fail := func(err error) Result {
		res.Err = err
		res.Pass = false
		return res
	}
	if c.Build == nil {
		return fail(errors.New("case has no Build function"))
	}
	b := graph.NewBuilder()
	fx, err := c.Build(b, NewRand(seed, c.Name))
	if err != nil {
		return fail(fmt.Errorf("build: %w", err))
	}
	g, err := b.Build(fx.Outputs...)
	if err != nil {
		return fail(fmt.Errorf("build: %w", err))
	}
	if err := checkFixture(g, fx.Data); err != nil {
		return fail(err)
	}
	for _, n := range g.Nodes {
		if n.Op.IsLeaf() {
			continue
		}
		if !ref.Supports(n) {
			return fail(fmt.Errorf("reference %s does not support %s", ref.Name(), n))
		}
		if !target.Supports(n) {
			res.Skipped = true
			res.SkipReason = fmt.Sprintf("%s does not support %s", target.Name(), n)
			return res
		}
	}
	want, err := execute(ctx, ref, g, fx.Data)
	if err != nil {
		return fail(fmt.Errorf("reference %s: %w", ref.Name(), err))
	}
	if err := want.selfCheck(g, fx.Data); err != nil {
		return fail(fmt.Errorf("reference %s: %w", ref.Name(), err))
	}
	got, err := execute(ctx, target, g, fx.Data)
	if err != nil {
		return fail(fmt.Errorf("target %s: %w", target.Name(), err))
	}
	var merged Check
	for i, o := range g.Outputs {
		ck, err := compareRegion(o, got.outputs[i], want.outputs[i], thr)
		if err != nil {
			return fail(fmt.Errorf("output %q: %w", o.Name, err))
		}
		res.Outputs = append(res.Outputs, OutputCheck{Name: o.Name, Check: ck})
		merged = merged.Merge(ck)
	}
	for i, s := range g.Leaves(graph.OpState) {
		ck, err := compareTensor(s.DType, got.states[i], want.states[i], thr)
		if err != nil {
			return fail(fmt.Errorf("state %q: %w", s.Name, err))
		}
		res.Outputs = append(res.Outputs, OutputCheck{Name: s.Name, State: true, Check: ck})
		merged = merged.Merge(ck)
	}
	if len(got.clobbered) > 0 {
		return fail(fmt.Errorf("target %s modified read-only leaves %s", target.Name(), strings.Join(got.clobbered, ", ")))
	}
	res.Check = merged
	res.Pass = true
	for _, o := range res.Outputs {
		if !o.Check.Pass(thr) {
			res.Pass = false
		}
	}
	return res
}

// checkFixture verifies that every leaf of g has data of its exact size.
func checkFixture(g *graph.Graph, data map[string][]byte) error {
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() {
			continue
		}
		d, ok := data[n.Name]
		if !ok {
			return fmt.Errorf("fixture: no data for leaf %s", n)
		}
		if int64(len(d)) != n.Bytes() {
			return fmt.Errorf("fixture: leaf %s has %d bytes of data, needs %d", n, len(d), n.Bytes())
		}
	}
	return nil
}

// runOutput is what one backend produced.
type runOutput struct {
	outputs   [][]byte // each output's whole region: guard, data, guard
	states    [][]byte // each state leaf after the run
	clobbered []string // weight and input leaves whose bytes changed
}

// selfCheck rejects a reference run that wrote outside its outputs or left
// elements unwritten; the reference is then broken, not the target.
func (r runOutput) selfCheck(g *graph.Graph, data map[string][]byte) error {
	for i, o := range g.Outputs {
		if n := guardDamage(r.outputs[i]); n > 0 {
			return fmt.Errorf("output %q: %d guard bytes overwritten", o.Name, n)
		}
		n, err := unwritten(o.DType, r.outputs[i][GuardBytes:len(r.outputs[i])-GuardBytes])
		if err != nil {
			return fmt.Errorf("output %q: %w", o.Name, err)
		}
		if n > 0 {
			return fmt.Errorf("output %q: %d elements unwritten", o.Name, n)
		}
	}
	if len(r.clobbered) > 0 {
		return fmt.Errorf("modified read-only leaves %s", strings.Join(r.clobbered, ", "))
	}
	return nil
}

// execute compiles and runs g on be with the given leaf data and returns the
// output regions and the leaves after the run. Everything it allocates is
// released before it returns.
func execute(ctx context.Context, be backend.Backend, g *graph.Graph, data map[string][]byte) (out runOutput, err error) {
	prog, err := be.Compile(g)
	if err != nil {
		return out, fmt.Errorf("compile: %w", err)
	}
	var bufs []backend.Buffer
	defer func() {
		if cerr := prog.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close program: %w", cerr)
		}
		for _, b := range bufs {
			if ferr := b.Free(); ferr != nil && err == nil {
				err = fmt.Errorf("free buffer: %w", ferr)
			}
		}
	}()
	alloc := func(size int64) (backend.Buffer, error) {
		b, err := be.Alloc(size)
		if err != nil {
			return nil, err
		}
		bufs = append(bufs, b)
		return b, nil
	}
	type bound struct {
		n   *graph.Node
		buf backend.Buffer
	}
	var leaves []bound
	for _, op := range []graph.Op{graph.OpWeight, graph.OpInput, graph.OpState} {
		for _, n := range g.Leaves(op) {
			buf, err := alloc(n.Bytes())
			if err != nil {
				return out, fmt.Errorf("alloc leaf %s: %w", n, err)
			}
			if err := buf.Write(0, data[n.Name]); err != nil {
				return out, fmt.Errorf("write leaf %s: %w", n, err)
			}
			if err := prog.Bind(n, buf, 0); err != nil {
				return out, fmt.Errorf("bind leaf %s: %w", n, err)
			}
			leaves = append(leaves, bound{n, buf})
		}
	}
	outBufs := make([]backend.Buffer, len(g.Outputs))
	for i, o := range g.Outputs {
		region, err := poisonedRegion(o)
		if err != nil {
			return out, fmt.Errorf("output %s: %w", o, err)
		}
		buf, err := alloc(int64(len(region)))
		if err != nil {
			return out, fmt.Errorf("alloc output %s: %w", o, err)
		}
		if err := buf.Write(0, region); err != nil {
			return out, fmt.Errorf("write output %s: %w", o, err)
		}
		if err := prog.Bind(o, buf, GuardBytes); err != nil {
			return out, fmt.Errorf("bind output %s: %w", o, err)
		}
		outBufs[i] = buf
	}
	if err := prog.Run(ctx); err != nil {
		return out, fmt.Errorf("run: %w", err)
	}
	for i, buf := range outBufs {
		region := make([]byte, buf.Size())
		if err := buf.Read(0, region); err != nil {
			return out, fmt.Errorf("read output %s: %w", g.Outputs[i], err)
		}
		out.outputs = append(out.outputs, region)
	}
	for _, l := range leaves {
		after := make([]byte, l.n.Bytes())
		if err := l.buf.Read(0, after); err != nil {
			return out, fmt.Errorf("read leaf %s: %w", l.n, err)
		}
		if l.n.Op == graph.OpState {
			out.states = append(out.states, after)
		} else if !slices.Equal(after, data[l.n.Name]) {
			out.clobbered = append(out.clobbered, strconv.Quote(l.n.Name))
		}
	}
	return out, nil
}

// guardByte is the known pattern of guard byte i.
func guardByte(i int) byte { return byte(0x5a + 13*i) }

// poisonUnit returns the poison bytes of one element (one block for
// quantized dtypes).
func poisonUnit(dt graph.DType) []byte {
	switch dt {
	case graph.F32:
		return binary.LittleEndian.AppendUint32(nil, PoisonF32)
	case graph.F16:
		return binary.LittleEndian.AppendUint16(nil, PoisonF16)
	case graph.BF16:
		return binary.LittleEndian.AppendUint16(nil, PoisonBF16)
	}
	u := make([]byte, dt.BlockBytes())
	for i := range u {
		u[i] = PoisonByte
	}
	return u
}

// poisonedRegion returns the bytes an output's buffer starts with: guard,
// the poisoned output range, guard.
func poisonedRegion(o *graph.Node) ([]byte, error) {
	size := o.Bytes()
	if size <= 0 {
		return nil, fmt.Errorf("has no byte size")
	}
	region := make([]byte, 2*GuardBytes+int(size))
	for i := 0; i < GuardBytes; i++ {
		region[i] = guardByte(i)
		region[len(region)-GuardBytes+i] = guardByte(GuardBytes + i)
	}
	unit := poisonUnit(o.DType)
	data := region[GuardBytes : len(region)-GuardBytes]
	for off := 0; off < len(data); off += len(unit) {
		copy(data[off:], unit)
	}
	return region, nil
}

// guardDamage counts the guard bytes of region that no longer hold the pattern.
func guardDamage(region []byte) int {
	n := 0
	for i := 0; i < GuardBytes; i++ {
		if region[i] != guardByte(i) {
			n++
		}
		if region[len(region)-GuardBytes+i] != guardByte(GuardBytes+i) {
			n++
		}
	}
	return n
}

// unwritten counts the elements of data (of dtype dt) that still hold the poison.
func unwritten(dt graph.DType, data []byte) (int, error) {
	n := 0
	unit := poisonUnit(dt)
	if len(data)%len(unit) != 0 {
		return 0, fmt.Errorf("%d bytes are not whole %s elements", len(data), dt)
	}
	for off := 0; off < len(data); off += len(unit) {
		if slices.Equal(data[off:off+len(unit)], unit) {
			n += dt.BlockSize()
		}
	}
	return n, nil
}

// compareRegion compares an output region of the target (got, with guards)
// with the reference's, filling every field of Check.
func compareRegion(o *graph.Node, got, want []byte, thr float64) (Check, error) {
	if len(got) != len(want) || len(got) < 2*GuardBytes {
		return Check{}, fmt.Errorf("regions of %d and %d bytes", len(got), len(want))
	}
	gd := got[GuardBytes : len(got)-GuardBytes]
	wd := want[GuardBytes : len(want)-GuardBytes]
	// Put the reference's bytes where the target left the poison, so
	// unwritten elements are reported once, as Unwritten, and not also as NaN.
	unit := poisonUnit(o.DType)
	fixed := slices.Clone(gd)
	unw := 0
	for off := 0; off < len(fixed); off += len(unit) {
		if slices.Equal(fixed[off:off+len(unit)], unit) {
			copy(fixed[off:off+len(unit)], wd[off:off+len(unit)])
			unw += o.DType.BlockSize()
		}
	}
	ck, err := compareTensor(o.DType, fixed, wd, thr)
	if err != nil {
		return Check{}, err
	}
	ck.Unwritten = unw
	ck.Guard = guardDamage(got)
	return ck, nil
}

// compareTensor compares two encoded tensors of dtype dt. With thr == 0 it
// also counts the elements whose bytes differ.
func compareTensor(dt graph.DType, got, want []byte, thr float64) (Check, error) {
	if len(got) != len(want) {
		return Check{}, fmt.Errorf("%d bytes against %d", len(got), len(want))
	}
	g, err := decode(dt, got)
	if err != nil {
		return Check{}, err
	}
	w, err := decode(dt, want)
	if err != nil {
		return Check{}, err
	}
	ck := Compare(g, w)
	if thr == 0 {
		unit := dt.BlockBytes()
		for off := 0; off < len(got); off += unit {
			if !slices.Equal(got[off:off+unit], want[off:off+unit]) {
				ck.Mismatch += dt.BlockSize()
			}
		}
	}
	return ck, nil
}

// decode turns encoded elements of dt into float32 (I32 converted by value).
func decode(dt graph.DType, data []byte) ([]float32, error) {
	if dt == graph.I32 {
		if len(data)%4 != 0 {
			return nil, fmt.Errorf("%d bytes are not whole i32 elements", len(data))
		}
		out := make([]float32, len(data)/4)
		for i := range out {
			out[i] = float32(int32(binary.LittleEndian.Uint32(data[4*i:])))
		}
		return out, nil
	}
	bb, bs := dt.BlockBytes(), dt.BlockSize()
	if bb == 0 || len(data)%bb != 0 {
		return nil, fmt.Errorf("%d bytes are not whole %s blocks", len(data), dt)
	}
	out := make([]float32, len(data)/bb*bs)
	if err := quant.Dequantize(dt, data, out); err != nil {
		return nil, err
	}
	return out, nil
}

// SeedFromEnv returns the suite seed from the environment variable SeedEnv,
// or DefaultSeed when it is unset or empty.
func SeedFromEnv() (int64, error) {
	s := strings.TrimSpace(os.Getenv(SeedEnv))
	if s == "" {
		return DefaultSeed, nil
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("parity: %s=%q is not an integer: %w", SeedEnv, s, err)
	}
	return v, nil
}
