package runtime

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/llama"
)

// step is one compiled model graph of a shape class (a prefill chunk
// length, the decode step, the batched decode step of B sequences) with
// its weights bound and its own buffers for the token and position inputs
// and the logits output. Its owner binds the KV caches.
type step struct {
	built *llama.Built
	prog  backend.Program
	// async is prog as a backend.AsyncRunner, when it is one (start).
	async                  backend.AsyncRunner
	tokBuf, posBuf, outBuf backend.Buffer
	// seqCaches[r] are the cache states of sequence row r (K, V of layer
	// 0, then layer 1, ...); bound[r] is the cache they are bound to.
	seqCaches [][]*graph.Node
	bound     []*Cache
}

// newStep builds the graph of o, compiles it on the model's backend and
// binds its weights and input/output buffers.
func (m *Model) newStep(o llama.BuildOptions) (*step, error) {
	built, err := llama.Build(m.Config, m.Src.Weights(), o)
	if err != nil {
		return nil, err
	}
	prog, err := m.Backend.Compile(built.Graph)
	if err != nil {
		return nil, fmt.Errorf("compile %d-token graph on %s: %w", o.Tokens, m.Backend.Name(), err)
	}
	p := &step{built: built, prog: prog}
	p.async, _ = prog.(backend.AsyncRunner)
	fail := func(err error) (*step, error) {
		p.close()
		return nil, err
	}
	for _, w := range built.Graph.Leaves(graph.OpWeight) {
		buf, ok := m.weights[w.Name]
		if !ok {
			return fail(fmt.Errorf("weight %q not loaded", w.Name))
		}
		if err := prog.Bind(w, buf, 0); err != nil {
			return fail(err)
		}
	}
	n := int64(o.Tokens)
	if p.tokBuf, err = m.Backend.Alloc(4 * n); err != nil {
		return fail(err)
	}
	if p.posBuf, err = m.Backend.Alloc(4 * n); err != nil {
		return fail(err)
	}
	if p.outBuf, err = m.Backend.Alloc(built.Logits.Bytes()); err != nil {
		return fail(err)
	}
	for _, b := range []struct {
		n   *graph.Node
		buf backend.Buffer
	}{{built.Tokens, p.tokBuf}, {built.Pos, p.posBuf}, {built.Logits, p.outBuf}} {
		if err := prog.Bind(b.n, b.buf, 0); err != nil {
			return fail(err)
		}
	}
	for r := range built.Seqs {
		p.seqCaches = append(p.seqCaches, built.SeqCaches(r))
	}
	p.bound = make([]*Cache, built.Seqs)
	return p, nil
}

// bindRow binds sequence row r's cache states to c's buffers, unless they
// already are. A failed bind leaves the row unbound.
func (p *step) bindRow(r int, c *Cache) error {
	if p.bound[r] == c {
		return nil
	}
	p.bound[r] = nil
	for i, n := range p.seqCaches[r] {
		if err := p.prog.Bind(n, c.bufs[i], 0); err != nil {
			return err
		}
	}
	p.bound[r] = c
	return nil
}

// unbind forgets that any row is bound to c (whose buffers are about to
// be freed), so that a later bindRow binds the row again.
func (p *step) unbind(c *Cache) {
	for r, b := range p.bound {
		if b == c {
			p.bound[r] = nil
		}
	}
}

// start runs the program. A program that can (backend.AsyncRunner) is
// only enqueued, so that the logits read after it is the one host wait of
// the step; the errors of such a run (a bad token id or position found on
// the device) then come from that read.
func (p *step) start(ctx context.Context) error {
	if p.async != nil {
		return p.async.Start(ctx)
	}
	return p.prog.Run(ctx)
}

// writeInputs writes the token ids and positions of a run through scratch
// (grown as needed) and returns scratch.
func (p *step) writeInputs(tokens []int32, pos func(i int) int, scratch []byte) ([]byte, error) {
	n := 4 * len(tokens)
	if cap(scratch) < n {
		scratch = make([]byte, n)
	}
	buf := scratch[:n]
	for i, t := range tokens {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(t))
	}
	if err := p.tokBuf.Write(0, buf); err != nil {
		return scratch, fmt.Errorf("write tokens: %w", err)
	}
	for i := range tokens {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(pos(i)))
	}
	if err := p.posBuf.Write(0, buf); err != nil {
		return scratch, fmt.Errorf("write positions: %w", err)
	}
	return scratch, nil
}

// appendLogits appends the logits output to dst and returns it, with
// scratch (grown as needed: it holds the bytes on big-endian hosts). The
// backends' buffers hold little-endian float32, so on little-endian hosts
// the bytes are read straight into dst's new elements: decoding them one
// by one cost 0.3 ms of an 8-sequence decode step's 9 ms (256K logits).
func (p *step) appendLogits(dst []float32, scratch []byte) ([]float32, []byte, error) {
	dst, scratch, err := appendF32(dst, p.outBuf, p.built.Logits.Bytes(), scratch, hostLittleEndian())
	if err != nil {
		return dst, scratch, fmt.Errorf("read logits: %w", err)
	}
	return dst, scratch, nil
}

// appendF32 appends the size/4 little-endian float32 values at the start of
// buf to dst, reading them straight into dst when little is true (the
// host's order), else through scratch.
func appendF32(dst []float32, buf backend.Buffer, size int64, scratch []byte, little bool) ([]float32, []byte, error) {
	count := int(size / 4)
	n := len(dst)
	if count == 0 {
		return dst, scratch, nil
	}
	dst = slices.Grow(dst, count)[:n+count]
	if little {
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&dst[n])), 4*count)
		if err := buf.Read(0, raw); err != nil {
			return dst[:n], scratch, err
		}
		return dst, scratch, nil
	}
	if cap(scratch) < 4*count {
		scratch = make([]byte, 4*count)
	}
	raw := scratch[:4*count]
	if err := buf.Read(0, raw); err != nil {
		return dst[:n], scratch, err
	}
	for i := range count {
		dst[n+i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return dst, scratch, nil
}

// hostLittleEndian reports whether this machine stores the low byte of a
// word first.
func hostLittleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

func (p *step) close() {
	if p.prog != nil {
		p.prog.Close()
	}
	for _, b := range []backend.Buffer{p.tokBuf, p.posBuf, p.outBuf} {
		if b != nil {
			b.Free()
		}
	}
}
