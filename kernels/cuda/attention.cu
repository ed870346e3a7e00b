// attention: fused scaled-dot-product attention with an online softmax.
// q [B, Sq, Hq, D] F32, k [B, Sk, Hkv, D] and v [B, Sk, Hkv, Dv] F32, F16
// or BF16 (each on its own), out [B, Sq, Hq, Dv]; query head h reads kv head
// h / (Hq/Hkv). Query i sees keys j < nvis(i): clamp(pos[i]+1, 0, Sk) with
// positions, Sk−Sq+i+1 without, Sk when not causal; an optional mask
// [Sq, Sk] is added to scale·q·k. A row that sees no key (or only −inf) is
// zeros. No key or value row at or past nvis is read.
//
// One block of 128 threads per (query, head, batch): per tile of 128 keys
// each thread scores one key (q staged in shared memory), the block takes
// the tile's maximum, rescales its running sum and output, and each thread
// accumulates up to 4 output columns (Dv ≤ 512) over the tile's keys.
#include "golem.cuh"
#include "common.cuh"

#define ATTN_BLOCK 128
#define ATTN_MAX_D 512

enum { kCausal = 1, kMask = 2, kPos = 4 };

// load_kv returns element i of a K or V row as f32.
template <class K>
static __device__ __forceinline__ float load_kv(const K* p, uint64_t i) {
	return golem_kv_f32(p[i]);
}

template <class K, class V>
static __device__ __forceinline__ void attention(const float* __restrict__ q, const K* __restrict__ k, const V* __restrict__ v,
                                                 const float* __restrict__ mask, const int32_t* __restrict__ pos, float* __restrict__ out,
                                                 uint32_t sq, uint32_t sk, uint32_t hq, uint32_t hkv, uint32_t d, uint32_t dv, float scale,
                                                 uint32_t flags) {
	GOLEM_SHARED(float[ATTN_MAX_D], qs);
	GOLEM_SHARED(float[ATTN_BLOCK], ps);
	GOLEM_SHARED(float[32], red);
	uint32_t i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, t = threadIdx.x;
	uint32_t hk = h / (hq / hkv);
	const float* qr = q + (((uint64_t)b * sq + i) * hq + h) * d;
	float* orow = out + (((uint64_t)b * sq + i) * hq + h) * dv;
	for (uint32_t c = t; c < d; c += ATTN_BLOCK) qs[c] = qr[c];
	int64_t nvis = sk;
	if (flags & kCausal) {
		int64_t last = (flags & kPos) ? (int64_t)pos[i] : (int64_t)sk - sq + i;
		nvis = last + 1 < 0 ? 0 : (last + 1 > sk ? sk : last + 1);
	}
	const K* kb = k + (uint64_t)b * sk * hkv * d;
	const V* vb = v + (uint64_t)b * sk * hkv * dv;
	float m = GOLEM_NEG_INF, l = 0.0f, acc[ATTN_MAX_D / ATTN_BLOCK] = {0.0f, 0.0f, 0.0f, 0.0f};
	__syncthreads();
	for (int64_t j0 = 0; j0 < nvis; j0 += ATTN_BLOCK) {
		int64_t j = j0 + t;
		float s = GOLEM_NEG_INF;
		if (j < nvis) {
			const K* kr = kb + ((uint64_t)j * hkv + hk) * d;
			float dot = 0.0f;
			for (uint32_t c = 0; c < d; c++) dot += qs[c] * load_kv(kr, c);
			s = scale * dot;
			if (flags & kMask) s += mask[(uint64_t)i * sk + j];
		}
		float tmax = golem_block_max(s, red);
		float mnew = golem_fmaxf(m, tmax);
		// p = e^(s − mnew); keys at −inf (masked, or past nvis) give 0.
		float p = mnew == GOLEM_NEG_INF ? 0.0f : golem_expf(s - mnew);
		float corr = m == GOLEM_NEG_INF ? 0.0f : golem_expf(m - mnew);
		ps[t] = p;
		float psum = golem_block_sum(p, red);  // its barriers publish ps
		l = l * corr + psum;
		m = mnew;
		uint32_t nk = (uint32_t)(nvis - j0 < ATTN_BLOCK ? nvis - j0 : ATTN_BLOCK);
		for (uint32_t a = 0; a < ATTN_MAX_D / ATTN_BLOCK; a++) {
			uint32_t c = t + a * ATTN_BLOCK;
			if (c >= dv) break;
			float o = acc[a] * corr;
			for (uint32_t jj = 0; jj < nk; jj++) {
				if (ps[jj] != 0.0f) o += ps[jj] * load_kv(vb, ((uint64_t)(j0 + jj) * hkv + hk) * dv + c);
			}
			acc[a] = o;
		}
		__syncthreads();  // ps is rewritten by the next tile
	}
	float inv = l > 0.0f ? 1.0f / l : 0.0f;
	for (uint32_t a = 0; a < ATTN_MAX_D / ATTN_BLOCK; a++) {
		uint32_t c = t + a * ATTN_BLOCK;
		if (c < dv) orow[c] = acc[a] * inv;
	}
}

#define ATTENTION(name, K, V)                                                                                                       \
	extern "C" __global__ void name(const float* q, const K* k, const V* v, const float* mask, const int32_t* pos, float* out,     \
	                                uint32_t sq, uint32_t sk, uint32_t hq, uint32_t hkv, uint32_t d, uint32_t dv, float scale,      \
	                                uint32_t flags) {                                                                               \
		attention<K, V>(q, k, v, mask, pos, out, sq, sk, hq, hkv, d, dv, scale, flags);                                             \
	}                                                                                                                               \
	GOLEM_KERNEL(name)

// attention_<k>_<v>: every pair of K and V dtypes.
ATTENTION(attention_f32_f32, float, float);
ATTENTION(attention_f32_f16, float, uint16_t);
ATTENTION(attention_f32_bf16, float, golem_bf16);
ATTENTION(attention_f16_f32, uint16_t, float);
ATTENTION(attention_f16_f16, uint16_t, uint16_t);
ATTENTION(attention_f16_bf16, uint16_t, golem_bf16);
ATTENTION(attention_bf16_f32, golem_bf16, float);
ATTENTION(attention_bf16_f16, golem_bf16, uint16_t);
ATTENTION(attention_bf16_bf16, golem_bf16, golem_bf16);
