//go:build cgo

package vulkan

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/runtime"
)

// benchProgram compiles g and binds every leaf and output to fresh buffers.
func benchProgram(b *testing.B, be backend.Backend, g *graph.Graph) backend.Program {
	b.Helper()
	prog, err := be.Compile(g)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = prog.Close() })
	bind := func(n *graph.Node) {
		buf, err := be.Alloc(n.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = buf.Free() })
		if err := prog.Bind(n, buf, 0); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range g.Nodes {
		if n.Op.IsLeaf() {
			bind(n)
		}
	}
	for _, o := range g.Outputs {
		bind(o)
	}
	return prog
}

// BenchmarkRunSmall measures the fixed cost of one program run (one cgo
// call: submit and wait) on a tiny graph.
func BenchmarkRunSmall(b *testing.B) {
	be := vkDevice(b)
	gb := graph.NewBuilder()
	x := gb.Input("x", graph.F32, 1, 64)
	g, err := gb.Build(gb.SiLU(gb.Add(x, x)))
	if err != nil {
		b.Fatal(err)
	}
	prog := benchProgram(b, be, g)
	ctx := context.Background()
	for b.Loop() {
		if err := prog.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRMSNorm measures rms_norm over [512, 4096] F32 (bytes read and
// written per run are reported as throughput).
func BenchmarkRMSNorm(b *testing.B) {
	be := vkDevice(b)
	gb := graph.NewBuilder()
	x := gb.Input("x", graph.F32, 512, 4096)
	g, err := gb.Build(gb.RMSNorm(x, 1e-5))
	if err != nil {
		b.Fatal(err)
	}
	prog := benchProgram(b, be, g)
	ctx := context.Background()
	b.SetBytes(2 * x.Bytes())
	for b.Loop() {
		if err := prog.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadStaging measures loading (uploading) the model named by
// GOLEM_BENCH_MODEL through the staging path of discrete GPUs (buffers
// forced unmapped), with the staging ring one slot deep (every chunk waits
// for the previous copy) and four deep (the memcpy of a chunk overlaps the
// copy of the one before). Bytes per second are the model's weight bytes.
func BenchmarkLoadStaging(b *testing.B) {
	path := os.Getenv("GOLEM_BENCH_MODEL")
	if path == "" {
		b.Skip("GOLEM_BENCH_MODEL names no model")
	}
	src, err := runtime.OpenSource(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	for _, depth := range []int{1, 4} {
		b.Run(fmt.Sprintf("ring=%d", depth), func(b *testing.B) {
			be := vkDevice(b)
			be.mu.Lock()
			if err := be.dev.forceStaging(); err != nil {
				be.mu.Unlock()
				b.Fatal(err)
			}
			be.dev.setRing(depth)
			be.mu.Unlock()
			for b.Loop() {
				m, err := runtime.Load(context.Background(), src, be, runtime.LoadOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(m.WeightBytes())
				if err := m.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
