// flash: attention kernels beyond attention.cu's simple one (same contract:
// q [B, Sq, Hq, D] F32, k [B, Sk, Hkv, D] and v [B, Sk, Hkv, Dv] F32, F16 or
// BF16 (one dtype for both),
// an optional mask [Sq, Sk], optional positions [Sq], out [B, Sq, Hq, Dv]
// F32; query i sees keys j < nvis(i); no key or value row at or past the
// largest nvis a block needs is read).
//
// splitkv_<kv>_g<G> (flash-decoding): block (split, kv head · head chunk,
// query) takes the keys [split·chunk, (split+1)·chunk) of one query for
// every query head of one kv head (up to G ≤ SPLITKV_G of them, registers
// for G: K and V rows are read once for all of them), where the number of working splits comes from
// the query's nvis (splitkv_count: one per SPLITKV_MIN_CHUNK keys, at most
// the grid's): blocks past it exit. A warp's lanes cover keys in groups of
// LPK lanes (LPK = the row's 16-byte pieces, a power of two), each lane a
// 16-byte piece of K and of V; scores reduce by shuffles within the group;
// each group keeps an online softmax; groups, then warps, are merged at the
// end, and the split's (max, sum, unnormalised output) goes to scratch.
// splitkv_reduce merges the splits of each (query, head) into out.
//
// flash_<kv>_d<D> (FlashAttention-2 on tensor cores, D = Dv in 64, 80, 96,
// 128): block (query tile, query head, batch) takes FLASH_BQ queries, 16
// per warp; q·scale·log2(e) goes to shared memory in f16, then into
// registers as mma A fragments (ldmatrix.x4). K and V tiles of FLASH_BKV
// keys are double-buffered in shared memory as f16 (F16 rows by cp.async,
// zero-filled past the last key the tile's queries see; F32 and BF16 rows
// converted by the threads: values beyond ±65504 overflow to ±inf); rows are padded by 16 bytes so that ldmatrix reads no
// bank twice. Per tile each warp computes S = Q·Kᵀ (16 × 64, mma.m16n8k16
// with K fragments from ldmatrix), masks it (causal, mask input), updates
// its rows' running max and sum in f32 (exp2), turns P into A fragments in
// registers and adds P·V (V fragments from ldmatrix.trans). Key tiles past
// the last key any of the block's queries sees are skipped. GQA reads kv
// head h / (Hq/Hkv): nothing is copied.
#include "golem.cuh"
#include "common.cuh"

#define SPLITKV_G 8
#define SPLITKV_MIN_CHUNK 64
#define SPLITKV_WARPS 4

enum { kFlashCausal = 1, kFlashMask = 2, kFlashPos = 4 };

// flash_nvis is how many keys query i sees.
static __device__ __forceinline__ int64_t flash_nvis(uint32_t flags, const int32_t* pos, uint32_t i, uint32_t sq, uint32_t sk) {
	if (!(flags & kFlashCausal)) return sk;
	int64_t last = (flags & kFlashPos) ? (int64_t)pos[i] : (int64_t)sk - sq + i;
	return last + 1 < 0 ? 0 : (last + 1 > sk ? sk : last + 1);
}

// splitkv_count is select.go's splitKVCount.
static __device__ __forceinline__ uint32_t splitkv_count(int64_t nvis, uint32_t max_splits) {
	int64_t n = (nvis + SPLITKV_MIN_CHUNK - 1) / SPLITKV_MIN_CHUNK;
	n = n < (int64_t)max_splits ? n : (int64_t)max_splits;
	return n < 1 ? 1u : (uint32_t)n;
}

// KV<T>: 16-byte pieces of K and V rows of element type T.
template <class T>
struct KV;
template <>
struct KV<float> {
	static constexpr int E = 4;
	static __device__ __forceinline__ void piece(const float* p, bool vec, uint32_t n, float* out) {
		if (vec && n == 4) {
			golem_v4 v = *reinterpret_cast<const golem_v4*>(p);
			out[0] = golem_uint_as_float(v.x), out[1] = golem_uint_as_float(v.y), out[2] = golem_uint_as_float(v.z), out[3] = golem_uint_as_float(v.w);
			return;
		}
		#pragma unroll
		for (uint32_t e = 0; e < 4; e++) out[e] = e < n ? p[e] : 0.0f;
	}
};
template <>
struct KV<uint16_t> {
	static constexpr int E = 8;
	static __device__ __forceinline__ void piece(const uint16_t* p, bool vec, uint32_t n, float* out) {
		if (vec && n == 8) {
			golem_v4 v = *reinterpret_cast<const golem_v4*>(p);
			const uint32_t u[4] = {v.x, v.y, v.z, v.w};
			#pragma unroll
			for (int i = 0; i < 4; i++) out[2 * i] = golem_f16_to_f32((uint16_t)u[i]), out[2 * i + 1] = golem_f16_to_f32((uint16_t)(u[i] >> 16));
			return;
		}
		#pragma unroll
		for (uint32_t e = 0; e < 8; e++) out[e] = e < n ? golem_f16_to_f32(p[e]) : 0.0f;
	}
};
template <>
struct KV<golem_bf16> {
	static constexpr int E = 8;
	static __device__ __forceinline__ void piece(const golem_bf16* p, bool vec, uint32_t n, float* out) {
		if (vec && n == 8) {
			golem_v4 v = *reinterpret_cast<const golem_v4*>(p);
			const uint32_t u[4] = {v.x, v.y, v.z, v.w};
			#pragma unroll
			for (int i = 0; i < 4; i++) out[2 * i] = golem_uint_as_float(u[i] << 16), out[2 * i + 1] = golem_uint_as_float(u[i] & 0xffff0000u);
			return;
		}
		#pragma unroll
		for (uint32_t e = 0; e < 8; e++) out[e] = e < n ? golem_kv_f32(p[e]) : 0.0f;
	}
};

// softmax_merge folds state (m2, l2, a2) into (m, l, a): the two partial
// softmaxes over disjoint keys, as one.
template <int E>
static __device__ __forceinline__ void softmax_merge(float& m, float& l, float* a, float m2, float l2, const float* a2) {
	float mn = golem_fmaxf(m, m2);
	float c1 = m == GOLEM_NEG_INF ? 0.0f : golem_expf(m - mn), c2 = m2 == GOLEM_NEG_INF ? 0.0f : golem_expf(m2 - mn);
	l = l * c1 + l2 * c2;
	#pragma unroll
	for (int e = 0; e < E; e++) a[e] = a[e] * c1 + a2[e] * c2;
	m = mn;
}

template <class T, int G>
static __device__ __forceinline__ void splitkv(const float* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                               const float* __restrict__ mask, const int32_t* __restrict__ pos, float* __restrict__ part,
                                               uint32_t sq, uint32_t sk, uint32_t hq, uint32_t hkv, uint32_t d, uint32_t dv, float scale,
                                               uint32_t flags, uint32_t lpk, uint32_t hchunks, uint32_t acc_off) {
	constexpr int E = KV<T>::E;
	GOLEM_SHARED(float[SPLITKV_WARPS][G][2], wml);
	GOLEM_SHARED(float[SPLITKV_WARPS][G][32 * 8], wacc);
	uint32_t split = blockIdx.x, max_splits = gridDim.x, hk = blockIdx.y / hchunks, hc = blockIdx.y % hchunks, z = blockIdx.z;
	uint32_t b = z / sq, i = z % sq, group = hq / hkv, h0 = hk * group + hc * SPLITKV_G;
	uint32_t ng = group - hc * SPLITKV_G < SPLITKV_G ? group - hc * SPLITKV_G : SPLITKV_G;
	int64_t nvis = flash_nvis(flags, pos, i, sq, sk);
	uint32_t nsplit = splitkv_count(nvis, max_splits);
	if (split >= nsplit) return;  // the whole block
	int64_t chunk = (nvis + nsplit - 1) / nsplit, j0 = split * chunk, j1 = j0 + chunk < nvis ? j0 + chunk : nvis;
	uint32_t warp = threadIdx.x / 32, lane = golem_lane(), kpw = 32 / lpk, kl = lane / lpk, el = lane % lpk;
	uint32_t c0 = el * E;  // the lane's first element of K and V rows
	bool vk = ((uintptr_t)k & 15) == 0 && ((uint64_t)hkv * d * sizeof(T)) % 16 == 0 && (d * sizeof(T)) % 16 == 0;
	bool vv = ((uintptr_t)v & 15) == 0 && ((uint64_t)hkv * dv * sizeof(T)) % 16 == 0 && (dv * sizeof(T)) % 16 == 0;
	uint32_t nk = c0 < d ? (d - c0 < (uint32_t)E ? d - c0 : (uint32_t)E) : 0, nv = c0 < dv ? (dv - c0 < (uint32_t)E ? dv - c0 : (uint32_t)E) : 0;
	float qr[G][E], m[G], l[G], acc[G][E];
	#pragma unroll
	for (uint32_t g = 0; g < (uint32_t)G; g++) {
		const float* qp = q + (((uint64_t)b * sq + i) * hq + h0 + g) * d + c0;
		#pragma unroll
		for (int e = 0; e < E; e++) qr[g][e] = g < ng && (uint32_t)e < nk ? qp[e] * scale : 0.0f;
		m[g] = GOLEM_NEG_INF, l[g] = 0.0f;
		#pragma unroll
		for (int e = 0; e < E; e++) acc[g][e] = 0.0f;
	}
	const T* kb = k + (uint64_t)b * sk * hkv * d + (uint64_t)hk * d + c0;
	const T* vb = v + (uint64_t)b * sk * hkv * dv + (uint64_t)hk * dv + c0;
#pragma unroll 2
	for (int64_t base = j0 + warp * kpw; base < j1; base += SPLITKV_WARPS * kpw) {
		int64_t j = base + kl;
		bool valid = j < j1;
		float kr[E], vr[E];
		KV<T>::piece(kb + (uint64_t)(valid ? j : j0) * hkv * d, vk, valid ? nk : 0, kr);
		KV<T>::piece(vb + (uint64_t)(valid ? j : j0) * hkv * dv, vv, valid ? nv : 0, vr);
		float mk = valid && (flags & kFlashMask) ? mask[(uint64_t)i * sk + j] : 0.0f;
		#pragma unroll
		for (uint32_t g = 0; g < (uint32_t)G; g++) {
			float s = 0.0f;
			#pragma unroll
			for (int e = 0; e < E; e++) s += qr[g][e] * kr[e];
			#pragma unroll
			for (uint32_t o = lpk / 2; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, (int)o);
			s = valid ? s + mk : GOLEM_NEG_INF;
			float mn = golem_fmaxf(m[g], s);
			float p = mn == GOLEM_NEG_INF ? 0.0f : golem_expf(s - mn);
			float corr = m[g] == GOLEM_NEG_INF ? 0.0f : golem_expf(m[g] - mn);
			l[g] = l[g] * corr + p;
			#pragma unroll
			for (int e = 0; e < E; e++) acc[g][e] = acc[g][e] * corr + p * vr[e];
			m[g] = mn;
		}
	}
	// Merge the key groups of the warp (lanes with the same el), then the
	// warps through shared memory.
	for (uint32_t o = lpk; o < 32; o *= 2) {
		#pragma unroll
		for (uint32_t g = 0; g < (uint32_t)G; g++) {
			float m2 = __shfl_xor_sync(0xffffffffu, m[g], (int)o), l2 = __shfl_xor_sync(0xffffffffu, l[g], (int)o), a2[E];
			#pragma unroll
			for (int e = 0; e < E; e++) a2[e] = __shfl_xor_sync(0xffffffffu, acc[g][e], (int)o);
			softmax_merge<E>(m[g], l[g], acc[g], m2, l2, a2);
		}
	}
	if (kl == 0) {
		#pragma unroll
		for (uint32_t g = 0; g < (uint32_t)G; g++) {
			if (el == 0) wml[warp][g][0] = m[g], wml[warp][g][1] = l[g];
			#pragma unroll
			for (int e = 0; e < E; e++) wacc[warp][g][c0 + e] = acc[g][e];
		}
	}
	__syncthreads();
	if (warp != 0 || kl != 0) return;
	#pragma unroll
	for (uint32_t w = 1; w < SPLITKV_WARPS; w++) {
		#pragma unroll
		for (uint32_t g = 0; g < (uint32_t)G; g++) softmax_merge<E>(m[g], l[g], acc[g], wml[w][g][0], wml[w][g][1], &wacc[w][g][c0]);
	}
#pragma unroll
	for (uint32_t g = 0; g < (uint32_t)G; g++) {
		if (g >= ng) continue;
		uint64_t slot = ((uint64_t)z * hq + h0 + g) * max_splits + split;
		if (el == 0) part[2 * slot] = m[g], part[2 * slot + 1] = l[g];
#pragma unroll
		for (uint32_t e = 0; e < (uint32_t)E; e++) {
			if (e < nv) part[acc_off + slot * dv + c0 + e] = acc[g][e];
		}
	}
}

#define SPLITKV(name, T, G)                                                                                                \
	extern "C" __global__ void __launch_bounds__(32 * SPLITKV_WARPS)                                                       \
	    name(const float* q, const T* k, const T* v, const float* mask, const int32_t* pos, float* part, uint32_t sq,       \
	         uint32_t sk, uint32_t hq, uint32_t hkv, uint32_t d, uint32_t dv, float scale, uint32_t flags, uint32_t lpk,     \
	         uint32_t hchunks, uint32_t acc_off) {                                                                          \
		splitkv<T, G>(q, k, v, mask, pos, part, sq, sk, hq, hkv, d, dv, scale, flags, lpk, hchunks, acc_off);              \
	}                                                                                                                      \
	GOLEM_KERNEL(name)

// One kernel per register budget: G query heads per block (the group,
// rounded up to a power of two; chunks of SPLITKV_G beyond).
SPLITKV(splitkv_f32_g1, float, 1);
SPLITKV(splitkv_f32_g2, float, 2);
SPLITKV(splitkv_f32_g4, float, 4);
SPLITKV(splitkv_f32_g8, float, 8);
SPLITKV(splitkv_f16_g1, uint16_t, 1);
SPLITKV(splitkv_f16_g2, uint16_t, 2);
SPLITKV(splitkv_f16_g4, uint16_t, 4);
SPLITKV(splitkv_f16_g8, uint16_t, 8);
SPLITKV(splitkv_bf16_g1, golem_bf16, 1);
SPLITKV(splitkv_bf16_g2, golem_bf16, 2);
SPLITKV(splitkv_bf16_g4, golem_bf16, 4);
SPLITKV(splitkv_bf16_g8, golem_bf16, 8);

// splitkv_reduce: block (head, query) merges the query's working splits
// into out; a thread per output element.
extern "C" __global__ void splitkv_reduce(const float* __restrict__ part, const int32_t* __restrict__ pos, float* __restrict__ out,
                                          uint32_t sq, uint32_t sk, uint32_t hq, uint32_t dv, uint32_t flags, uint32_t max_splits,
                                          uint32_t acc_off) {
	uint32_t h = blockIdx.x, z = blockIdx.y, i = z % sq;
	uint32_t nsplit = splitkv_count(flash_nvis(flags, pos, i, sq, sk), max_splits);
	uint64_t slot0 = ((uint64_t)z * hq + h) * max_splits;
	float mx = GOLEM_NEG_INF;
	for (uint32_t s = 0; s < nsplit; s++) mx = golem_fmaxf(mx, part[2 * (slot0 + s)]);
	float sum = 0.0f;
	for (uint32_t s = 0; s < nsplit; s++) {
		float ms = part[2 * (slot0 + s)];
		if (ms != GOLEM_NEG_INF) sum += part[2 * (slot0 + s) + 1] * golem_expf(ms - mx);
	}
	float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
	for (uint32_t c = threadIdx.x; c < dv; c += blockDim.x) {
		float o = 0.0f;
		for (uint32_t s = 0; s < nsplit; s++) {
			float ms = part[2 * (slot0 + s)];
			if (ms != GOLEM_NEG_INF) o += part[acc_off + (slot0 + s) * dv + c] * golem_expf(ms - mx);
		}
		out[((uint64_t)z * hq + h) * dv + c] = o * inv;
	}
}
GOLEM_KERNEL(splitkv_reduce);

// ---------------------------------------------------------------------------
// FlashAttention-2 on tensor cores.

#define FLASH_BQ 64
#define FLASH_BKV 64
#define FLASH_THREADS 128
#define FLASH_LOG2E 1.4426950408889634f

// f16x2 packs two floats as f16 (a in the low half).
static __device__ __forceinline__ uint32_t f16x2(float a, float b) { return (uint32_t)golem_f32_to_f16(a) | ((uint32_t)golem_f32_to_f16(b) << 16); }

// flash_f16 returns a K/V element as f16 bits: F16 as it is, F32 and BF16
// rounded to nearest even.
static __device__ __forceinline__ uint32_t flash_f16(uint16_t h) { return h; }
static __device__ __forceinline__ uint32_t flash_f16(float v) { return golem_f32_to_f16(v); }
static __device__ __forceinline__ uint32_t flash_f16(golem_bf16 h) { return golem_f32_to_f16(golem_bf16_to_f32(h.bits)); }

// flash_raw says whether rows of T are copied as they are (F16).
template <class T>
struct flash_raw {
	static constexpr bool v = false;
};
template <>
struct flash_raw<uint16_t> {
	static constexpr bool v = true;
};

// flash_load_rows stages rows [j0, j0+FLASH_BKV) of a K or V head (rows
// of w elements, row j at src + j·stride) into dst (rows of w+8 halves):
// cp.async for aligned F16, converted loads for F32 and BF16, zeros at or
// past end.
template <class T, int W>
static __device__ __forceinline__ void flash_load_rows(uint16_t* dst, const T* src, uint64_t stride, int64_t j0, int64_t end, bool vec) {
	constexpr int C = W / 8;  // 16-byte chunks of f16 per row
	for (uint32_t c = threadIdx.x; c < FLASH_BKV * C; c += FLASH_THREADS) {
		uint32_t r = c / C, ch = c % C;
		int64_t j = j0 + r;
		uint16_t* d = dst + r * (W + 8) + ch * 8;
		bool in = j < end;
		if (flash_raw<T>::v && vec) {
			golem_cp_async16_cg(d, in ? (const void*)(src + (uint64_t)j * stride + ch * 8) : (const void*)src, in ? 16u : 0u);
			continue;
		}
		uint32_t h[8];
		#pragma unroll
		for (int e = 0; e < 8; e++) {
			h[e] = in ? flash_f16(src[(uint64_t)j * stride + ch * 8 + e]) : 0u;
		}
		*reinterpret_cast<golem_v4*>(d) = golem_v4{h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16)};
	}
}

template <class T, int D>
static __device__ __forceinline__ void flash(const float* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                             const float* __restrict__ mask, const int32_t* __restrict__ pos, float* __restrict__ out,
                                             uint32_t sq, uint32_t sk, uint32_t hq, uint32_t hkv, float scale, uint32_t flags) {
	constexpr int P = D + 8;  // padded row, halves
	GOLEM_DYNAMIC_SHARED(uint16_t, smem);
	GOLEM_SHARED(int32_t[FLASH_THREADS / 32], red);
	uint16_t* sq_ = smem;                       // [FLASH_BQ][P]
	uint16_t* sk_ = sq_ + FLASH_BQ * P;         // [2][FLASH_BKV][P]
	uint16_t* sv_ = sk_ + 2 * FLASH_BKV * P;    // [2][FLASH_BKV][P]
	uint32_t q0 = blockIdx.x * FLASH_BQ, h = blockIdx.y, b = blockIdx.z, hk = h / (hq / hkv);
	uint32_t warp = threadIdx.x / 32, lane = golem_lane(), g = lane / 4, t = lane % 4;
	// The last key any query of the tile sees.
	int64_t mine = 0;
	if (threadIdx.x < FLASH_BQ && q0 + threadIdx.x < sq) mine = flash_nvis(flags, pos, q0 + threadIdx.x, sq, sk);
	int32_t mv = (int32_t)mine;
	for (int o = 16; o > 0; o /= 2) {
		int32_t other = __shfl_xor_sync(0xffffffffu, mv, o);
		mv = other > mv ? other : mv;
	}
	if (lane == 0) red[warp] = mv;
	// q tile, scaled, in f16 (rows past sq are zeros).
	float qs = scale * FLASH_LOG2E;
	for (uint32_t c = threadIdx.x; c < FLASH_BQ * D / 2; c += FLASH_THREADS) {
		uint32_t r = c / (D / 2), e = 2 * (c % (D / 2));
		float a = 0.0f, bb = 0.0f;
		if (q0 + r < sq) {
			const float* qr = q + (((uint64_t)b * sq + q0 + r) * hq + h) * D;
			a = qr[e] * qs, bb = qr[e + 1] * qs;
		}
		*reinterpret_cast<uint32_t*>(sq_ + r * P + e) = f16x2(a, bb);
	}
	__syncthreads();
	int64_t kv_end = 0;
	for (int w = 0; w < FLASH_THREADS / 32; w++) kv_end = red[w] > kv_end ? red[w] : kv_end;
	uint32_t qf[D / 16][4];
	#pragma unroll
	for (int kk = 0; kk < D / 16; kk++) golem_ldmatrix_x4(qf[kk], sq_ + (warp * 16 + lane % 16) * P + kk * 16 + (lane / 16) * 8);
	// This lane's two rows and how many keys each sees.
	uint32_t row0 = q0 + warp * 16 + g, row1 = row0 + 8;
	int64_t nv0 = row0 < sq ? flash_nvis(flags, pos, row0, sq, sk) : 0, nv1 = row1 < sq ? flash_nvis(flags, pos, row1, sq, sk) : 0;
	float m0 = GOLEM_NEG_INF, m1 = GOLEM_NEG_INF, l0 = 0.0f, l1 = 0.0f;
	float o[D / 8][4];
	#pragma unroll
	for (int i = 0; i < D / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
	uint64_t stride = (uint64_t)hkv * D;
	const T* kh = k + (uint64_t)b * sk * stride + (uint64_t)hk * D;
	const T* vh = v + (uint64_t)b * sk * stride + (uint64_t)hk * D;
	bool vec = (((uintptr_t)k | (uintptr_t)v) & 15) == 0;
	uint32_t ntiles = (uint32_t)((kv_end + FLASH_BKV - 1) / FLASH_BKV);
	if (ntiles > 0) {
		flash_load_rows<T, D>(sk_, kh, stride, 0, kv_end, vec);
		flash_load_rows<T, D>(sv_, vh, stride, 0, kv_end, vec);
	}
	golem_cp_async_commit();
	for (uint32_t ti = 0; ti < ntiles; ti++) {
		int64_t j0 = (int64_t)ti * FLASH_BKV;
		if (ti + 1 < ntiles) {
			uint32_t nb = (ti + 1) & 1;
			flash_load_rows<T, D>(sk_ + nb * FLASH_BKV * P, kh, stride, j0 + FLASH_BKV, kv_end, vec);
			flash_load_rows<T, D>(sv_ + nb * FLASH_BKV * P, vh, stride, j0 + FLASH_BKV, kv_end, vec);
			golem_cp_async_commit();
			golem_cp_async_wait<1>();
		} else {
			golem_cp_async_wait<0>();
		}
		__syncthreads();
		const uint16_t* K = sk_ + (ti & 1) * FLASH_BKV * P;
		const uint16_t* V = sv_ + (ti & 1) * FLASH_BKV * P;
		// S = Q·Kᵀ: 8 tiles of 8 keys.
		float s[FLASH_BKV / 8][4];
		#pragma unroll
		for (int nt = 0; nt < FLASH_BKV / 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
		#pragma unroll
		for (int kk = 0; kk < D / 16; kk++) {
			#pragma unroll
			for (int np = 0; np < FLASH_BKV / 16; np++) {
				uint32_t r[4];
				golem_ldmatrix_x4(r, K + (np * 16 + (lane / 16) * 8 + lane % 8) * P + kk * 16 + ((lane / 8) % 2) * 8);
				uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
				golem_mma_f16(s[2 * np], qf[kk], b0, s[2 * np]);
				golem_mma_f16(s[2 * np + 1], qf[kk], b1, s[2 * np + 1]);
			}
		}
		// Mask and the row maxima.
		float mx0 = GOLEM_NEG_INF, mx1 = GOLEM_NEG_INF;
		#pragma unroll
		for (int nt = 0; nt < FLASH_BKV / 8; nt++) {
			#pragma unroll
			for (int e = 0; e < 4; e++) {
				int64_t j = j0 + nt * 8 + 2 * t + (e & 1);
				bool top = e < 2;
				float x = s[nt][e];
				if (j >= (top ? nv0 : nv1)) {
					x = GOLEM_NEG_INF;
				} else if (flags & kFlashMask) {
					x += mask[(uint64_t)(top ? row0 : row1) * sk + j] * FLASH_LOG2E;
				}
				s[nt][e] = x;
				if (top) {
					mx0 = golem_fmaxf(mx0, x);
				} else {
					mx1 = golem_fmaxf(mx1, x);
				}
			}
		}
		#pragma unroll
		for (int o2 = 1; o2 < 4; o2 *= 2) {
			mx0 = golem_fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, o2));
			mx1 = golem_fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, o2));
		}
		float n0 = golem_fmaxf(m0, mx0), n1 = golem_fmaxf(m1, mx1);
		float c0 = m0 == GOLEM_NEG_INF ? 0.0f : golem_ex2f(m0 - n0), c1 = m1 == GOLEM_NEG_INF ? 0.0f : golem_ex2f(m1 - n1);
		m0 = n0, m1 = n1;
		float ps0 = 0.0f, ps1 = 0.0f;
		#pragma unroll
		for (int nt = 0; nt < FLASH_BKV / 8; nt++) {
			#pragma unroll
			for (int e = 0; e < 4; e++) {
				bool top = e < 2;
				float mm = top ? n0 : n1;
				float p = (mm == GOLEM_NEG_INF || s[nt][e] == GOLEM_NEG_INF) ? 0.0f : golem_ex2f(s[nt][e] - mm);
				s[nt][e] = p;
				if (top) {
					ps0 += p;
				} else {
					ps1 += p;
				}
			}
		}
		l0 = l0 * c0 + ps0, l1 = l1 * c1 + ps1;
		#pragma unroll
		for (int i = 0; i < D / 8; i++) o[i][0] *= c0, o[i][1] *= c0, o[i][2] *= c1, o[i][3] *= c1;
		// O += P·V: P's C fragments are the A fragments of 16-key steps.
		#pragma unroll
		for (int ks = 0; ks < FLASH_BKV / 16; ks++) {
			uint32_t a[4] = {f16x2(s[2 * ks][0], s[2 * ks][1]), f16x2(s[2 * ks][2], s[2 * ks][3]), f16x2(s[2 * ks + 1][0], s[2 * ks + 1][1]),
			                 f16x2(s[2 * ks + 1][2], s[2 * ks + 1][3])};
			#pragma unroll
			for (int dp = 0; dp < D / 16; dp++) {
				uint32_t r[4];
				golem_ldmatrix_x4_trans(r, V + (ks * 16 + ((lane / 8) % 2) * 8 + lane % 8) * P + dp * 16 + (lane / 16) * 8);
				uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
				golem_mma_f16(o[2 * dp], a, b0, o[2 * dp]);
				golem_mma_f16(o[2 * dp + 1], a, b1, o[2 * dp + 1]);
			}
		}
		__syncthreads();  // the buffer is refilled two tiles on
	}
	golem_cp_async_wait_all();
	#pragma unroll
	for (int o2 = 1; o2 < 4; o2 *= 2) {
		l0 += __shfl_xor_sync(0xffffffffu, l0, o2);
		l1 += __shfl_xor_sync(0xffffffffu, l1, o2);
	}
	float i0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, i1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
	#pragma unroll
	for (int i = 0; i < D / 8; i++) {
		uint32_t c = i * 8 + 2 * t;
		if (row0 < sq) {
			float* orow = out + (((uint64_t)b * sq + row0) * hq + h) * D;
			orow[c] = o[i][0] * i0, orow[c + 1] = o[i][1] * i0;
		}
		if (row1 < sq) {
			float* orow = out + (((uint64_t)b * sq + row1) * hq + h) * D;
			orow[c] = o[i][2] * i1, orow[c + 1] = o[i][3] * i1;
		}
	}
}

#define FLASH(name, T, D)                                                                                                   \
	extern "C" __global__ void __launch_bounds__(FLASH_THREADS)                                                             \
	    name(const float* q, const T* k, const T* v, const float* mask, const int32_t* pos, float* out, uint32_t sq,         \
	         uint32_t sk, uint32_t hq, uint32_t hkv, float scale, uint32_t flags) {                                          \
		flash<T, D>(q, k, v, mask, pos, out, sq, sk, hq, hkv, scale, flags);                                                \
	}                                                                                                                       \
	GOLEM_KERNEL(name)

FLASH(flash_f16_d64, uint16_t, 64);
FLASH(flash_f16_d80, uint16_t, 80);
FLASH(flash_f16_d96, uint16_t, 96);
FLASH(flash_f16_d128, uint16_t, 128);
FLASH(flash_f32_d64, float, 64);
FLASH(flash_f32_d80, float, 80);
FLASH(flash_f32_d96, float, 96);
FLASH(flash_f32_d128, float, 128);
FLASH(flash_bf16_d64, golem_bf16, 64);
FLASH(flash_bf16_d80, golem_bf16, 80);
FLASH(flash_bf16_d96, golem_bf16, 96);
FLASH(flash_bf16_d128, golem_bf16, 128);
