package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/parity"
)

// faultyDriver is the driver "faulty-test": the fast CPU backend whose
// matmul outputs come back 10% too large. It probes as unavailable, so
// only tests that name it use it.
type faultyDriver struct{}

func (faultyDriver) Name() string { return "faulty-test" }

func (faultyDriver) Probe() []backend.Status {
	return []backend.Status{{Device: "faulty-test", Reason: "faulty-test: a deliberately wrong backend for tests; open it by name"}}
}

func (faultyDriver) Open(_ string, opts backend.Options) (backend.Backend, error) {
	be, err := backend.Open("cpu", opts)
	if err != nil {
		return nil, err
	}
	return &faultyMatMulBackend{Backend: be}, nil
}

var registerFaulty = sync.OnceFunc(func() { backend.Register(faultyDriver{}) })

type faultyMatMulBackend struct{ backend.Backend }

func (*faultyMatMulBackend) Name() string { return "faulty-test" }

func (f *faultyMatMulBackend) Compile(g *graph.Graph) (backend.Program, error) {
	p, err := f.Backend.Compile(g)
	if err != nil {
		return nil, err
	}
	return &faultyMatMulProgram{Program: p, g: g}, nil
}

type faultyBinding struct {
	n   *graph.Node
	buf backend.Buffer
	off int64
}

type faultyMatMulProgram struct {
	backend.Program
	g    *graph.Graph
	outs []faultyBinding
}

func (p *faultyMatMulProgram) Bind(n *graph.Node, buf backend.Buffer, off int64) error {
	if p.g.IsOutput(n) && n.Op == graph.OpMatMul && n.DType == graph.F32 {
		p.outs = append(p.outs, faultyBinding{n, buf, off})
	}
	return p.Program.Bind(n, buf, off)
}

func (p *faultyMatMulProgram) Run(ctx context.Context) error {
	if err := p.Program.Run(ctx); err != nil {
		return err
	}
	for _, o := range p.outs {
		raw := make([]byte, o.n.Bytes())
		if err := o.buf.Read(o.off, raw); err != nil {
			return err
		}
		for i := 0; i+4 <= len(raw); i += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))
			binary.LittleEndian.PutUint32(raw[i:], math.Float32bits(1.1*v))
		}
		if err := o.buf.Write(o.off, raw); err != nil {
			return err
		}
	}
	return nil
}

// parityRoot returns the command tree with `parity` in it.
func parityRoot() *cobra.Command {
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.Name() == "parity" {
			return root
		}
	}
	root.AddCommand(newParityCmd())
	return root
}

// runParity runs golem parity ARGS in-process.
func runParity(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := parityRoot()
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"parity"}, args...))
	err = root.ExecuteContext(t.Context())
	return out.String(), errb.String(), err
}

func TestParityOpsMatmulShortPassesOnCPU(t *testing.T) {
	out, _, err := runParity(t, "ops", "--device", "cpu", "--op", "matmul", "--short", "--seed", "5")
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Equal(t, "parity ops: seed 5, reference cpu:ref", lines[0])
	require.Equal(t, "== cpu ==", lines[1])
	n := 0
	for _, l := range lines[2 : len(lines)-1] {
		require.Regexp(t, `^matmul\(\S+\) +NMSE \d\.\de[-+]\d\d +OK$`, l)
		n++
	}
	require.Positive(t, n)
	require.Regexp(t, `^cpu: \d+ passed, 0 failed, 0 skipped$`, lines[len(lines)-1])
}

func TestParityOpsFaultyBackendFails(t *testing.T) {
	registerFaulty()
	out, _, err := runParity(t, "ops", "--device", "faulty-test", "--op", "matmul", "--short")
	require.Error(t, err)
	require.Contains(t, err.Error(), "cases failed")
	require.Contains(t, out, "== faulty-test ==")
	require.Regexp(t, `(?m)^matmul\(type_w=q4_0,\S+\) +NMSE 1\.0e-02 +FAIL +output "\S+": NMSE 0\.01 > 0\.0005`, out)
	require.Regexp(t, `(?m)^faulty-test: 0 passed, \d+ failed, 0 skipped$`, out)

	// The faulty device is not picked by default: it probes unavailable.
	require.NotContains(t, defaultParityDevices(), "faulty-test")
	require.Contains(t, defaultParityDevices(), "cpu")
	require.NotContains(t, defaultParityDevices(), parity.ReferenceDevice)
}

func TestParityOpsFormats(t *testing.T) {
	registerFaulty()
	args := []string{"ops", "--device", "cpu,faulty-test", "--op", "matmul", "--dtype", "q8_0", "--short"}
	out, _, err := runParity(t, append(args, "--format", "json")...)
	require.Error(t, err)
	var rep parity.OpReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, parity.ReferenceDevice, rep.Reference)
	require.Equal(t, parity.DefaultSeed, rep.Seed)
	require.Len(t, rep.Summary, 2)
	require.Equal(t, "cpu", rep.Summary[0].Device)
	require.Zero(t, rep.Summary[0].Failed)
	require.Equal(t, "faulty-test", rep.Summary[1].Device)
	require.Equal(t, rep.Summary[1].Failed, len(rep.Rows)/2)
	for _, r := range rep.Rows {
		require.Equal(t, "matmul", r.Op)
		require.Equal(t, "q8_0", r.DTypes)
	}

	out, _, err = runParity(t, append(args, "--format", "csv")...)
	require.Error(t, err)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, parity.OpColumns, recs[0])
	require.Len(t, recs, 1+len(rep.Rows))
	require.Equal(t, "cpu", recs[1][0])
	require.Equal(t, "ok", recs[1][8])
	require.Equal(t, "fail", recs[len(recs)-1][8])
}

func TestParityOpsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ops", "--format", "xml"}, "--format"},
		{[]string{"ops", "--op", "("}, "op filter"},
		{[]string{"ops", "--op", "nosuchop"}, "no case matches"},
		{[]string{"ops", "--dtype", "q3_z"}, "dtype"},
		{[]string{"ops", "--device", "nosuchdriver", "--op", "add"}, "nosuchdriver"},
	} {
		_, _, err := runParity(t, tc.args...)
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
}

func TestParityModelStories(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	out, _, err := runParity(t, "model", "-m", model, "--device", "cpu", "--device", "cpu:ref", "--layers", "--positions", "4")
	require.NoError(t, err, out)
	t.Logf("golem parity model --layers:\n%s", out)
	require.Contains(t, out, "a = cpu, b = cpu:ref (reference side)")
	require.Regexp(t, `mean KL \S+ \(gate ≤ 0\.0001\), max KL \S+, max \|Δlogit\| \S+, top-1 agreement 100\.00% \(gate ≥ 99\.50%\)`, out)
	require.Contains(t, out, `blk.2.ffn_out`)
	require.Contains(t, out, "no divergence: every activation is within its threshold")
	require.Contains(t, out, "identical")
	require.True(t, strings.HasSuffix(out, "\nPASS\n"))

	out, _, err = runParity(t, "model", "-m", model, "--device", "cpu", "--device", "cpu:ref", "--tokens", "12", "-n", "4", "--format", "json")
	require.NoError(t, err)
	var r parity.ModelReport
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.True(t, r.Pass)
	require.Len(t, r.Tokens, 12)
	require.Len(t, r.Positions, 12)
	require.Len(t, r.GenA.Tokens, 4)
	require.Empty(t, r.Nodes)

	out, _, err = runParity(t, "model", "-m", model, "--device", "cpu", "--device", "cpu:ref", "--kv-type", "bf16", "--layers", "-n", "8")
	require.NoError(t, err, out)
	require.Contains(t, out, "no divergence: every activation is within its threshold")
	require.True(t, strings.HasSuffix(out, "\nPASS\n"))
}

func TestParityModelGateFailureExitsNonZero(t *testing.T) {
	registerFaulty()
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	// Every matmul output of the faulty device is 10% off: with --layers
	// the first one, blk.0's query projection, is named.
	out, _, err := runParity(t, "model", "-m", model, "--device", "faulty-test", "--device", "cpu:ref", "--layers", "-n", "0")
	require.Error(t, err)
	require.Contains(t, err.Error(), `first divergence: blk.0 matmul "blk.0.attn_q" NMSE 1.0e-02 > 2e-03`)
	require.Contains(t, out, "FAIL (first)")
}

func TestParityModelBadFlags(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"model", "-m", model, "--device", "cpu"}, "exactly two devices"},
		{[]string{"model", "-m", model, "--device", "cpu", "--device", "cpu:ref", "-p", "x", "--tokens", "3"}, "none of the others"},
		{[]string{"model", "-m", model, "--device", "cpu", "--device", "cpu:ref", "--tokens", "0"}, "--tokens"},
		{[]string{"model", "-m", model, "--device", "cpu", "--device", "cpu:ref", "--format", "csv"}, "--format"},
		{[]string{"model", "-m", model, "--device", "cpu", "--device", "cpu:ref", "--min-top1", "0"}, "--min-top1"},
		{[]string{"model", "-m", model, "--device", "cpu", "--device", "cpu:ref", "--node-thresholds", "x"}, "--node-thresholds"},
		{[]string{"model", "-m", "/nonexistent.gguf", "--device", "cpu", "--device", "cpu:ref"}, "nonexistent"},
		{[]string{"model", "--device", "cpu", "--device", "cpu:ref"}, "model"},
	} {
		_, _, err := runParity(t, tc.args...)
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
}
