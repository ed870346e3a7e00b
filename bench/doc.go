// Package bench holds golem's benchmark suites: attention (every variant a
// backend has, over a grid of prefill and decode shapes), matmul (GEMV and
// GEMM per weight type) and end-to-end model throughput (llama-bench's
// pp512 / tg128); the device ceilings (copy bandwidth and peak matmul rate)
// each device is measured against; reports (table, CSV, JSON, JSONL,
// markdown); roofline plots; and comparisons of saved runs.
//
// # Counting work
//
// Attention with B batches, Hq query heads, Hkv kv heads, head dim D (the
// value head dim Dv equals D here), Sq queries and Skv keys:
//
//	FLOPs = 2·B·Hq·(D + Dv)·P      (= 4·B·Hq·D·P)
//
// where P is the number of (query, key) pairs a query head actually scores:
// Sq·Skv without a causal mask, and with one (query i, counted from 0, sees
// the keys 0 … Skv−Sq+i, the bottom-right alignment of a KV cache)
//
//	P = Sq·(Skv−Sq) + Sq·(Sq+1)/2
//
// which for Sq = Skv = S is S·(S+1)/2: "causal halves the keys" exactly,
// within 1/S of the S²/2 that FlashAttention's papers use. Only the two
// matrix products count (2 FLOPs per multiply-add); the softmax's
// exponentials, maxima and sums are not counted. A decode step (Sq = 1)
// scores every key. Bytes are the compulsory traffic: Q read and O written
// as F32 (B·Sq·Hq·D·4 each), K and V read once at the KV dtype
// (B·Skv·Hkv·D·size each), whatever the kernel re-reads.
//
// MatMul x·Wᵀ with x [M, K], W [N, K]: FLOPs = 2·M·N·K; bytes = x (F32)
// + W at its dtype (quantized blocks included) + the F32 output.
//
// # Rooflines
//
// Each device's ceilings are measured by the package itself (see
// MeasureCeilings): bandwidth from a large same-type copy and scale-by-one
// on the device (read + write bytes per second, the better of the two), and
// the peak matmul rate from a large square GEMM per weight dtype (f32, f16,
// bf16, q8_0, q4_0, q4_k, q6_k). Arithmetic intensity AI = FLOPs / bytes;
// the roof at AI is min(peak FLOP/s, AI·bandwidth) and Result.RooflinePct is
// the achieved FLOP/s as a percent of it. Attention uses the best peak among
// f32 and its KV dtype; matmul its weight dtype's peak; a model its weight
// type's, or the best of all when the type is not known. Ceilings are cached
// per device in os.UserCacheDir()/golem/ceilings.json. The bandwidth is
// DRAM's (the copies are far larger than caches): a case whose working set
// fits in cache can exceed 100% of the memory roof.
//
// # Correctness
//
// Before a variant is timed on a case it is checked against the float64 CPU
// reference ("cpu:ref") with parity.RunCase on seeded inputs and the parity
// thresholds (NMSE ≤ 5e-4 for attention and matmul). The reference runs on
// one thread in float64, so a case whose reference work exceeds
// CheckBudgetFLOPs is checked on a reduced shape instead: the same head dim,
// GQA ratio, causality and dtypes (same weight dtype and K for matmul), with
// at most 2 batches, fewer kv heads and shorter sequences (fewer rows for
// matmul), halved until within budget. Result.CheckCase names the shape
// that was checked. A variant that fails its check is not timed.
package bench
