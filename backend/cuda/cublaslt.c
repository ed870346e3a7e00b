// cublaslt.c: see cublaslt.h. The types and enum values are those of
// cuBLASLt's documented C API (cublasLt.h, library_types.h).
#include "cublaslt.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int cublasStatus_t;  // CUBLAS_STATUS_SUCCESS = 0
typedef void *cublasLtHandle_t;
typedef void *cublasLtMatmulDesc_t;
typedef void *cublasLtMatrixLayout_t;
typedef void *cublasLtMatmulPreference_t;
typedef struct {
	uint64_t data[8];
} cublasLtMatmulAlgo_t;
typedef struct {
	cublasLtMatmulAlgo_t algo;
	size_t workspaceSize;
	cublasStatus_t state;
	float wavesCount;
	int reserved[4];
} cublasLtMatmulHeuristicResult_t;

enum {
	GOLEM_CUDA_R_32F = 0,      // cudaDataType_t
	GOLEM_CUDA_R_16F = 2,
	GOLEM_CUDA_R_16BF = 14,
	GOLEM_CUBLAS_COMPUTE_32F = 68,  // cublasComputeType_t
	GOLEM_CUBLAS_OP_N = 0,     // cublasOperation_t
	GOLEM_CUBLAS_OP_T = 1,
	GOLEM_DESC_TRANSA = 3,     // cublasLtMatmulDescAttributes_t
	GOLEM_DESC_TRANSB = 4,
	GOLEM_PREF_MAX_WORKSPACE_BYTES = 1,  // cublasLtMatmulPreferenceAttributes_t
};

#define GOLEM_LT_ENTRY_POINTS(X)                                                                                                     \
	X(cublasLtCreate, cublasStatus_t, (cublasLtHandle_t * h))                                                                        \
	X(cublasLtDestroy, cublasStatus_t, (cublasLtHandle_t h))                                                                         \
	X(cublasLtMatmulDescCreate, cublasStatus_t, (cublasLtMatmulDesc_t * d, int compute, int scale))                                 \
	X(cublasLtMatmulDescDestroy, cublasStatus_t, (cublasLtMatmulDesc_t d))                                                         \
	X(cublasLtMatmulDescSetAttribute, cublasStatus_t, (cublasLtMatmulDesc_t d, int attr, const void *buf, size_t size))            \
	X(cublasLtMatrixLayoutCreate, cublasStatus_t, (cublasLtMatrixLayout_t * l, int type, uint64_t rows, uint64_t cols, int64_t ld)) \
	X(cublasLtMatrixLayoutDestroy, cublasStatus_t, (cublasLtMatrixLayout_t l))                                                     \
	X(cublasLtMatmulPreferenceCreate, cublasStatus_t, (cublasLtMatmulPreference_t * p))                                            \
	X(cublasLtMatmulPreferenceDestroy, cublasStatus_t, (cublasLtMatmulPreference_t p))                                             \
	X(cublasLtMatmulPreferenceSetAttribute, cublasStatus_t, (cublasLtMatmulPreference_t p, int attr, const void *buf, size_t size)) \
	X(cublasLtMatmulAlgoGetHeuristic, cublasStatus_t,                                                                               \
	  (cublasLtHandle_t h, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,  \
	   cublasLtMatrixLayout_t d, cublasLtMatmulPreference_t pref, int requested, cublasLtMatmulHeuristicResult_t *results,         \
	   int *returned))                                                                                                             \
	X(cublasLtMatmul, cublasStatus_t,                                                                                               \
	  (cublasLtHandle_t h, cublasLtMatmulDesc_t op, const void *alpha, const void *a, cublasLtMatrixLayout_t ad, const void *b,     \
	   cublasLtMatrixLayout_t bd, const void *beta, const void *c, cublasLtMatrixLayout_t cd, void *d, cublasLtMatrixLayout_t dd,   \
	   const cublasLtMatmulAlgo_t *algo, void *ws, size_t wsSize, CUstream s))

#define GOLEM_LT_FIELD(name, ret, args) ret(*name) args;

struct golem_cublaslt {
	void *dl;
	cublasLtHandle_t h;
	GOLEM_LT_ENTRY_POINTS(GOLEM_LT_FIELD)
};

struct golem_cublaslt_plan {
	golem_cublaslt *lt;
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t a, b, d;
	cublasLtMatmulHeuristicResult_t algo;
	size_t workspace;
};

golem_cublaslt *golem_cublaslt_open(const char *const *names, CUcontext ctx, char *err, size_t errlen) {
	(void)ctx;
	size_t used = 0;
	err[0] = 0;
	for (int i = 0; names[i] != NULL; i++) {
		void *dl = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (dl == NULL) {
			if (used < errlen) {
				used += (size_t)snprintf(err + used, errlen - used, "%s%s not found", i > 0 ? ", " : "", names[i]);
			}
			continue;
		}
		golem_cublaslt *lt = calloc(1, sizeof *lt);
		if (lt == NULL) {
			dlclose(dl);
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		lt->dl = dl;
		const char *missing = NULL;
#define GOLEM_LT_RESOLVE(name, ret, args)                    \
	*(void **)&lt->name = dlsym(dl, #name);                  \
	if (lt->name == NULL && missing == NULL) missing = #name;
		GOLEM_LT_ENTRY_POINTS(GOLEM_LT_RESOLVE)
#undef GOLEM_LT_RESOLVE
		if (missing != NULL) {
			snprintf(err, errlen, "%s lacks %s", names[i], missing);
			dlclose(dl);
			free(lt);
			return NULL;
		}
		cublasStatus_t st = lt->cublasLtCreate(&lt->h);
		if (st != 0) {
			snprintf(err, errlen, "%s: cublasLtCreate: cuBLAS status %d", names[i], st);
			dlclose(dl);
			free(lt);
			return NULL;
		}
		return lt;
	}
	return NULL;
}

void golem_cublaslt_close(golem_cublaslt *lt) {
	if (lt == NULL) {
		return;
	}
	lt->cublasLtDestroy(lt->h);
	dlclose(lt->dl);
	free(lt);
}

void golem_cublaslt_plan_destroy(golem_cublaslt_plan *p) {
	if (p == NULL) {
		return;
	}
	golem_cublaslt *lt = p->lt;
	if (p->op != NULL) lt->cublasLtMatmulDescDestroy(p->op);
	if (p->a != NULL) lt->cublasLtMatrixLayoutDestroy(p->a);
	if (p->b != NULL) lt->cublasLtMatrixLayoutDestroy(p->b);
	if (p->d != NULL) lt->cublasLtMatrixLayoutDestroy(p->d);
	free(p);
}

// The product in cuBLASLt's column-major terms: D (N×M, ld N) = Wᵀ·X,
// where W's rows are the columns of a K×N matrix (ld K), transposed, and
// X's rows the columns of a K×M matrix (ld ldx).
int golem_cublaslt_plan_create(golem_cublaslt *lt, int bf16, uint64_t m, uint64_t n, uint64_t k, uint64_t ldx, size_t workspace,
                               golem_cublaslt_plan **out, char *err, size_t errlen) {
	golem_cublaslt_plan *p = calloc(1, sizeof *p);
	*out = NULL;
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return 3;
	}
	p->lt = lt;
	p->workspace = workspace;
	int in = bf16 ? GOLEM_CUDA_R_16BF : GOLEM_CUDA_R_16F;
	int ta = GOLEM_CUBLAS_OP_T, tb = GOLEM_CUBLAS_OP_N;
	cublasStatus_t st;
	const char *call = NULL;
#define TRY(name, expr)            \
	if ((st = (expr)) != 0) {      \
		call = name;               \
		goto fail;                 \
	}
	TRY("cublasLtMatmulDescCreate", lt->cublasLtMatmulDescCreate(&p->op, GOLEM_CUBLAS_COMPUTE_32F, GOLEM_CUDA_R_32F));
	TRY("cublasLtMatmulDescSetAttribute", lt->cublasLtMatmulDescSetAttribute(p->op, GOLEM_DESC_TRANSA, &ta, sizeof ta));
	TRY("cublasLtMatmulDescSetAttribute", lt->cublasLtMatmulDescSetAttribute(p->op, GOLEM_DESC_TRANSB, &tb, sizeof tb));
	TRY("cublasLtMatrixLayoutCreate", lt->cublasLtMatrixLayoutCreate(&p->a, in, k, n, (int64_t)k));
	TRY("cublasLtMatrixLayoutCreate", lt->cublasLtMatrixLayoutCreate(&p->b, in, k, m, (int64_t)ldx));
	TRY("cublasLtMatrixLayoutCreate", lt->cublasLtMatrixLayoutCreate(&p->d, GOLEM_CUDA_R_32F, n, m, (int64_t)n));
	cublasLtMatmulPreference_t pref = NULL;
	TRY("cublasLtMatmulPreferenceCreate", lt->cublasLtMatmulPreferenceCreate(&pref));
	uint64_t ws = workspace;
	st = lt->cublasLtMatmulPreferenceSetAttribute(pref, GOLEM_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
	int found = 0;
	if (st == 0) {
		st = lt->cublasLtMatmulAlgoGetHeuristic(lt->h, p->op, p->a, p->b, p->d, p->d, pref, 1, &p->algo, &found);
	}
	lt->cublasLtMatmulPreferenceDestroy(pref);
	if (st != 0 || found == 0) {
		call = "cublasLtMatmulAlgoGetHeuristic";
		st = st != 0 ? st : 15;  // CUBLAS_STATUS_NOT_SUPPORTED
		goto fail;
	}
	*out = p;
	return 0;
fail:
	snprintf(err, errlen, "%s: cuBLAS status %d", call, st);
	golem_cublaslt_plan_destroy(p);
	return st;
#undef TRY
}

CUresult golem_cublaslt_run(void *arg, void **params, CUstream s, const char **failed) {
	golem_cublaslt_plan *p = arg;
	golem_cublaslt *lt = p->lt;
	const float one = 1.0f, zero = 0.0f;
	CUdeviceptr w = *(CUdeviceptr *)params[0], x = *(CUdeviceptr *)params[1], d = *(CUdeviceptr *)params[2],
	            ws = *(CUdeviceptr *)params[3] + *(const uint32_t *)params[4];
	cublasStatus_t st = lt->cublasLtMatmul(lt->h, p->op, &one, (const void *)w, p->a, (const void *)x, p->b, &zero, (const void *)d, p->d,
	                                       (void *)d, p->d, &p->algo.algo, (void *)ws, p->workspace, s);
	if (st != 0) {
		*failed = "cublasLtMatmul";
		return 1;  // CUDA_ERROR_INVALID_VALUE: the call failed, the context is fine
	}
	return 0;
}
