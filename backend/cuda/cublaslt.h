// cublaslt.h: cuBLASLt's matmul as a launch of a golem program, with the
// library dlopened when present (libcublasLt.so.13, then .so.12) and its
// entry points declared here by their C ABI (no CUDA toolkit headers), as
// shim.h does for the driver.
#ifndef GOLEM_CUBLASLT_H
#define GOLEM_CUBLASLT_H

#include <stddef.h>
#include <stdint.h>

#include "shim.h"

// golem_cublaslt is the loaded library and a handle.
typedef struct golem_cublaslt golem_cublaslt;

// golem_cublaslt_open loads the first of the NULL-terminated names that
// loads and has every entry point, and creates a handle (in the current
// context); on failure it returns NULL and writes why into err.
golem_cublaslt *golem_cublaslt_open(const char *const *names, CUcontext ctx, char *err, size_t errlen);
void golem_cublaslt_close(golem_cublaslt *lt);

// golem_cublaslt_plan is one matmul: D [M, N] f32 = X [M, K] · Wᵀ with W
// [N, K] and X (rows of ldx elements) both f16 or both bf16, f32
// accumulation, through the algorithm cuBLASLt's heuristic picked for a
// workspace of at most workspace bytes.
typedef struct golem_cublaslt_plan golem_cublaslt_plan;

// golem_cublaslt_plan_create makes a plan (bf16: BF16 inputs, else F16);
// 0 on success, else a cuBLAS status with the failing call in err.
int golem_cublaslt_plan_create(golem_cublaslt *lt, int bf16, uint64_t m, uint64_t n, uint64_t k, uint64_t ldx, size_t workspace,
                               golem_cublaslt_plan **out, char *err, size_t errlen);
void golem_cublaslt_plan_destroy(golem_cublaslt_plan *p);

// golem_cublaslt_run is a golem_cu_call: arg is a plan, params[0..3]
// point at the device pointers of W, X, D and a scratch region, params[4]
// at the workspace's byte offset in that region (a uint32_t).
CUresult golem_cublaslt_run(void *arg, void **params, CUstream s, const char **failed);

#endif
