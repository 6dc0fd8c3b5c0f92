// The BLAS: OpenBLAS (Linux, Windows) or Accelerate (macOS), chosen by binding.gyp.
#include "blas.h"

#include <cstdint>

#if defined(DUMBO_ACCELERATE)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

namespace dumbo {

const char* blasName() {
#if defined(DUMBO_ACCELERATE)
  return "Accelerate";
#else
  return openblas_get_config();
#endif
}

void blasSetThreads(int n) {
#if defined(DUMBO_OPENBLAS)
  openblas_set_num_threads(n);
#else
  (void)n;
#endif
}

void blasGemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

}  // namespace dumbo
