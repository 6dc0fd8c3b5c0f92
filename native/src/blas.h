// Which BLAS the addon was built with (binding.gyp defines one of DUMBO_OPENBLAS, DUMBO_ACCELERATE), behind
// these functions so the kernels include no BLAS header themselves.
#pragma once
#include <cstdint>

namespace dumbo {
// The BLAS's name and configuration, for the backend report.
const char* blasName();
// Threads the BLAS may use (a no-op where it cannot be set: Accelerate).
void blasSetThreads(int n);
// One cblas_sgemm call (row-major): C = alpha · op(A) · op(B) + beta · C.
void blasGemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
}  // namespace dumbo
