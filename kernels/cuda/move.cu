// Data movement: kv_write (F32 and F16 caches), copy/contiguous (strided
// sources, every float conversion, dequantization, quantization to Q8_0
// and Q4_0, same-type copies of any dtype) and concat. One thread per
// element (per block for quantization, per row for kv_write).
#include "golem.cuh"
#include "common.cuh"
#include "quant.cuh"

// kv_write: cache[pos[r], :] = src[r, :] for each source row r, one block
// per row. Positions outside [0, ctx) are reported and skipped; when a
// position repeats, the last row wins (earlier ones are skipped).
#define KV_WRITE(name, T, CONV)                                                                                                   \
	extern "C" __global__ void name(T* __restrict__ cache, const float* __restrict__ src, const int32_t* __restrict__ pos,        \
	                                uint32_t* status, uint32_t row_len, uint32_t rows, uint32_t ctx, uint32_t slot) {             \
		uint32_t r = blockIdx.x;                                                                                                  \
		if (r >= rows) return;                                                                                                    \
		int32_t p = pos[r];                                                                                                       \
		if (p < 0 || (uint32_t)p >= ctx) {                                                                                        \
			if (threadIdx.x == 0) golem_report_error(status, slot, p, r);                                                         \
			return;                                                                                                               \
		}                                                                                                                         \
		int later = 0;                                                                                                            \
		for (uint32_t r2 = r + 1 + threadIdx.x; r2 < rows; r2 += blockDim.x) later |= pos[r2] == p;                               \
		if (__syncthreads_or(later)) return;                                                                                      \
		const float* s = src + (uint64_t)r * row_len;                                                                             \
		T* c = cache + (uint64_t)p * row_len;                                                                                     \
		for (uint32_t j = threadIdx.x; j < row_len; j += blockDim.x) c[j] = CONV(s[j]);                                           \
	}                                                                                                                             \
	GOLEM_KERNEL(name)

#define AS_F32(v) (v)
KV_WRITE(kv_write_f32, float, AS_F32);
KV_WRITE(kv_write_f16, uint16_t, golem_f32_to_f16);

// sidx returns the source element index (from the source's element 0) of
// destination element e: the source is strided (element strides st0..st3
// over the shape padded to 4-D, dims 1..3 s1..s3).
static __device__ __forceinline__ int64_t sidx(uint64_t e, uint32_t s1, uint32_t s2, uint32_t s3, int32_t st0, int32_t st1, int32_t st2,
                                               int32_t st3) {
	uint64_t c3 = e % s3, t = e / s3;
	uint64_t c2 = t % s2;
	t /= s2;
	uint64_t c1 = t % s1, c0 = t / s1;
	return (int64_t)c0 * st0 + (int64_t)c1 * st1 + (int64_t)c2 * st2 + (int64_t)c3 * st3;
}

#define STRIDED_PARAMS uint32_t n, uint32_t s1, uint32_t s2, uint32_t s3, int32_t st0, int32_t st1, int32_t st2, int32_t st3
#define SIDX(e) sidx(e, s1, s2, s3, st0, st1, st2, st3)

// cpy_<src>_<dst>: dst[e] = convert(src at element e).
#define CPY(name, S, D, LOAD, STORE)                                                                              \
	extern "C" __global__ void name(const S* __restrict__ src, D* __restrict__ dst, STRIDED_PARAMS) {             \
		uint64_t e = golem_global_x();                                                                            \
		if (e >= n) return;                                                                                       \
		S v = src[SIDX(e)];                                                                                       \
		dst[e] = STORE(LOAD(v));                                                                                  \
	}                                                                                                             \
	GOLEM_KERNEL(name)

#define BITS(v) (v)
// Same-type copies move the bits (NaN payloads and I32 included).
CPY(cpy_32, uint32_t, uint32_t, BITS, BITS);
CPY(cpy_16, uint16_t, uint16_t, BITS, BITS);
CPY(cpy_f32_f16, float, uint16_t, BITS, golem_f32_to_f16);
CPY(cpy_f32_bf16, float, uint16_t, BITS, golem_f32_to_bf16);
CPY(cpy_f16_f32, uint16_t, float, golem_f16_to_f32, BITS);
CPY(cpy_bf16_f32, uint16_t, float, golem_bf16_to_f32, BITS);
CPY(cpy_f16_bf16, uint16_t, uint16_t, golem_f16_to_f32, golem_f32_to_bf16);
CPY(cpy_bf16_f16, uint16_t, uint16_t, golem_bf16_to_f32, golem_f32_to_f16);

// cpy_bytes: a contiguous copy of n bytes (quantized data of one type).
extern "C" __global__ void cpy_bytes(const uint8_t* __restrict__ src, uint8_t* __restrict__ dst, uint32_t n) {
	uint64_t e = golem_global_x();
	if (e < n) dst[e] = src[e];
}
GOLEM_KERNEL(cpy_bytes);

// dq_<q>_<dst>: dequantize a contiguous array of rows of cols elements.
#define DQ(Q, D, STORE)                                                                                                    \
	extern "C" __global__ void dq_##Q##_##D(const uint8_t* __restrict__ src, void* __restrict__ dst, uint32_t n, uint32_t cols, \
	                                        uint32_t row_bytes) {                                                          \
		uint64_t e = golem_global_x();                                                                                     \
		if (e >= n) return;                                                                                                \
		float v = dq_##Q(src + (e / cols) * row_bytes, (uint32_t)(e % cols));                                              \
		STORE;                                                                                                             \
	}                                                                                                                      \
	GOLEM_KERNEL(dq_##Q##_##D)

#define ST_F32 static_cast<float*>(dst)[e] = v
#define ST_F16 static_cast<uint16_t*>(dst)[e] = golem_f32_to_f16(v)
#define ST_BF16 static_cast<uint16_t*>(dst)[e] = golem_f32_to_bf16(v)
#define DQ_ALL(Q)        \
	DQ(Q, f32, ST_F32);  \
	DQ(Q, f16, ST_F16);  \
	DQ(Q, bf16, ST_BF16)
DQ_ALL(q8_0);
DQ_ALL(q4_0);
DQ_ALL(q4_k);
DQ_ALL(q6_k);

// round_away rounds half away from zero, exactly (C's roundf).
static __device__ __forceinline__ float round_away(float t) {
	float r = __builtin_truncf(t);
	if (golem_fabsf(t - r) >= 0.5f) r += t < 0.0f ? -1.0f : 1.0f;
	return r;
}

static __device__ __forceinline__ int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// quantize one block of 32 values as ggml's reference quantizers do
// (backend/quant): Q8_0 34 bytes, Q4_0 18 bytes.
static __device__ __forceinline__ void quant_q8_0(const float* v, uint8_t* b) {
	float amax = 0.0f;
	for (int j = 0; j < 32; j++) amax = golem_fmaxf(amax, golem_fabsf(v[j]));
	float d = amax / 127.0f;
	float id = d != 0.0f ? 1.0f / d : 0.0f;
	uint16_t h = golem_f32_to_f16(d);
	b[0] = (uint8_t)h, b[1] = (uint8_t)(h >> 8);
	for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)clampi((int)round_away(golem_fmul_rn(v[j], id)), -128, 127);
}

static __device__ __forceinline__ void quant_q4_0(const float* v, uint8_t* b) {
	float amax = 0.0f, mx = 0.0f;
	for (int j = 0; j < 32; j++) {
		if (amax < golem_fabsf(v[j])) amax = golem_fabsf(v[j]), mx = v[j];
	}
	float d = mx / -8.0f;
	float id = d != 0.0f ? 1.0f / d : 0.0f;
	uint16_t h = golem_f32_to_f16(d);
	b[0] = (uint8_t)h, b[1] = (uint8_t)(h >> 8);
	for (int j = 0; j < 16; j++) {
		int lo = clampi((int)golem_fadd_rn(golem_fmul_rn(v[j], id), 8.5f), 0, 15);
		int hi = clampi((int)golem_fadd_rn(golem_fmul_rn(v[j + 16], id), 8.5f), 0, 15);
		b[2 + j] = (uint8_t)(lo | (hi << 4));
	}
}

// q_<src>_<q>: quantize a strided float tensor, one thread per block (n
// is the number of blocks).
#define QUANT(S, LOAD, Q, BYTES)                                                                                         \
	extern "C" __global__ void q_##S##_##Q(const void* __restrict__ src, uint8_t* __restrict__ dst, STRIDED_PARAMS) {   \
		uint64_t blk = golem_global_x();                                                                                 \
		if (blk >= n) return;                                                                                            \
		float v[32];                                                                                                     \
		for (int j = 0; j < 32; j++) v[j] = LOAD(SIDX(blk * 32 + j));                                                    \
		quant_##Q(v, dst + blk * BYTES);                                                                                 \
	}                                                                                                                    \
	GOLEM_KERNEL(q_##S##_##Q)

#define LD_F32(i) static_cast<const float*>(src)[i]
#define LD_F16(i) golem_f16_to_f32(static_cast<const uint16_t*>(src)[i])
#define LD_BF16(i) golem_bf16_to_f32(static_cast<const uint16_t*>(src)[i])
QUANT(f32, LD_F32, q8_0, 34);
QUANT(f16, LD_F16, q8_0, 34);
QUANT(bf16, LD_BF16, q8_0, 34);
QUANT(f32, LD_F32, q4_0, 18);
QUANT(f16, LD_F16, q4_0, 18);
QUANT(bf16, LD_BF16, q4_0, 18);

// concat along an axis: the output is outer blocks of [x chunk | y chunk],
// each chunk contiguous (xa = x's axis length × inner elements, ya alike).
#define CONCAT(name, T)                                                                                                      \
	extern "C" __global__ void name(const T* __restrict__ x, const T* __restrict__ y, T* __restrict__ d, uint32_t n,        \
	                                uint32_t xa, uint32_t ya) {                                                             \
		uint64_t e = golem_global_x();                                                                                      \
		if (e >= n) return;                                                                                                 \
		uint64_t o = e / (xa + ya), t = e % (xa + ya);                                                                      \
		d[e] = t < xa ? x[o * xa + t] : y[o * ya + (t - xa)];                                                               \
	}                                                                                                                       \
	GOLEM_KERNEL(name)

CONCAT(concat_32, uint32_t);
CONCAT(concat_16, uint16_t);
