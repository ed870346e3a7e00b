//go:build cgo

package cuda

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu" // the parity reference
	"github.com/golem-llm/golem/graph"
	cudakernels "github.com/golem-llm/golem/kernels/cuda"
	"github.com/golem-llm/golem/parity/paritytest"
)

// TestMain points the driver at this checkout's emulator
// (bin/libgolem-cuda-emu.so) when GOLEM_CUDA_LIBRARY is unset and there is
// no libcuda.so.1, so that the backend's tests run without a GPU.
func TestMain(m *testing.M) {
	if os.Getenv(LibraryEnv) == "" {
		if lib, _ := openLibrary(libName); lib == nil {
			if emu := repoEmulator(); emu != "" {
				os.Setenv(LibraryEnv, emu)
			}
		}
	}
	os.Exit(m.Run())
}

// repoEmulator returns bin/libgolem-cuda-emu.so of the checkout holding the
// working directory, or "".
func repoEmulator() string {
	dir, err := os.Getwd()
	for err == nil {
		if _, e := os.Stat(filepath.Join(dir, "go.mod")); e == nil {
			p := filepath.Join(dir, "bin", "libgolem-cuda-emu.so")
			if _, e := os.Stat(p); e == nil {
				return p
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	return ""
}

// cudaDevice opens the first usable CUDA device (a GPU or the emulator),
// or skips the test (fails it under CI=true, where the emulator is built).
func cudaDevice(t testing.TB) *cudaBackend {
	t.Helper()
	be, err := backend.Open("cuda", backend.Options{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no CUDA device under CI (make cuda-emu builds the emulator): %v", err)
		}
		t.Skipf("no CUDA device (make cuda-emu builds the emulator): %v", err)
	}
	t.Cleanup(func() {
		// A test may close the backend itself; otherwise Close must find
		// nothing left open (backend.ErrInUse reports a leak).
		if err := be.Close(); !errors.Is(err, backend.ErrClosed) {
			require.NoError(t, err)
		}
	})
	return be.(*cudaBackend)
}

// TestOpSuite is the op conformance suite against the float64 CPU
// reference: every case of every op the backend supports (the suite skips
// the nodes Supports rejects).
func TestOpSuite(t *testing.T) {
	be := cudaDevice(t)
	t.Logf("device: %s %s (%s)", be.Name(), be.Device().Name, be.Device().Caps)
	paritytest.RunOpSuite(t, be)
}

func f32bytes(v ...float32) []byte {
	out := make([]byte, 0, 4*len(v))
	for _, x := range v {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
	}
	return out
}

func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestProgram runs a small graph (an intermediate in the arena, a
// broadcast, a scale) through Compile, Bind and Run: the first run
// captures the graph, later runs replay it and see new inputs, a new
// binding captures again, and a profiled run reports every node's time.
func TestProgram(t *testing.T) {
	be := cudaDevice(t)
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 3)
	y := b.Input("y", graph.F32, 3)
	s := b.Add(x, y)
	out := b.Scale(s, 2)
	g, err := b.Build(out)
	require.NoError(t, err)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	defer prog.Close()
	alloc := func(data []byte) backend.Buffer {
		buf, err := be.Alloc(int64(len(data)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = buf.Free() })
		require.NoError(t, buf.Write(0, data))
		return buf
	}
	bx := alloc(f32bytes(1, 2, 3, 4, 5, 6))
	by := alloc(f32bytes(10, 20, 30))
	bo := alloc(make([]byte, 4*6+8))
	require.NoError(t, prog.Bind(x, bx, 0))
	require.NoError(t, prog.Bind(y, by, 0))
	require.NoError(t, prog.Bind(out, bo, 8))
	read := func() []float32 {
		got := make([]byte, 24)
		require.NoError(t, bo.Read(8, got))
		return f32s(got)
	}
	require.NoError(t, prog.Run(context.Background()))
	require.Equal(t, []float32{22, 44, 66, 28, 50, 72}, read())
	// A replay sees new input values.
	require.NoError(t, by.Write(0, f32bytes(0, 0, 1)))
	require.NoError(t, prog.Run(context.Background()))
	require.Equal(t, []float32{2, 4, 8, 8, 10, 14}, read())
	// A new binding is captured again.
	by2 := alloc(f32bytes(-1, -1, -1))
	require.NoError(t, prog.Bind(y, by2, 0))
	require.NoError(t, prog.Run(context.Background()))
	require.Equal(t, []float32{0, 2, 4, 6, 8, 10}, read())
	// Timings only for profiled runs.
	require.Nil(t, prog.(backend.Profiler).Timings())
	prog.(*program).Profile(true)
	require.NoError(t, prog.Run(context.Background()))
	require.Equal(t, []float32{0, 2, 4, 6, 8, 10}, read())
	tm := prog.(backend.Profiler).Timings()
	require.Len(t, tm, 2)
	require.Equal(t, s, tm[0].Node)
	require.Equal(t, out, tm[1].Node)
	for _, x := range tm {
		require.GreaterOrEqual(t, x.Seconds, 0.0)
	}
}

// TestKernelsEmbedded checks that every kernel source has its embedded PTX
// and every embedded PTX its source, and that each PTX module names the
// kernels GOLEM_KERNEL registers in its source.
func TestKernelsEmbedded(t *testing.T) {
	srcs, err := filepath.Glob(filepath.Join("..", "..", "kernels", "cuda", "*.cu"))
	require.NoError(t, err)
	require.NotEmpty(t, srcs)
	ptxs, err := fs.Glob(cudakernels.FS, "*.ptx")
	require.NoError(t, err)
	want := map[string]string{}
	for _, s := range srcs {
		want[strings.TrimSuffix(filepath.Base(s), ".cu")+".ptx"] = s
	}
	registered := regexp.MustCompile(`GOLEM_KERNEL\(([a-z0-9_]+)\)`)
	for _, p := range ptxs {
		src, ok := want[p]
		require.True(t, ok, "%s has no .cu source", p)
		delete(want, p)
		code, err := os.ReadFile(src)
		require.NoError(t, err)
		ptx, err := fs.ReadFile(cudakernels.FS, p)
		require.NoError(t, err)
		var entries []string
		for _, m := range entryRE.FindAllStringSubmatch(string(ptx), -1) {
			entries = append(entries, m[1])
		}
		for _, m := range registered.FindAllStringSubmatch(string(code), -1) {
			if m[1] == "name" {
				continue // a macro's parameter
			}
			require.Contains(t, entries, m[1], "%s registers %s, which its PTX lacks (run make kernels)", src, m[1])
		}
	}
	require.Empty(t, want, "sources without embedded PTX (run make kernels)")
}
