// flash: attention kernels beyond attention.cu's simple one (same contract:
// q [B, Sq, Hq, D] F32, k [B, Sk, Hkv, D] and v [B, Sk, Hkv, Dv] F32 or F16,
// an optional mask [Sq, Sk], optional positions [Sq], out [B, Sq, Hq, Dv]
// F32; query i sees keys j < nvis(i); no key or value row at or past the
// largest nvis a block needs is read).
//
// splitkv_<kv> (flash-decoding): block (split, kv head · head chunk, query)
// takes the keys [split·chunk, (split+1)·chunk) of one query for every
// query head of one kv head (up to SPLITKV_G of them: K and V rows are read
// once for all of them), where the number of working splits comes from
// the query's nvis (splitkv_count: one per SPLITKV_MIN_CHUNK keys, at most
// the grid's): blocks past it exit. A warp's lanes cover keys in groups of
// LPK lanes (LPK = the row's 16-byte pieces, a power of two), each lane a
// 16-byte piece of K and of V; scores reduce by shuffles within the group;
// each group keeps an online softmax; groups, then warps, are merged at the
// end, and the split's (max, sum, unnormalised output) goes to scratch.
// splitkv_reduce merges the splits of each (query, head) into out.
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
			for (int i = 0; i < 4; i++) out[2 * i] = golem_f16_to_f32((uint16_t)u[i]), out[2 * i + 1] = golem_f16_to_f32((uint16_t)(u[i] >> 16));
			return;
		}
		for (uint32_t e = 0; e < 8; e++) out[e] = e < n ? golem_f16_to_f32(p[e]) : 0.0f;
	}
};

// softmax_merge folds state (m2, l2, a2) into (m, l, a): the two partial
// softmaxes over disjoint keys, as one.
template <int E>
static __device__ __forceinline__ void softmax_merge(float& m, float& l, float* a, float m2, float l2, const float* a2) {
	float mn = golem_fmaxf(m, m2);
	float c1 = m == GOLEM_NEG_INF ? 0.0f : golem_expf(m - mn), c2 = m2 == GOLEM_NEG_INF ? 0.0f : golem_expf(m2 - mn);
	l = l * c1 + l2 * c2;
	for (int e = 0; e < E; e++) a[e] = a[e] * c1 + a2[e] * c2;
	m = mn;
}

template <class T>
static __device__ __forceinline__ void splitkv(const float* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                               const float* __restrict__ mask, const int32_t* __restrict__ pos, float* __restrict__ part,
                                               uint32_t sq, uint32_t sk, uint32_t hq, uint32_t hkv, uint32_t d, uint32_t dv, float scale,
                                               uint32_t flags, uint32_t lpk, uint32_t hchunks, uint32_t acc_off) {
	constexpr int E = KV<T>::E;
	GOLEM_SHARED(float[SPLITKV_WARPS][SPLITKV_G][2], wml);
	GOLEM_SHARED(float[SPLITKV_WARPS][SPLITKV_G][32 * 8], wacc);
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
	float qr[SPLITKV_G][E], m[SPLITKV_G], l[SPLITKV_G], acc[SPLITKV_G][E];
	for (uint32_t g = 0; g < SPLITKV_G; g++) {
		const float* qp = q + (((uint64_t)b * sq + i) * hq + h0 + g) * d + c0;
		for (int e = 0; e < E; e++) qr[g][e] = g < ng && (uint32_t)e < nk ? qp[e] * scale : 0.0f;
		m[g] = GOLEM_NEG_INF, l[g] = 0.0f;
		for (int e = 0; e < E; e++) acc[g][e] = 0.0f;
	}
	const T* kb = k + (uint64_t)b * sk * hkv * d + (uint64_t)hk * d + c0;
	const T* vb = v + (uint64_t)b * sk * hkv * dv + (uint64_t)hk * dv + c0;
	for (int64_t base = j0 + warp * kpw; base < j1; base += SPLITKV_WARPS * kpw) {
		int64_t j = base + kl;
		bool valid = j < j1;
		float kr[E], vr[E];
		KV<T>::piece(kb + (uint64_t)(valid ? j : j0) * hkv * d, vk, valid ? nk : 0, kr);
		KV<T>::piece(vb + (uint64_t)(valid ? j : j0) * hkv * dv, vv, valid ? nv : 0, vr);
		float mk = valid && (flags & kFlashMask) ? mask[(uint64_t)i * sk + j] : 0.0f;
		for (uint32_t g = 0; g < SPLITKV_G; g++) {
			float s = 0.0f;
			for (int e = 0; e < E; e++) s += qr[g][e] * kr[e];
			for (uint32_t o = lpk / 2; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, (int)o);
			s = valid ? s + mk : GOLEM_NEG_INF;
			float mn = golem_fmaxf(m[g], s);
			float p = mn == GOLEM_NEG_INF ? 0.0f : golem_expf(s - mn);
			float corr = m[g] == GOLEM_NEG_INF ? 0.0f : golem_expf(m[g] - mn);
			l[g] = l[g] * corr + p;
			for (int e = 0; e < E; e++) acc[g][e] = acc[g][e] * corr + p * vr[e];
			m[g] = mn;
		}
	}
	// Merge the key groups of the warp (lanes with the same el), then the
	// warps through shared memory.
	for (uint32_t o = lpk; o < 32; o *= 2) {
		for (uint32_t g = 0; g < SPLITKV_G; g++) {
			float m2 = __shfl_xor_sync(0xffffffffu, m[g], (int)o), l2 = __shfl_xor_sync(0xffffffffu, l[g], (int)o), a2[E];
			for (int e = 0; e < E; e++) a2[e] = __shfl_xor_sync(0xffffffffu, acc[g][e], (int)o);
			softmax_merge<E>(m[g], l[g], acc[g], m2, l2, a2);
		}
	}
	if (kl == 0) {
		for (uint32_t g = 0; g < SPLITKV_G; g++) {
			if (el == 0) wml[warp][g][0] = m[g], wml[warp][g][1] = l[g];
			for (int e = 0; e < E; e++) wacc[warp][g][c0 + e] = acc[g][e];
		}
	}
	__syncthreads();
	if (warp != 0 || kl != 0) return;
	for (uint32_t w = 1; w < SPLITKV_WARPS; w++) {
		for (uint32_t g = 0; g < SPLITKV_G; g++) softmax_merge<E>(m[g], l[g], acc[g], wml[w][g][0], wml[w][g][1], &wacc[w][g][c0]);
	}
	for (uint32_t g = 0; g < ng; g++) {
		uint64_t slot = ((uint64_t)z * hq + h0 + g) * max_splits + split;
		if (el == 0) part[2 * slot] = m[g], part[2 * slot + 1] = l[g];
		for (uint32_t e = 0; e < nv; e++) part[acc_off + slot * dv + c0 + e] = acc[g][e];
	}
}

#define SPLITKV(name, T)                                                                                                   \
	extern "C" __global__ void __launch_bounds__(32 * SPLITKV_WARPS)                                                       \
	    name(const float* q, const T* k, const T* v, const float* mask, const int32_t* pos, float* part, uint32_t sq,       \
	         uint32_t sk, uint32_t hq, uint32_t hkv, uint32_t d, uint32_t dv, float scale, uint32_t flags, uint32_t lpk,     \
	         uint32_t hchunks, uint32_t acc_off) {                                                                          \
		splitkv<T>(q, k, v, mask, pos, part, sq, sk, hq, hkv, d, dv, scale, flags, lpk, hchunks, acc_off);                 \
	}                                                                                                                      \
	GOLEM_KERNEL(name)

SPLITKV(splitkv_f32, float);
SPLITKV(splitkv_f16, uint16_t);

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
