//go:build cgo

package vulkan

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/golem-llm/golem/graph"
)

// Attention variants (Variants(graph.OpAttention) lists them in this order):
//
//   - "auto", the default: "splitkv" for nodes with one query per batch
//     (decode), "flash" for the others (prefill); "splitkv" also when flash
//     cannot take the node (head dims too large for its shared-memory
//     tiles, or more keys than lavapipe's loop limit lets it walk).
//   - "flash": fused attention, tiled, with an online softmax; one
//     workgroup per (batch, query tile, head).
//   - "naive": three passes through a scratch score matrix (scores,
//     softmax, weighted sum); simple and obviously right, for checking.
//   - "splitkv": the visible keys of each row are split over workgroups
//     that write partial maxima, sums and rows; a second pass combines them.
//   - "flash_s16", "splitkv_s16", "naive_s16" (devices with
//     storageBuffer16BitAccess): flash, splitkv and naive reading F16 keys
//     and values as float16_t, converted by the hardware rather than
//     decoded bit by bit (BF16 ones are decoded from words, as in the other
//     kernels). "auto" uses them for F16 caches when the device has the
//     feature.
//   - "flash_coopmat" (ops_coopmat.go; devices with VK_KHR_cooperative_matrix):
//     flash attention whose Q·Kᵀ and P·V run on cooperative matrices.
const (
	attnAuto       = "auto"
	attnFlash      = "flash"
	attnNaive      = "naive"
	attnSplitKV    = "splitkv"
	attnFlashS16   = "flash_s16"
	attnSplitKVS16 = "splitkv_s16"
	attnNaiveS16   = "naive_s16"
)

const (
	// attnLocal is the workgroup size of every attention kernel.
	attnLocal = 128
	// splitKVMaxSplits is the most splits of one row, unless a split would
	// then hold more than splitKVMaxKeys keys (which also keeps each
	// invocation well inside lavapipe's loop budget).
	splitKVMaxSplits = 32
	splitKVMaxKeys   = 2048
	// splitKVMinKeys is the fewest keys a split takes: a row that sees p
	// keys uses ceil(p / splitKVMinKeys) splits (at most the grid's), chosen
	// by the kernel from the positions at run time.
	splitKVMinKeys = 256
)

// Flag bits of the attention kernels' pc.flags (attention_common.glsl).
const (
	attnFlagCausal = 1 << iota
	attnFlagMask
	attnFlagPos
	attnFlagKF16
	attnFlagVF16
	attnFlagKBF16
	attnFlagVBF16
)

func init() {
	ops.Register(graph.OpAttention,
		variant{Name: attnAuto, Supports: supportsAttnAuto, Launch: launchAttnAuto},
		variant{Name: attnFlash, Supports: supportsFlash, Launch: launchFlash},
		variant{Name: attnNaive, Supports: supportsNaive, Launch: launchNaive},
		variant{Name: attnSplitKV, Supports: supportsSplitKV, Launch: launchSplitKV},
		variant{Name: attnFlashS16, Available: storage16Available, Supports: supportsFlash,
			Launch: func(c *compiler, n *graph.Node) error { return launchFlashKind(c, n, true) }},
		variant{Name: attnSplitKVS16, Available: storage16Available, Supports: supportsSplitKV,
			Launch: func(c *compiler, n *graph.Node) error { return launchSplitKVKind(c, n, true) }},
		variant{Name: attnNaiveS16, Available: storage16Available, Supports: supportsNaive,
			Launch: func(c *compiler, n *graph.Node) error { return launchNaiveKind(c, n, true) }},
		variant{Name: attnFlashCoopmat, Available: coopmatFlashAvailable, Supports: supportsFlashCoopmat, Launch: launchFlashCoopmat},
	)
}

// supportsAttn checks what every attention kernel needs: 32-bit indices.
func supportsAttn(n *graph.Node) error {
	const lim = 1<<32 - 1
	for _, in := range n.Inputs[:3] {
		if in.Shape.NumElements() > lim {
			return fmt.Errorf("%s has more than 2³²−1 elements", in)
		}
	}
	if n.Shape.NumElements() > lim {
		return errors.New("the result has more than 2³²−1 elements")
	}
	if n.Params.HasMask && n.Mask().Shape.NumElements() > lim {
		return errors.New("the mask has more than 2³²−1 elements")
	}
	return nil
}

// flashTiles returns the query and key tile sizes of the flash kernel:
// the largest that fit the device's shared memory, with a query tile no
// larger than the queries rounded up to a power of two, and within
// lavapipe's loop budget. ok is false when none fits.
func flashTiles(dev *deviceInfo, a graph.AttentionDims) (bq, bk int64, ok bool) {
	maxQ := int64(1)
	for maxQ < int64(a.Sq) && maxQ < 16 {
		maxQ *= 2
	}
	d4, dv4 := groups(int64(a.D), 4), groups(int64(a.Dv), 4)
	for bq = maxQ; bq >= 1; bq /= 2 {
		for _, bk = range []int64{32, 16, 8, 4} {
			bytes := 16 * (bq*d4 + bk*d4 + bk*dv4 + 2*bq*bk/4)
			if bytes <= int64(dev.Limits.MaxSharedMemory) && withinLoopBudget(dev, flashIterations(a, bq, bk)) {
				return bq, bk, true
			}
		}
	}
	return 0, 0, false
}

// flashIterations estimates the loop iterations one flash invocation runs
// (see withinLoopBudget).
func flashIterations(a graph.AttentionDims, bq, bk int64) int64 {
	tpq := attnLocal / bq
	d4, dv4 := groups(int64(a.D), 4), groups(int64(a.Dv), 4)
	nc := groups(dv4, tpq)
	perTile := 4*groups(bk*d4, attnLocal) + 4*groups(bk*dv4, attnLocal) + // staging (and partial vec4s)
		groups(bk, tpq)*(d4+3) + // scores, probabilities
		2*bk/4 + nc*(bk/4+1) + 4 // maximum, sum, weighted values
	return bq + 4*groups(bq*d4, attnLocal) + nc*5 + groups(int64(a.Sk), bk)*perTile
}

// loopBudget is the number of loop iterations, all loops together, after
// which lavapipe (llvmpipe) ends a shader invocation: its compiler's loop
// limiter (LP_MAX_TGSI_LOOP_ITERATIONS = 65535) silently cuts every loop
// short once the shared counter runs out, leaving wrong or unwritten
// results. Kernels keep their estimated count below this bound there.
const loopBudget = 60000

// withinLoopBudget reports whether a kernel whose invocations run about
// iterations loop iterations is safe on dev.
func withinLoopBudget(dev *deviceInfo, iterations int64) bool {
	return !loopLimited(dev) || iterations <= loopBudget
}

// loopLimited reports whether dev is Mesa's lavapipe, whose shaders end
// after 65535 loop iterations.
func loopLimited(dev *deviceInfo) bool {
	return strings.Contains(dev.DriverName, "llvmpipe") || strings.Contains(dev.Name, "llvmpipe")
}

func supportsFlash(dev *deviceInfo, n *graph.Node) error {
	if err := supportsAttn(n); err != nil {
		return err
	}
	a := n.AttentionDims()
	if _, _, ok := flashTiles(dev, a); !ok {
		if loopLimited(dev) {
			return fmt.Errorf("%d keys of head dims %d and %d exceed what one flash workgroup can loop over on lavapipe (or its shared memory)", a.Sk, a.D, a.Dv)
		}
		return fmt.Errorf("head dims %d and %d need more shared memory than the device's %d bytes", a.D, a.Dv, dev.Limits.MaxSharedMemory)
	}
	lim := dev.Limits.MaxWorkgroupCount
	if int64(a.Sq) > int64(lim[0]) || int64(a.Hq) > int64(lim[1]) || int64(a.Batch) > int64(lim[2]) {
		return fmt.Errorf("grid of %d×%d×%d query tiles, heads and batches exceeds the device's %v", a.Sq, a.Hq, a.Batch, lim)
	}
	return nil
}

// naiveScratch is the naive variant's score matrix in bytes.
func naiveScratch(a graph.AttentionDims) int64 {
	return 4 * int64(a.Batch) * int64(a.Hq) * int64(a.Sq) * int64(a.Sk)
}

func supportsNaive(dev *deviceInfo, n *graph.Node) error {
	if err := supportsAttn(n); err != nil {
		return err
	}
	a := n.AttentionDims()
	lim := int64(dev.Limits.MaxStorageBufferRange)
	if lim > 1<<31 {
		lim = 1 << 31
	}
	if s := naiveScratch(a); s > lim {
		return fmt.Errorf("the naive variant's %d-byte score matrix exceeds one binding (%d bytes)", s, lim)
	}
	if int64(a.Batch)*int64(a.Hq)*int64(a.Sq) > int64(math.MaxUint32) {
		return errors.New("too many rows for the naive variant")
	}
	// The weighted sum loops over every visible key in one invocation.
	if !withinLoopBudget(dev, int64(a.Sk)+3*groups(int64(a.Sk), attnLocal)+int64(a.D)) {
		return fmt.Errorf("%d keys exceed what the naive variant can loop over on lavapipe", a.Sk)
	}
	return nil
}

// splitPlan returns the most splits a split-KV row can use (the grid's x)
// and the fewest keys per split: up to splitKVMaxSplits splits of at least
// splitKVMinKeys keys, more splits when Sk keys would otherwise put more
// than splitKVMaxKeys in one. The kernel picks each row's split count at
// run time from the keys the row sees (attention_splitkv.glsl), so a
// decode step early in a long cache uses few workgroups.
func splitPlan(a graph.AttentionDims) (nsplit, minKeys int64) {
	sk := int64(a.Sk)
	nsplit = max(min(groups(sk, splitKVMinKeys), splitKVMaxSplits), groups(sk, splitKVMaxKeys), 1)
	return nsplit, splitKVMinKeys
}

// splitTile returns the split-KV kernel's key tile BK and the row stride
// KP of its staged key rows: the largest BK of 64, 32, 16, 8 whose shared
// memory fits the device, and KP ≥ D with KP ≡ WG/BK (mod 32), which makes
// the per-key partial dot products read 32 different banks (see
// attention_splitkv.glsl). ok is false when no tile fits.
func splitTile(dev *deviceInfo, d int64) (bk, kp int64, ok bool) {
	for _, bk = range []int64{64, 32, 16, 8} {
		tpk := attnLocal / bk
		kp = d + ((tpk-d)%32+32)%32
		if 4*(d+bk*kp+attnLocal+2*bk) <= int64(dev.Limits.MaxSharedMemory) {
			return bk, kp, true
		}
	}
	return 0, 0, false
}

// splitScratch is the split-KV partial results in bytes.
func splitScratch(a graph.AttentionDims, nsplit int64) int64 {
	parts := int64(a.Batch) * int64(a.Sq) * int64(a.Hq) * nsplit
	return 4 * parts * (2 + int64(a.Dv))
}

func supportsSplitKV(dev *deviceInfo, n *graph.Node) error {
	if err := supportsAttn(n); err != nil {
		return err
	}
	a := n.AttentionDims()
	if _, _, ok := splitTile(dev, int64(a.D)); !ok {
		return fmt.Errorf("head dim %d needs more shared memory than the device's %d bytes", a.D, dev.Limits.MaxSharedMemory)
	}
	nsplit, _ := splitPlan(a)
	lim := dev.Limits.MaxWorkgroupCount
	if nsplit > int64(lim[0]) || int64(a.Hq) > int64(lim[1]) || int64(a.Batch)*int64(a.Sq) > int64(lim[2]) {
		return fmt.Errorf("grid of %d×%d×%d splits, heads and rows exceeds the device's %v", nsplit, a.Hq, a.Batch*a.Sq, lim)
	}
	wlim := int64(dev.Limits.MaxStorageBufferRange)
	if s := splitScratch(a, nsplit); s > wlim {
		return fmt.Errorf("the split-KV partial results (%d bytes) exceed one binding (%d bytes)", s, wlim)
	}
	return nil
}

// autoAttnVariant is the variant "auto" uses for n.
func autoAttnVariant(dev *deviceInfo, n *graph.Node) string {
	a := n.AttentionDims()
	if a.Sq > 1 && supportsFlash(dev, n) == nil {
		return attnFlash
	}
	return attnSplitKV
}

func supportsAttnAuto(dev *deviceInfo, n *graph.Node) error {
	if autoAttnVariant(dev, n) == attnFlash {
		return nil
	}
	return supportsSplitKV(dev, n)
}

// launchAttnAuto runs the variant autoAttnVariant picks, reading F16 keys
// or values through 16-bit storage when the device has it.
func launchAttnAuto(c *compiler, n *graph.Node) error {
	s16 := storage16Available(c.Dev) == nil && (n.Inputs[1].DType == graph.F16 || n.Inputs[2].DType == graph.F16)
	if autoAttnVariant(c.Dev, n) == attnFlash {
		return launchFlashKind(c, n, s16)
	}
	return launchSplitKVKind(c, n, s16)
}

func launchFlash(c *compiler, n *graph.Node) error { return launchFlashKind(c, n, false) }

func launchSplitKV(c *compiler, n *graph.Node) error { return launchSplitKVKind(c, n, false) }

// attnArgs binds q, k, v, mask (or q again), positions (or q again), the
// output and, when scratch ≥ 0, that scratch region, and pushes the
// constants of attention_common.glsl.
func attnArgs(l *launch, n *graph.Node, a graph.AttentionDims, scratch int, nsplit, chunk int64) {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	aq, ak, av := l.In(q), l.In(k), l.In(v)
	var am, ap int
	if m := n.Mask(); m != nil {
		am = l.In(m)
	} else {
		am = l.In(q) // never read (no mask flag)
	}
	if p := n.Positions(); p != nil {
		ap = l.In(p)
	} else {
		ap = l.In(q) // never read (no positions flag)
	}
	ao := l.Out(n)
	as := -1
	if scratch >= 0 {
		as = l.Scratch(scratch)
	}
	flags := uint32(0)
	if n.Params.Causal {
		flags |= attnFlagCausal
	}
	if n.Params.HasMask {
		flags |= attnFlagMask
	}
	if n.Params.HasPos {
		flags |= attnFlagPos
	}
	switch k.DType {
	case graph.F16:
		flags |= attnFlagKF16
	case graph.BF16:
		flags |= attnFlagKBF16
	}
	switch v.DType {
	case graph.F16:
		flags |= attnFlagVF16
	case graph.BF16:
		flags |= attnFlagVBF16
	}
	l.Int(int64(a.Batch))
	l.Int(int64(a.Sq))
	l.Int(int64(a.Sk))
	l.Int(int64(a.Hq))
	l.Int(int64(a.Hkv))
	l.Int(int64(a.D))
	l.Int(int64(a.Dv))
	l.F32(n.Params.Scale)
	l.U32(flags)
	l.Offset(aq, 4)
	l.Offset(ak, elemUnit(k.DType))
	l.Offset(av, elemUnit(v.DType))
	l.Offset(am, 4)
	l.Offset(ap, 4)
	l.Offset(ao, 4)
	if as >= 0 {
		l.Offset(as, 4)
	} else {
		l.U32(0)
	}
	l.Int(nsplit)
	l.Int(chunk)
}

// launchFlashKind records the fused kernel: one dispatch (the 16-bit
// storage kernel with s16).
func launchFlashKind(c *compiler, n *graph.Node, s16 bool) error {
	a := n.AttentionDims()
	bq, bk, ok := flashTiles(c.Dev, a)
	if !ok {
		return fmt.Errorf("head dims %d and %d do not fit the flash kernel's shared memory", a.D, a.Dv)
	}
	tpq := attnLocal / bq
	dv4 := groups(int64(a.Dv), 4)
	shader := "attention_flash"
	if s16 {
		shader += "_s16"
	}
	l := c.Launch(n, shader)
	attnArgs(l, n, a, -1, 0, 0)
	l.Local(attnLocal, 1, 1)
	l.Spec(3, uint32(bq))
	l.Spec(4, uint32(bk))
	l.Spec(5, uint32(groups(int64(a.D), 4)))
	l.Spec(6, uint32(dv4))
	l.Spec(7, uint32(groups(dv4, tpq)))
	l.Grid(uint32(groups(int64(a.Sq), bq)), uint32(a.Hq), uint32(a.Batch))
	return nil
}

func launchNaive(c *compiler, n *graph.Node) error { return launchNaiveKind(c, n, false) }

// launchNaiveKind records the three passes over a scratch score matrix
// (the score and output passes of the 16-bit storage kernels with s16).
func launchNaiveKind(c *compiler, n *graph.Node, s16 bool) error {
	a := n.AttentionDims()
	s := c.Scratch(naiveScratch(a))
	rows := int64(a.Batch) * int64(a.Hq) * int64(a.Sq)
	suffix := ""
	if s16 {
		suffix = "_s16"
	}

	l := c.Launch(n, "attention_naive_scores"+suffix)
	attnArgs(l, n, a, s, 0, 0)
	l.Local(attnLocal, 1, 1)
	l.Grid1D(groups(rows*int64(a.Sk), attnLocal))

	l = c.Launch(n, "attention_naive_softmax")
	attnArgs(l, n, a, s, 0, 0)
	local := uint32(1)
	for local < attnLocal && int(local) < a.Sk {
		local *= 2
	}
	l.Local(local, 1, 1)
	l.Grid1D(rows)

	l = c.Launch(n, "attention_naive_out"+suffix)
	attnArgs(l, n, a, s, 0, 0)
	l.Local(attnLocal, 1, 1)
	l.Grid1D(groups(int64(a.Batch)*int64(a.Sq)*int64(a.Hq)*int64(a.Dv), attnLocal))
	return nil
}

// launchSplitKVKind records the split pass (the 16-bit storage kernel with
// s16) and the combining pass.
func launchSplitKVKind(c *compiler, n *graph.Node, s16 bool) error {
	a := n.AttentionDims()
	nsplit, chunk := splitPlan(a)
	s := c.Scratch(splitScratch(a, nsplit))

	bk, kp, ok := splitTile(c.Dev, int64(a.D))
	if !ok {
		return fmt.Errorf("head dim %d does not fit the split-KV kernel's shared memory", a.D)
	}
	shader := "attention_splitkv"
	if s16 {
		shader += "_s16"
	}
	l := c.Launch(n, shader)
	attnArgs(l, n, a, s, nsplit, chunk)
	l.Local(attnLocal, 1, 1)
	l.Spec(3, uint32(a.D))
	l.Spec(4, uint32(groups(int64(a.Dv), attnLocal)))
	l.Spec(5, uint32(bk))
	l.Spec(6, uint32(kp))
	l.Grid(uint32(nsplit), uint32(a.Hq), uint32(int64(a.Batch)*int64(a.Sq)))

	l = c.Launch(n, "attention_splitkv_reduce")
	attnArgs(l, n, a, s, nsplit, chunk)
	local := uint32(32)
	for local < attnLocal && int(local) < a.Dv {
		local *= 2
	}
	l.Local(local, 1, 1)
	l.Grid1D(int64(a.Batch) * int64(a.Sq) * int64(a.Hq))
	return nil
}
