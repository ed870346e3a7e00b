package cuda

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/graph"
)

// Attention. Variants: "auto" (the default) runs the kernel
// chooseAttention picks for each node; "simple" (attention.cu), "flash"
// and "splitkv" (flash.cu) force one (select.go describes each).

func init() {
	ops.Register(graph.OpAttention,
		variant{Name: "auto", Supports: supportsAttentionAuto, Launch: launchAttentionAuto},
		variant{Name: attnSimple, Supports: supportsAttention, Launch: launchAttention},
		variant{Name: attnFlash, Available: tensorCores, Supports: supportsFlash, Launch: launchFlash},
		variant{Name: attnSplitKV, Supports: supportsSplitKV, Launch: launchSplitKV},
	)
}

// Flag bits of the attention kernels' flags word.
const (
	attnCausal = 1 << iota
	attnMask
	attnPos
)

// attnMaxD is the largest head dimension (D and Dv) the simple kernel takes.
const attnMaxD = 512

// attentionFor is chooseAttention for node n on device d.
func attentionFor(d *deviceInfo, n *graph.Node) string {
	return chooseAttention(d.CCMajor*10+d.CCMinor, n.AttentionDims(), n.Inputs[1].DType, n.Inputs[2].DType)
}

func supportsAttentionAuto(d *deviceInfo, n *graph.Node) error {
	switch attentionFor(d, n) {
	case attnSplitKV:
		return supportsSplitKV(d, n)
	case attnFlash:
		return supportsFlash(d, n)
	}
	return supportsAttention(d, n)
}

func launchAttentionAuto(c *compiler, n *graph.Node) error {
	switch attentionFor(c.Dev, n) {
	case attnSplitKV:
		return launchSplitKV(c, n)
	case attnFlash:
		return launchFlash(c, n)
	}
	return launchAttention(c, n)
}

// Flash kernel geometry (flash.cu).
const (
	flashBQ  = 64
	flashBKV = 64
)

// flashShared is the flash kernel's dynamic shared memory for head dim d:
// the q tile and two K and two V tiles, rows padded by 8 halves.
func flashShared(d int) uint32 { return uint32((flashBQ + 4*flashBKV) * (d + 8) * 2) }

func supportsFlash(dev *deviceInfo, n *graph.Node) error {
	a := n.AttentionDims()
	kt, vt := n.Inputs[1].DType, n.Inputs[2].DType
	switch {
	case kt != vt:
		return fmt.Errorf("k %s and v %s: the flash kernel takes one dtype for both", kt, vt)
	case !flashDims(a.D, a.Dv):
		return fmt.Errorf("head dims %d and %d: the flash kernel takes d = dv in 64, 80, 96, 128", a.D, a.Dv)
	case int(flashShared(a.D)) > max(dev.SharedOptin, dev.SharedPerBlock):
		return fmt.Errorf("the flash kernel needs %d bytes of shared memory (device: %d)", flashShared(a.D), max(dev.SharedOptin, dev.SharedPerBlock))
	case groups(int64(a.Sq), flashBQ) > 1<<31-1 || a.Hq > 65535 || a.Batch > 65535:
		return fmt.Errorf("%d queries, %d heads, %d batches exceed the flash grid", a.Sq, a.Hq, a.Batch)
	}
	return nil
}

func launchFlash(c *compiler, n *graph.Node) error {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	a := n.AttentionDims()
	flags, mask, pos := attnFlags(n)
	l := c.Launch(n, fmt.Sprintf("flash_%s_d%d", k.DType, a.D))
	l.In(q)
	l.In(k)
	l.In(v)
	l.In(mask)
	l.In(pos)
	l.Out(n)
	l.Int(int64(a.Sq))
	l.Int(int64(a.Sk))
	l.Int(int64(a.Hq))
	l.Int(int64(a.Hkv))
	l.F32(attnScale(n))
	l.U32(flags)
	l.Local(128, 1, 1)
	l.Spec(specDynamicShared, flashShared(a.D))
	l.Grid(uint32(groups(int64(a.Sq), flashBQ)), uint32(a.Hq), uint32(a.Batch))
	return nil
}

func supportsAttention(_ *deviceInfo, n *graph.Node) error {
	a := n.AttentionDims()
	if a.D > attnMaxD || a.Dv > attnMaxD {
		return fmt.Errorf("head dims %d and %d: the kernel takes at most %d", a.D, a.Dv, attnMaxD)
	}
	if a.Sq > 1<<31-1 || a.Hq > 65535 || a.Batch > 65535 {
		return fmt.Errorf("%d queries, %d heads, %d batches exceed the kernel's grid", a.Sq, a.Hq, a.Batch)
	}
	return nil
}

// attnFlags returns the flags word and the mask and positions inputs (q
// stands in for an absent one: never read).
func attnFlags(n *graph.Node) (flags uint32, mask, pos *graph.Node) {
	a := n.AttentionDims()
	mask, pos = n.Inputs[0], n.Inputs[0]
	if a.Causal {
		flags |= attnCausal
	}
	if m := n.Mask(); m != nil {
		mask = m
		flags |= attnMask
	}
	if p := n.Positions(); p != nil {
		pos = p
		flags |= attnPos
	}
	return flags, mask, pos
}

// attnScale is the node's softmax scale (1/√D by default).
func attnScale(n *graph.Node) float32 {
	if s := n.Params.Scale; s != 0 {
		return s
	}
	return float32(1 / math.Sqrt(float64(n.AttentionDims().D)))
}

func launchAttention(c *compiler, n *graph.Node) error {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	a := n.AttentionDims()
	flags, mask, pos := attnFlags(n)
	l := c.Launch(n, "attention_"+k.DType.String()+"_"+v.DType.String())
	l.In(q)
	l.In(k)
	l.In(v)
	l.In(mask)
	l.In(pos)
	l.Out(n)
	l.Int(int64(a.Sq))
	l.Int(int64(a.Sk))
	l.Int(int64(a.Hq))
	l.Int(int64(a.Hkv))
	l.Int(int64(a.D))
	l.Int(int64(a.Dv))
	l.F32(attnScale(n))
	l.U32(flags)
	l.Local(128, 1, 1)
	l.Grid(uint32(a.Sq), uint32(a.Hq), uint32(a.Batch))
	return nil
}

// splitKVWarps is SPLITKV_WARPS of flash.cu.
const splitKVWarps = 4

func supportsSplitKV(_ *deviceInfo, n *graph.Node) error {
	a := n.AttentionDims()
	kt, vt := n.Inputs[1].DType, n.Inputs[2].DType
	switch {
	case kt != vt:
		return fmt.Errorf("k %s and v %s: the split-KV kernel takes one dtype for both", kt, vt)
	case !splitKVDims(a.D, a.Dv, kt.BlockBytes()):
		return fmt.Errorf("head dims %d and %d of %s: the split-KV kernel takes rows of at most 512 bytes", a.D, a.Dv, kt)
	case int64(a.Batch)*int64(a.Sq) > 65535 || int64(a.Hkv)*groups(int64(a.Group), splitKVMaxGroup) > 65535:
		return fmt.Errorf("%d queries in %d batches, %d kv heads exceed the split-KV grid", a.Sq, a.Batch, a.Hkv)
	}
	return nil
}

// pow2 is the smallest power of two ≥ v (v ≥ 1).
func pow2(v int64) int64 {
	p := int64(1)
	for p < v {
		p *= 2
	}
	return p
}

func launchSplitKV(c *compiler, n *graph.Node) error {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	a := n.AttentionDims()
	flags, mask, pos := attnFlags(n)
	hchunks := groups(int64(a.Group), splitKVMaxGroup)
	rows := int64(a.Batch) * int64(a.Sq)
	maxSplits := int64(splitKVMaxSplits(c.Dev.SMCount, a, a.Hkv*int(hchunks), int(rows)))
	slots := rows * int64(a.Hq) * maxSplits
	accOff := (2*slots + 63) &^ 63 // floats
	tmp := c.Temp(4 * (accOff + slots*int64(a.Dv)))
	pieces := 16 / int64(k.DType.BlockBytes())
	g := min(pow2(int64(a.Group)), splitKVMaxGroup) // registers for g query heads
	l := c.Launch(n, fmt.Sprintf("splitkv_%s_g%d", k.DType, g))
	l.In(q)
	l.In(k)
	l.In(v)
	l.In(mask)
	l.In(pos)
	l.Scratch(tmp)
	l.Int(int64(a.Sq))
	l.Int(int64(a.Sk))
	l.Int(int64(a.Hq))
	l.Int(int64(a.Hkv))
	l.Int(int64(a.D))
	l.Int(int64(a.Dv))
	l.F32(attnScale(n))
	l.U32(flags)
	l.Int(pow2(groups(int64(max(a.D, a.Dv)), pieces)))
	l.Int(hchunks)
	l.Int(accOff)
	l.Local(32*splitKVWarps, 1, 1)
	l.Grid(uint32(maxSplits), uint32(int64(a.Hkv)*hchunks), uint32(rows))
	r := c.Launch(n, "splitkv_reduce")
	r.Scratch(tmp)
	r.In(pos)
	r.Out(n)
	r.Int(int64(a.Sq))
	r.Int(int64(a.Sk))
	r.Int(int64(a.Hq))
	r.Int(int64(a.Dv))
	r.U32(flags)
	r.Int(maxSplits)
	r.Int(accOff)
	r.Local(128, 1, 1)
	r.Grid(uint32(a.Hq), uint32(rows), 1)
	return nil
}
