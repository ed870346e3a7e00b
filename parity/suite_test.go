package parity_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/parity/paritytest"
)

// The cases the fault-injection tests run.
const (
	matmulCase    = "matmul(type_w=q4_0,m=7,n=17,k=32)"
	attentionCase = "attention(type_kv=f16,b=1,sq=1,sk=37,hq=8,hkv=2,d=64,dv=64,causal=true,mask=false,pos=default,scale=0,stale_nan=false)"
)

// TestOps is the conformance run: the fast CPU tier against the float64 reference.
func TestOps(t *testing.T) {
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, be.Close()) })
	paritytest.RunOpSuite(t, be)
}

func TestCatalogueCoversEveryOp(t *testing.T) {
	cases := parity.Cases()
	names := map[string]bool{}
	ops := map[graph.Op]bool{}
	dtypesOf := map[graph.Op]map[graph.DType]bool{}
	for _, c := range cases {
		require.False(t, names[c.Name], "duplicate case name %s", c.Name)
		names[c.Name] = true
		require.Regexp(t, regexp.MustCompile(`^`+regexp.QuoteMeta(c.Op.String())+`\(.*\)$`), c.Name)
		require.NotContains(t, c.Name, " ")
		require.NotContains(t, c.Name, "/")
		require.Equal(t, parity.Threshold(c), c.Threshold, c.Name)
		ops[c.Op] = true
		if dtypesOf[c.Op] == nil {
			dtypesOf[c.Op] = map[graph.DType]bool{}
		}
		for _, d := range c.DTypes {
			dtypesOf[c.Op][d] = true
		}
	}
	for _, op := range graph.ComputeOps() {
		require.True(t, ops[op], "no case for op %s", op)
	}
	weightTypes := []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K}
	for _, op := range []graph.Op{graph.OpMatMul, graph.OpGetRows} {
		for _, d := range weightTypes {
			require.True(t, dtypesOf[op][d], "no %s case for dtype %s", op, d)
		}
	}
	for _, d := range graph.AllDTypes() {
		require.True(t, dtypesOf[graph.OpCopy][d], "no copy case for dtype %s", d)
		require.True(t, dtypesOf[graph.OpContiguous][d], "no contiguous case for dtype %s", d)
	}
	for _, d := range graph.KVTypes() {
		require.True(t, dtypesOf[graph.OpAttention][d], "no attention case for kv dtype %s", d)
		require.True(t, dtypesOf[graph.OpKVWrite][d], "no kv_write case for dtype %s", d)
		require.True(t, dtypesOf[graph.OpRoPEKVWrite][d], "no rope_kv_write case for dtype %s", d)
	}

	short := parity.ShortCases()
	require.Less(t, len(short), len(cases))
	for _, c := range short {
		require.True(t, names[c.Name], "short case %s is not in Cases", c.Name)
	}
	shortOps := map[graph.Op]bool{}
	for _, c := range short {
		shortOps[c.Op] = true
	}
	for _, op := range graph.ComputeOps() {
		require.True(t, shortOps[op], "no short case for op %s", op)
	}
}

// TestCasesBuild checks that every case builds a valid graph and supplies
// data of the right size for each leaf, deterministically from the seed.
func TestCasesBuild(t *testing.T) {
	for _, c := range parity.Cases() {
		fx := buildCase(t, c, 1)
		again := buildCase(t, c, 1)
		require.Equal(t, fx.Data, again.Data, "%s: data is not a function of the seed", c.Name)
	}
}

func buildCase(t *testing.T, c parity.Case, seed int64) parity.Fixture {
	t.Helper()
	b := graph.NewBuilder()
	fx, err := c.Build(b, parity.NewRand(seed, c.Name))
	require.NoError(t, err, c.Name)
	g, err := b.Build(fx.Outputs...)
	require.NoError(t, err, c.Name)
	hasOp := false
	for _, n := range g.Nodes {
		hasOp = hasOp || n.Op == c.Op
		if n.Op.IsLeaf() {
			require.Contains(t, fx.Data, n.Name, "%s: leaf %s has no data", c.Name, n)
			require.Len(t, fx.Data[n.Name], int(n.Bytes()), "%s: leaf %s", c.Name, n)
		}
	}
	require.True(t, hasOp, "%s: the graph has no %s node", c.Name, c.Op)
	return fx
}

func TestFilter(t *testing.T) {
	all := parity.Cases()
	mm, err := parity.Filter(all, "matmul", "q4_k")
	require.NoError(t, err)
	require.NotEmpty(t, mm)
	for _, c := range mm {
		require.Equal(t, graph.OpMatMul, c.Op)
		require.True(t, c.HasDType(graph.Q4_K))
	}
	// The op regex matches whole op names: "mul" is not "matmul".
	mul, err := parity.Filter(all, "mul", "")
	require.NoError(t, err)
	for _, c := range mul {
		require.Equal(t, graph.OpMul, c.Op)
	}
	both, err := parity.Filter(all, "add|mul", "")
	require.NoError(t, err)
	require.Greater(t, len(both), len(mul))
	everything, err := parity.Filter(all, "", "")
	require.NoError(t, err)
	require.Len(t, everything, len(all))
	_, err = parity.Filter(all, "(", "")
	require.Error(t, err)
	_, err = parity.Filter(all, "", "q5_0")
	require.Error(t, err)

	c, ok := parity.Find(all, matmulCase)
	require.True(t, ok)
	require.Equal(t, matmulCase, c.Name)
	_, ok = parity.Find(all, "matmul(nope)")
	require.False(t, ok)
}

func TestCaseSeed(t *testing.T) {
	require.Equal(t, parity.CaseSeed(7, "add(x=[7,33],y=[33])"), parity.CaseSeed(7, "add(x=[7,33],y=[33])"))
	require.NotEqual(t, parity.CaseSeed(7, "add(x=[7,33],y=[33])"), parity.CaseSeed(8, "add(x=[7,33],y=[33])"))
	require.NotEqual(t, parity.CaseSeed(7, "add(x=[7,33],y=[33])"), parity.CaseSeed(7, "mul(x=[7,33],y=[33])"))
}

func TestSeedFromEnv(t *testing.T) {
	t.Setenv(parity.SeedEnv, "")
	s, err := parity.SeedFromEnv()
	require.NoError(t, err)
	require.Equal(t, parity.DefaultSeed, s)
	t.Setenv(parity.SeedEnv, "12345")
	s, err = parity.SeedFromEnv()
	require.NoError(t, err)
	require.Equal(t, int64(12345), s)
	t.Setenv(parity.SeedEnv, "banana")
	_, err = parity.SeedFromEnv()
	require.ErrorContains(t, err, parity.SeedEnv)
}

// ---- fault injection: a wrong kernel must be caught ----

type faultMode int

const (
	faultNone      faultMode = iota
	faultScale               // outputs multiplied by 1.05
	faultNaN                 // one output element set to NaN
	faultGuard               // 4 bytes written just past the output range
	faultUnwritten           // the last 3 output elements left as they were before the run
	faultRunError            // Run fails
)

func (m faultMode) String() string {
	return [...]string{"none", "scale", "nan", "guard", "unwritten", "run_error"}[m]
}

// faultyBackend wraps a real backend; its programs corrupt the F32 outputs
// after the real Run according to mode.
type faultyBackend struct {
	backend.Backend
	mode faultMode
}

func (f *faultyBackend) Compile(g *graph.Graph) (backend.Program, error) {
	p, err := f.Backend.Compile(g)
	if err != nil {
		return nil, err
	}
	return &faultyProgram{Program: p, g: g, mode: f.mode}, nil
}

type binding struct {
	n   *graph.Node
	buf backend.Buffer
	off int64
}

type faultyProgram struct {
	backend.Program
	g    *graph.Graph
	mode faultMode
	outs []binding
}

func (p *faultyProgram) Bind(n *graph.Node, buf backend.Buffer, off int64) error {
	if p.g.IsOutput(n) {
		p.outs = append(p.outs, binding{n, buf, off})
	}
	return p.Program.Bind(n, buf, off)
}

func (p *faultyProgram) Run(ctx context.Context) error {
	if p.mode == faultRunError {
		return errors.New("injected failure")
	}
	// Remember the last 3 elements as they are before the run (the poison).
	before := make([][]byte, len(p.outs))
	for i, o := range p.outs {
		before[i] = make([]byte, 12)
		if err := o.buf.Read(o.off+o.n.Bytes()-12, before[i]); err != nil {
			return err
		}
	}
	if err := p.Program.Run(ctx); err != nil {
		return err
	}
	for i, o := range p.outs {
		if o.n.DType != graph.F32 {
			return errors.New("faulty backend handles only f32 outputs")
		}
		size := o.n.Bytes()
		switch p.mode {
		case faultScale:
			data := make([]byte, size)
			if err := o.buf.Read(o.off, data); err != nil {
				return err
			}
			for j := 0; j < len(data); j += 4 {
				v := math.Float32frombits(binary.LittleEndian.Uint32(data[j:]))
				binary.LittleEndian.PutUint32(data[j:], math.Float32bits(v*1.05))
			}
			if err := o.buf.Write(o.off, data); err != nil {
				return err
			}
		case faultNaN:
			nan := binary.LittleEndian.AppendUint32(nil, 0x7fc00000)
			if err := o.buf.Write(o.off+size/8*4, nan); err != nil {
				return err
			}
		case faultGuard:
			if err := o.buf.Write(o.off+size, []byte{0xde, 0xad, 0xbe, 0xef}); err != nil {
				return err
			}
		case faultUnwritten:
			if err := o.buf.Write(o.off+size-12, before[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestFaultsAreCaught(t *testing.T) {
	cpu, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cpu.Close()) })
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })

	for _, name := range []string{matmulCase, attentionCase} {
		c, ok := parity.Find(parity.Cases(), name)
		require.True(t, ok, "case %s is missing", name)
		for _, mode := range []faultMode{faultNone, faultScale, faultNaN, faultGuard, faultUnwritten, faultRunError} {
			t.Run(c.Op.String()+"/"+mode.String(), func(t *testing.T) {
				target := &faultyBackend{Backend: cpu, mode: mode}
				r := parity.RunCase(t.Context(), target, ref, c, parity.DefaultSeed)
				msg := r.Message()
				t.Log(msg)
				require.Contains(t, msg, c.Name)
				require.Contains(t, msg, "seed")
				if mode == faultNone {
					require.NoError(t, r.Err)
					require.True(t, r.Pass, msg)
					return
				}
				require.False(t, r.Pass, msg)
				if mode == faultRunError {
					require.ErrorContains(t, r.Err, "injected failure")
					require.Contains(t, msg, "injected failure")
					return
				}
				require.NoError(t, r.Err, msg)
				ck := r.Check
				switch mode {
				case faultScale:
					require.Greater(t, ck.NMSE, c.Threshold, msg)
					require.Zero(t, ck.NaN+ck.Inf+ck.Guard+ck.Unwritten+ck.SignFlips, msg)
					require.Contains(t, msg, "NMSE")
				case faultNaN:
					require.Equal(t, 1, ck.NaN, msg)
					require.Zero(t, ck.Guard+ck.Unwritten, msg)
					require.Contains(t, msg, "1 NaN")
				case faultGuard:
					require.Equal(t, 4, ck.Guard, msg)
					require.Zero(t, ck.NaN+ck.Unwritten, msg)
					require.LessOrEqual(t, ck.NMSE, c.Threshold, msg)
					require.Contains(t, msg, "4 guard bytes")
				case faultUnwritten:
					require.Equal(t, 3, ck.Unwritten, msg)
					require.Zero(t, ck.NaN+ck.Guard, msg)
					require.Contains(t, msg, "unwritten")
				}
			})
		}
	}
}

// TestRunCaseReproducible checks that a case's result depends only on the seed.
func TestRunCaseReproducible(t *testing.T) {
	cpu, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cpu.Close()) })
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })
	c, ok := parity.Find(parity.Cases(), matmulCase)
	require.True(t, ok)
	a := parity.RunCase(t.Context(), cpu, ref, c, 99)
	b := parity.RunCase(t.Context(), cpu, ref, c, 99)
	require.True(t, a.Pass, a.Message())
	require.Equal(t, a.Check, b.Check)
	require.Equal(t, int64(99), a.Seed)
	require.True(t, slices.ContainsFunc(a.Outputs, func(o parity.OutputCheck) bool { return !o.State }))
}

// noAttention is a backend that claims not to support attention.
type noAttention struct{ backend.Backend }

func (n noAttention) Supports(node *graph.Node) bool {
	return node.Op != graph.OpAttention && n.Backend.Supports(node)
}

// TestBrokenReferenceAndSkips checks that a broken reference is reported as
// an error rather than blamed on the target, and that unsupported ops skip.
func TestBrokenReferenceAndSkips(t *testing.T) {
	cpu, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cpu.Close()) })
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })
	c, ok := parity.Find(parity.Cases(), attentionCase)
	require.True(t, ok)

	for _, tc := range []struct {
		mode faultMode
		want string
	}{
		{faultUnwritten, "reference cpu:ref: output \"out\": 3 elements unwritten"},
		{faultGuard, "reference cpu:ref: output \"out\": 4 guard bytes overwritten"},
		{faultRunError, "reference cpu:ref: run: injected failure"},
	} {
		r := parity.RunCase(t.Context(), cpu, &faultyBackend{Backend: ref, mode: tc.mode}, c, 3)
		require.False(t, r.Pass)
		require.ErrorContains(t, r.Err, tc.want)
	}
	r := parity.RunCase(t.Context(), cpu, &faultyBackend{Backend: ref, mode: faultNaN}, c, 3)
	require.False(t, r.Pass)
	require.NoError(t, r.Err)
	require.Equal(t, 1, r.Check.RefNonFinite)
	require.Contains(t, r.Message(), "reference produced 1 non-finite")

	r = parity.RunCase(t.Context(), noAttention{cpu}, ref, c, 3)
	require.True(t, r.Skipped)
	require.False(t, r.Pass)
	require.Contains(t, r.Message(), "skipped")
	require.Contains(t, r.Message(), "attention")
}
