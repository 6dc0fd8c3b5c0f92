// Batched matmul as tfjs's BatchMatMul computes it (batch b reads A[b % batchA] and B[b % batchB]). Each product
// above SMALL multiply-adds goes to the BLAS, which threads it; smaller ones (attention's per-head products) are
// many: the pool takes one batch entry per task, each computed by one plain loop.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace dumbo {
namespace {

constexpr int64_t SMALL = int64_t(1) << 20;

// One small product: c [M, N] = op(a) · op(b), k ascending for every element.
void smallProduct(const float* a, const float* b, float* c, int64_t M, int64_t N, int64_t K, bool transA, bool transB,
                  std::vector<float>& row) {
  row.resize(K);
  for (int64_t i = 0; i < M; i++) {
    const float* ai = a + i * K;
    if (transA) {
      for (int64_t k = 0; k < K; k++) row[k] = a[k * M + i];
      ai = row.data();
    }
    float* ci = c + i * N;
    if (transB) {
      for (int64_t j = 0; j < N; j++) {
        const float* bj = b + j * K;
        float s = 0;
        for (int64_t k = 0; k < K; k++) s += ai[k] * bj[k];
        ci[j] = s;
      }
    } else {
      std::fill(ci, ci + N, 0.0f);
      for (int64_t k = 0; k < K; k++) {
        const float x = ai[k];
        const float* bk = b + k * N;
        for (int64_t j = 0; j < N; j++) ci[j] += x * bk[j];
      }
    }
  }
}

}  // namespace

void matmul(const float* a, const float* b, float* c, int64_t batch, int64_t batchA, int64_t batchB, int64_t M,
            int64_t N, int64_t K, bool transA, bool transB) {
  const int64_t sa = M * K, sb = K * N, sc = M * N;
  if (K == 0) {
    std::memset(c, 0, sizeof(float) * batch * sc);
    return;
  }
  if (batch > 1 && M * N * K < SMALL) {
    parallelFor(batch, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> row;
      for (int64_t bi = begin; bi < end; bi++)
        smallProduct(a + (bi % batchA) * sa, b + (bi % batchB) * sb, c + bi * sc, M, N, K, transA, transB, row);
    });
    return;
  }
  const int64_t lda = transA ? M : K, ldb = transB ? K : N;
  for (int64_t bi = 0; bi < batch; bi++)
    gemm(transA, transB, M, N, K, 1.0f, a + (bi % batchA) * sa, lda, b + (bi % batchB) * sb, ldb, 0.0f, c + bi * sc, N);
}

}  // namespace dumbo
