// Row-wise kernels on F32 data: rms_norm, layer_norm, softmax and argmax
// (one block per row, block reductions), rope (one thread per element) and
// get_rows (one thread per output element, every table dtype). Row kernels
// take the row as blockIdx.y·gridDim.x + blockIdx.x and check it.
#include "golem.cuh"
#include "common.cuh"
#include "quant.cuh"

#define ROW() ((uint64_t)blockIdx.y * gridDim.x + blockIdx.x)

// norm: d = (x − mean)/sqrt(mean((x − mean)²) + eps) per row, mean = 0 for
// rms_norm (with_mean 0).
static __device__ __forceinline__ void norm_row(const float* __restrict__ x, float* __restrict__ d, uint32_t cols, uint32_t rows, float eps,
                                                bool with_mean, const float* __restrict__ w = nullptr) {
	GOLEM_SHARED(float[32], red);
	uint64_t row = ROW();
	if (row >= rows) return;
	const float* xr = x + row * cols;
	float* dr = d + row * cols;
	float mean = 0.0f;
	if (with_mean) {
		float s = 0.0f;
		for (uint32_t j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j];
		mean = golem_block_sum(s, red) / (float)cols;
	}
	float ss = 0.0f;
	for (uint32_t j = threadIdx.x; j < cols; j += blockDim.x) {
		float v = xr[j] - mean;
		ss += v * v;
	}
	float inv = 1.0f / golem_sqrtf(golem_block_sum(ss, red) / (float)cols + eps);
	for (uint32_t j = threadIdx.x; j < cols; j += blockDim.x) dr[j] = w ? (xr[j] - mean) * inv * w[j] : (xr[j] - mean) * inv;
}

extern "C" __global__ void rms_norm_f32(const float* x, float* d, uint32_t cols, uint32_t rows, float eps) {
	norm_row(x, d, cols, rows, eps, false);
}
GOLEM_KERNEL(rms_norm_f32);

// rms_norm_mul (fused): d = rms_norm(x) ⊙ w, w [cols].
extern "C" __global__ void rms_norm_mul_f32(const float* x, const float* w, float* d, uint32_t cols, uint32_t rows, float eps) {
	norm_row(x, d, cols, rows, eps, false, w);
}
GOLEM_KERNEL(rms_norm_mul_f32);

extern "C" __global__ void layer_norm_f32(const float* x, float* d, uint32_t cols, uint32_t rows, float eps) {
	norm_row(x, d, cols, rows, eps, true);
}
GOLEM_KERNEL(layer_norm_f32);

// softmax(scale·x + mask) over each row. Causal: query row i (of sq) sees
// keys j ≤ i + cols − sq. A row with nothing visible is all zeros. flags:
// 1 causal, 2 mask ([sq, cols], row r uses mask row r mod sq).
extern "C" __global__ void softmax_f32(const float* __restrict__ x, const float* __restrict__ mask, float* __restrict__ d, uint32_t cols,
                                       uint32_t sq, uint32_t rows, float scale, uint32_t flags) {
	GOLEM_SHARED(float[32], red);
	uint64_t row = ROW();
	if (row >= rows) return;
	uint32_t i = (uint32_t)(row % sq);
	const float* xr = x + row * cols;
	const float* mr = mask + (uint64_t)i * cols;
	float* dr = d + row * cols;
	int64_t last = (int64_t)i + cols - sq;  // causal: the last visible key
	auto logit = [&](uint32_t j) -> float {
		if ((flags & 1u) && (int64_t)j > last) return GOLEM_NEG_INF;
		float l = scale * xr[j];
		if (flags & 2u) l += mr[j];
		return l;
	};
	float mx = GOLEM_NEG_INF;
	for (uint32_t j = threadIdx.x; j < cols; j += blockDim.x) mx = golem_fmaxf(mx, logit(j));
	mx = golem_block_max(mx, red);
	if (mx == GOLEM_NEG_INF) {
		for (uint32_t j = threadIdx.x; j < cols; j += blockDim.x) dr[j] = 0.0f;
		return;
	}
	float sum = 0.0f;
	for (uint32_t j = threadIdx.x; j < cols; j += blockDim.x) sum += golem_expf(logit(j) - mx);
	float inv = 1.0f / golem_block_sum(sum, red);
	for (uint32_t j = threadIdx.x; j < cols; j += blockDim.x) dr[j] = golem_expf(logit(j) - mx) * inv;
}
GOLEM_KERNEL(softmax_f32);

// argmax of each row: the first index of the largest value (I32).
extern "C" __global__ void argmax_f32(const float* __restrict__ x, int32_t* __restrict__ d, uint32_t cols, uint32_t rows) {
	GOLEM_SHARED(float[32], bv);
	GOLEM_SHARED(uint32_t[32], bi);
	uint64_t row = ROW();
	if (row >= rows) return;
	const float* xr = x + row * cols;
	float best = GOLEM_NEG_INF;
	uint32_t at = 0xffffffffu;
	for (uint32_t j = threadIdx.x; j < cols; j += blockDim.x) {
		float v = xr[j];
		if (at == 0xffffffffu || v > best) best = v, at = j;
	}
	// better(v, i, w, k): (w, k) wins over (v, i).
	auto better = [](float v, uint32_t i, float w, uint32_t k) {
		return k != 0xffffffffu && (i == 0xffffffffu || w > v || (w == v && k < i));
	};
	for (int o = 16; o > 0; o /= 2) {
		float w = __shfl_xor_sync(0xffffffffu, best, o);
		uint32_t k = __shfl_xor_sync(0xffffffffu, at, o);
		if (better(best, at, w, k)) best = w, at = k;
	}
	if (golem_lane() == 0) bv[threadIdx.x / 32] = best, bi[threadIdx.x / 32] = at;
	__syncthreads();
	if (threadIdx.x == 0) {
		for (uint32_t w = 1; w < blockDim.x / 32; w++) {
			if (better(best, at, bv[w], bi[w])) best = bv[w], at = bi[w];
		}
		d[row] = (int32_t)at;
	}
}
GOLEM_KERNEL(argmax_f32);

// rope: rotary position embedding of x [B, S, H, D], one thread per
// element. freq[i] is FreqScale·Theta^(−2i/dims) (float64 on the host);
// ff, when has_ff, divides it (Llama 3 frequency factors).
// rope_value is element k of one head's row xr rotated by angle pos·f
// for the pair k belongs to (elements past dims stay as they are).
static __device__ __forceinline__ float rope_value(const float* xr, uint32_t k, int32_t p, const float* freq, const float* ff, uint32_t dims,
                                                   uint32_t neox, uint32_t has_ff) {
	if (k >= dims) return xr[k];
	uint32_t hd = dims / 2, i, k0, k1;
	if (neox) {
		i = k < hd ? k : k - hd;
		k0 = i;
		k1 = i + hd;
	} else {
		i = k >> 1;
		k0 = 2 * i;
		k1 = k0 + 1;
	}
	float f = freq[i];
	if (has_ff) f = f / ff[i];
	float sn, c;
	golem_sincosf(golem_fmul_rn((float)p, f), &sn, &c);
	float x0 = xr[k0], x1 = xr[k1];
	return k == k0 ? x0 * c - x1 * sn : x0 * sn + x1 * c;
}

extern "C" __global__ void rope_f32(const float* __restrict__ x, const int32_t* __restrict__ pos, const float* __restrict__ ff,
                                    float* __restrict__ d, const float* __restrict__ freq, uint32_t n, uint32_t head_dim, uint32_t heads,
                                    uint32_t seq, uint32_t dims, uint32_t neox, uint32_t has_ff) {
	uint64_t e = golem_global_x();
	if (e >= n) return;
	uint32_t k = (uint32_t)(e % head_dim);
	uint64_t row = e / head_dim;
	uint32_t s = (uint32_t)((row / heads) % seq);
	d[e] = rope_value(x + row * head_dim, k, pos[s], freq, ff, dims, neox, has_ff);
}
GOLEM_KERNEL(rope_f32);

// rope_kv_write (fused): cache[pos[r]] = rope(x[r]) for each row r of x
// [S, H, D], one block per row, as rope then kv_write: positions outside
// [0, ctx) are reported and skipped, and of rows with one position the
// last wins.
#define ROPE_KV_WRITE(name, T, CONV)                                                                                                 \
	extern "C" __global__ void name(T* __restrict__ cache, const float* __restrict__ x, const int32_t* __restrict__ pos,             \
	                                const float* __restrict__ ff, const float* __restrict__ freq, uint32_t* status, uint32_t head_dim,  \
	                                uint32_t heads, uint32_t rows, uint32_t ctx, uint32_t dims, uint32_t neox, uint32_t has_ff,       \
	                                uint32_t slot) {                                                                                 \
		uint32_t r = blockIdx.x;                                                                                                     \
		if (r >= rows) return;                                                                                                       \
		int32_t p = pos[r];                                                                                                          \
		if (p < 0 || (uint32_t)p >= ctx) {                                                                                           \
			if (threadIdx.x == 0) golem_report_error(status, slot, p, r);                                                            \
			return;                                                                                                                  \
		}                                                                                                                            \
		int later = 0;                                                                                                               \
		for (uint32_t r2 = r + 1 + threadIdx.x; r2 < rows; r2 += blockDim.x) later |= pos[r2] == p;                                  \
		if (__syncthreads_or(later)) return;                                                                                         \
		uint64_t len = (uint64_t)heads * head_dim;                                                                                   \
		const float* xr = x + (uint64_t)r * len;                                                                                     \
		T* c = cache + (uint64_t)p * len;                                                                                            \
		for (uint32_t e = threadIdx.x; e < len; e += blockDim.x) {                                                                   \
			c[e] = CONV(rope_value(xr + (e / head_dim) * head_dim, e % head_dim, p, freq, ff, dims, neox, has_ff));                  \
		}                                                                                                                            \
	}                                                                                                                                \
	GOLEM_KERNEL(name)

#define ROPE_AS_F32(v) (v)
ROPE_KV_WRITE(rope_kv_write_f32, float, ROPE_AS_F32);
ROPE_KV_WRITE(rope_kv_write_f16, uint16_t, golem_f32_to_f16);
ROPE_KV_WRITE(rope_kv_write_bf16, uint16_t, golem_f32_to_bf16);

// get_rows: d[r, :] = table[ids[r], :] as F32, one thread per output
// element. An id outside [0, rows) gives a zero row and is reported in the
// status region (slot).
#define GET_ROWS(T)                                                                                                                   \
	extern "C" __global__ void get_rows_##T(const uint8_t* __restrict__ table, const int32_t* __restrict__ ids, float* __restrict__ d, \
	                                        uint32_t* status, uint32_t cols, uint32_t row_bytes, uint32_t n, uint32_t rows,           \
	                                        uint32_t slot) {                                                                          \
		uint64_t e = golem_global_x();                                                                                                \
		if (e >= n) return;                                                                                                           \
		uint64_t r = e / cols;                                                                                                        \
		uint32_t j = (uint32_t)(e % cols);                                                                                            \
		int32_t id = ids[r];                                                                                                          \
		if (id < 0 || (uint32_t)id >= rows) {                                                                                         \
			d[e] = 0.0f;                                                                                                              \
			if (j == 0) golem_report_error(status, slot, id, (uint32_t)r);                                                            \
			return;                                                                                                                   \
		}                                                                                                                             \
		d[e] = dq_##T(table + (uint64_t)id * row_bytes, j);                                                                           \
	}                                                                                                                                 \
	GOLEM_KERNEL(get_rows_##T)

GET_ROWS(f32);
GET_ROWS(f16);
GET_ROWS(bf16);
GET_ROWS(q8_0);
GET_ROWS(q4_0);
GET_ROWS(q4_k);
GET_ROWS(q6_k);
