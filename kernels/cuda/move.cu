// Data movement: kv_write (F32, F16 and BF16 caches), copy/contiguous (strided
// sources, every float conversion, dequantization, quantization to Q8_0,
// Q4_0, Q4_K and Q6_K, same-type copies of any dtype) and concat. One thread per
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
KV_WRITE(kv_write_bf16, uint16_t, golem_f32_to_bf16);

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

// ---------------------------------------------------------------------------
// Quantization to Q4_K and Q6_K: a port of backend/quant/k.go's encoders
// (the same search, the same float32 and float64 operations in the same
// order), one thread per 256-element super-block. The emulator gives
// backend/quant's bytes exactly; on a GPU, where clang contracts a·b + c
// into FMAs, a rounding may differ and pick a neighbouring level (the
// result stays within the op suite's tolerance). A super-block whose scale
// does not fit an f16 is reported (status: value 0 for d, 1 for dmin) and
// left as zeros.

// kq_max, kq_maxd and kq_mind are Go's max and min: NaN if either is NaN;
// max(-0, +0) = +0, min(-0, +0) = -0.
static __device__ __forceinline__ float kq_max(float a, float b) {
	if (a != a || b != b) return a + b;
	if (a == b) return __builtin_signbit(a) ? b : a;
	return a > b ? a : b;
}
static __device__ __forceinline__ double kq_maxd(double a, double b) {
	if (a != a || b != b) return a + b;
	if (a == b) return __builtin_signbit(a) ? b : a;
	return a > b ? a : b;
}
static __device__ __forceinline__ double kq_mind(double a, double b) {
	if (a != a || b != b) return a + b;
	if (a == b) return __builtin_signbit(a) ? a : b;
	return a < b ? a : b;
}

// kq_round_int rounds half away from zero and clamps to [lo, hi] (roundInt).
static __device__ __forceinline__ int kq_round_int(float v, int lo, int hi) {
	double r = __builtin_round((double)v);
	if (r < (double)lo) return lo;
	if (r > (double)hi) return hi;
	return (int)r;
}

// kq_round_up rounds t half up and clamps to [0, hi] (roundUp).
static __device__ __forceinline__ int kq_round_up(float t, int hi) {
	t = golem_fadd_rn(t, 0.5f);
	if (!(t >= 0.0f)) return 0;
	if (t > (float)hi) return hi;
	return (int)t;
}

// kq_f16_scale is the f16 of a scale, false when it does not fit.
static __device__ __forceinline__ bool kq_f16_scale(float v, uint16_t* h) {
	*h = golem_f32_to_f16(v);
	return (*h & 0x7c00u) != 0x7c00u;
}

static __device__ __forceinline__ int kq_nearest_q4(float v, float d1, float m1) {
	if (d1 == 0.0f) return 0;
	return kq_round_up((v + m1) / d1, 15);
}

static __device__ double kq_err_affine4(const float* x, float d1, float m1) {
	double e = 0.0;
	for (int l = 0; l < 32; l++) {
		float y = golem_fmul_rn(d1, (float)kq_nearest_q4(x[l], d1, m1)) - m1;
		double r = (double)y - (double)x[l];
		e += r * r;
	}
	return e;
}

// kq_fit_line is fitLine: x ≈ s*q + c over 32 points, s >= 0, c <= 0.
static __device__ void kq_fit_line(double sq, double sqq, double sqx, double sx, double sxx, double* so, double* co, double* eo) {
	const double n = 32.0;
	double s = 0.0, c = 0.0;
	double det = n * sqq - sq * sq;
	if (det > 0.0) {
		s = (n * sqx - sq * sx) / det;
		c = (sqq * sx - sq * sqx) / det;
	}
	if (det <= 0.0 || c > 0.0) {
		c = 0.0;
		if (sqq > 0.0) s = sqx / sqq;
	}
	if (s < 0.0) s = 0.0, c = kq_mind(sx / n, 0.0);
	double e = sxx + s * s * sqq + n * c * c + 2.0 * s * c * sq - 2.0 * s * sqx - 2.0 * c * sx;
	*so = s, *co = c, *eo = kq_maxd(e, 0.0);
}

struct KqAffine {
	double best_err, best_s, best_c;
};

static __device__ void kq_try_affine(const float* x, double sx, double sxx, double lo, double step, KqAffine* st) {
	if (!(step > 0.0)) return;
	double inv = 1.0 / step, sq = 0.0, sqq = 0.0, sqx = 0.0;
	for (int l = 0; l < 32; l++) {
		double t = ((double)x[l] - lo) * inv + 0.5;
		if (t < 0.0) {
			t = 0.0;
		} else if (t > 15.0) {
			t = 15.0;
		}
		double q = (double)(int)t;
		sq += q;
		sqq += q * q;
		sqx += q * (double)x[l];
	}
	double s, c, e;
	kq_fit_line(sq, sqq, sqx, sx, sxx, &s, &c, &e);
	if (e < st->best_err) st->best_err = e, st->best_s = s, st->best_c = c;
}

// kq_fit_affine4 is fitAffine4: s >= 0 and m >= 0 with x ≈ s*q - m.
static __device__ void kq_fit_affine4(const float* x, float* so, float* mo) {
	double xmin = x[0], xmax = x[0], sx = 0.0, sxx = 0.0;
	for (int l = 0; l < 32; l++) {
		xmin = kq_mind(xmin, (double)x[l]);
		xmax = kq_maxd(xmax, (double)x[l]);
		sx += (double)x[l];
		sxx += (double)x[l] * (double)x[l];
	}
	xmin = kq_mind(xmin, 0.0);
	if (xmax <= xmin) {
		*so = 0.0f, *mo = (float)-xmin;
		return;
	}
	double rng = xmax - xmin;
	KqAffine st{__builtin_inf(), 0.0, 0.0};
	for (int a = 0; a < 6; a++) {
		for (int b = 0; b < 6; b++) {
			double lo = xmin + rng * 0.02 * (double)a;
			double hi = xmax - rng * 0.02 * (double)b;
			kq_try_affine(x, sx, sxx, lo, (hi - lo) / 15.0, &st);
		}
	}
	for (int it = 0; it < 3; it++) {
		double prev = st.best_err;
		kq_try_affine(x, sx, sxx, st.best_c, st.best_s, &st);
		if (st.best_err >= prev) break;
	}
	*so = (float)st.best_s, *mo = (float)-st.best_c;
}

// kq_quant_q4_k is quantQ4K for one super-block; it returns -1, or 0 (d)
// or 1 (dmin) when that scale does not fit an f16 (the block is then zeros).
static __device__ int kq_quant_q4_k(const float* x, uint8_t* b) {
	float scales[8], mins[8], maxs = 0.0f, maxm = 0.0f;
	for (int j = 0; j < 8; j++) {
		kq_fit_affine4(x + 32 * j, &scales[j], &mins[j]);
		maxs = kq_max(maxs, scales[j]);
		maxm = kq_max(maxm, mins[j]);
	}
	for (int i = 0; i < 144; i++) b[i] = 0;
	uint16_t hd, hm;
	if (!kq_f16_scale(maxs / 63.0f, &hd)) return 0;
	if (!kq_f16_scale(maxm / 63.0f, &hm)) return 1;
	float d = golem_f16_to_f32(hd), dmin = golem_f16_to_f32(hm);
	uint8_t sc[8], mn[8];
	for (int j = 0; j < 8; j++) {
		const float* xs = x + 32 * j;
		int s0 = 0, m0 = 0;
		if (d > 0.0f) s0 = kq_round_int(scales[j] / d, 0, 63);
		if (dmin > 0.0f) m0 = kq_round_int(mins[j] / dmin, 0, 63);
		double best = __builtin_inf();
		sc[j] = 0, mn[j] = 0;
		for (int ds = -1; ds <= 1; ds++) {
			for (int dm = -1; dm <= 1; dm++) {
				int sv = s0 + ds, mv = m0 + dm;
				if (sv < 0 || sv > 63 || mv < 0 || mv > 63 || (ds != 0 && d == 0.0f) || (dm != 0 && dmin == 0.0f)) continue;
				double e = kq_err_affine4(xs, golem_fmul_rn(d, (float)sv), golem_fmul_rn(dmin, (float)mv));
				if (e < best) best = e, sc[j] = (uint8_t)sv, mn[j] = (uint8_t)mv;
			}
		}
	}
	b[0] = (uint8_t)hd, b[1] = (uint8_t)(hd >> 8), b[2] = (uint8_t)hm, b[3] = (uint8_t)(hm >> 8);
	for (int j = 0; j < 4; j++) {
		b[4 + j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
		b[4 + j + 4] = (uint8_t)((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
		b[4 + j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
	}
	for (int c = 0; c < 4; c++) {
		float d1 = golem_fmul_rn(d, (float)sc[2 * c]), m1 = golem_fmul_rn(dmin, (float)mn[2 * c]);
		float d2 = golem_fmul_rn(d, (float)sc[2 * c + 1]), m2 = golem_fmul_rn(dmin, (float)mn[2 * c + 1]);
		for (int l = 0; l < 32; l++) {
			int lo = kq_nearest_q4(x[64 * c + l], d1, m1), hi = kq_nearest_q4(x[64 * c + 32 + l], d2, m2);
			b[16 + 32 * c + l] = (uint8_t)(lo | (hi << 4));
		}
	}
	return -1;
}

static __device__ __forceinline__ int kq_nearest_q6(float v, float ds) {
	if (ds == 0.0f) return 0;
	return kq_round_up(v / ds + 32.0f, 63) - 32;
}

static __device__ double kq_err_scale6(const float* x, float ds) {
	double e = 0.0;
	for (int l = 0; l < 16; l++) {
		double r = (double)golem_fmul_rn(ds, (float)kq_nearest_q6(x[l], ds)) - (double)x[l];
		e += r * r;
	}
	return e;
}

static __device__ void kq_try_scale6(const float* x, double sxx, double s, double* best_err, double* best_s) {
	double inv = 1.0 / s, sqx = 0.0, sqq = 0.0;
	for (int l = 0; l < 16; l++) {
		double t = (double)x[l] * inv + 32.5;
		if (t < 0.0) {
			t = 0.0;
		} else if (t > 63.0) {
			t = 63.0;
		}
		double q = (double)((int)t - 32);
		sqx += q * (double)x[l];
		sqq += q * q;
	}
	if (sqq == 0.0) return;
	double e = sxx - sqx * sqx / sqq;
	if (e < *best_err) *best_err = e, *best_s = sqx / sqq;
}

// kq_fit_scale6 is fitScale6: a signed s with x ≈ s*q, q in -32..31.
static __device__ float kq_fit_scale6(const float* x) {
	float amax = 0.0f, mx = 0.0f;
	for (int l = 0; l < 16; l++) {
		float a = golem_fabsf(x[l]);
		if (a > amax) amax = a, mx = x[l];
	}
	if (amax == 0.0f) return 0.0f;
	double sxx = 0.0;
	for (int l = 0; l < 16; l++) sxx += (double)x[l] * (double)x[l];
	double best_err = __builtin_inf(), best_s = 0.0;
	for (int k = 0; k < 16; k++) {
		double t = 0.25 * (double)k;
		kq_try_scale6(x, sxx, (double)mx / (-32.0 + t), &best_err, &best_s);
		kq_try_scale6(x, sxx, (double)mx / (31.0 - t), &best_err, &best_s);
	}
	for (int it = 0; it < 3; it++) {
		double prev = best_err;
		kq_try_scale6(x, sxx, best_s, &best_err, &best_s);
		if (best_err >= prev) break;
	}
	return (float)best_s;
}

// kq_quant_q6_k is quantQ6K for one super-block (returns as kq_quant_q4_k).
static __device__ int kq_quant_q6_k(const float* x, uint8_t* b) {
	float scales[16], smax = 0.0f;
	for (int j = 0; j < 16; j++) {
		scales[j] = kq_fit_scale6(x + 16 * j);
		if (golem_fabsf(scales[j]) > golem_fabsf(smax)) smax = scales[j];
	}
	for (int i = 0; i < 210; i++) b[i] = 0;
	uint16_t hd;
	if (!kq_f16_scale(smax / -128.0f, &hd)) return 0;
	float d = golem_f16_to_f32(hd);
	int8_t sc[16];
	uint8_t qs[256];
	for (int j = 0; j < 16; j++) {
		const float* xs = x + 16 * j;
		sc[j] = 0;
		if (d != 0.0f) {
			int s0 = kq_round_int(scales[j] / d, -128, 127);
			double best = __builtin_inf();
			for (int sv = s0 - 1 < -128 ? -128 : s0 - 1; sv <= (s0 + 1 > 127 ? 127 : s0 + 1); sv++) {
				double e = kq_err_scale6(xs, golem_fmul_rn(d, (float)sv));
				if (e < best) best = e, sc[j] = (int8_t)sv;
			}
		}
		float ds = golem_fmul_rn(d, (float)sc[j]);
		for (int l = 0; l < 16; l++) qs[16 * j + l] = (uint8_t)(kq_nearest_q6(xs[l], ds) + 32);
	}
	for (int h = 0; h < 2; h++) {
		for (int l = 0; l < 32; l++) {
			uint8_t q1 = qs[128 * h + l], q2 = qs[128 * h + l + 32], q3 = qs[128 * h + l + 64], q4 = qs[128 * h + l + 96];
			b[64 * h + l] = (uint8_t)((q1 & 15) | ((q3 & 15) << 4));
			b[64 * h + l + 32] = (uint8_t)((q2 & 15) | ((q4 & 15) << 4));
			b[128 + 32 * h + l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
		}
	}
	for (int j = 0; j < 16; j++) b[192 + j] = (uint8_t)sc[j];
	b[208] = (uint8_t)hd, b[209] = (uint8_t)(hd >> 8);
	return -1;
}

// qk_<src>_<q>: quantize a strided float tensor to a k-quant, one thread
// per super-block (n is the number of super-blocks).
#define QUANT_K(S, LOAD, Q, BYTES)                                                                                            \
	extern "C" __global__ void q_##S##_##Q(const void* __restrict__ src, uint8_t* __restrict__ dst, uint32_t* status,        \
	                                       uint32_t slot, STRIDED_PARAMS) {                                                   \
		uint64_t blk = golem_global_x();                                                                                      \
		if (blk >= n) return;                                                                                                 \
		float v[256];                                                                                                         \
		for (int j = 0; j < 256; j++) v[j] = LOAD(SIDX(blk * 256 + j));                                                       \
		int bad = kq_quant_##Q(v, dst + blk * BYTES);                                                                         \
		if (bad >= 0) golem_report_error(status, slot, bad, (uint32_t)blk);                                                   \
	}                                                                                                                         \
	GOLEM_KERNEL(q_##S##_##Q)

QUANT_K(f32, LD_F32, q4_k, 144);
QUANT_K(f16, LD_F16, q4_k, 144);
QUANT_K(bf16, LD_BF16, q4_k, 144);
QUANT_K(f32, LD_F32, q6_k, 210);
QUANT_K(f16, LD_F16, q6_k, 210);
QUANT_K(bf16, LD_BF16, q6_k, 210);

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
