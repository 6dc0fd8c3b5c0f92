// Products through the BLAS, threaded by the pool: the larger of the output's rows and columns is cut into
// slices (sized by the shape alone), each one single-threaded cblas_sgemm call, so each output element is computed the same way
// whatever the thread count (OpenBLAS's own threading rounds differently for 1 and 2 threads). Batched matmul as
// tfjs's BatchMatMul computes it (batch b reads A[b % batchA] and B[b % batchB]): each product of SMALL
// multiply-adds or more through `gemm`; smaller ones (attention's per-head products) are many, and the pool
// takes one batch entry per task, each computed by one plain loop.
#include <algorithm>
#include <cstring>
#include <vector>

#include "blas.h"
#include "kernels.h"
#include "pool.h"

namespace dumbo {
namespace {

constexpr int64_t SMALL = int64_t(1) << 20;
constexpr int64_t PART = 64;
constexpr int64_t TASK = int64_t(1) << 22;

// One small product: c [M, N] = op(a) · op(b), k ascending for every element, as rows of c accumulated over k
// (vectorized over N; a transposed b is copied to [K, N] first, a transposed a read by column).
void smallProduct(const float* a, const float* b, float* c, int64_t M, int64_t N, int64_t K, bool transA, bool transB,
                  std::vector<float>& scratch) {
  if (transB) {
    scratch.resize(K * N);
    for (int64_t j = 0; j < N; j++)
      for (int64_t k = 0; k < K; k++) scratch[k * N + j] = b[j * K + k];
    b = scratch.data();
  }
  for (int64_t i = 0; i < M; i++) {
    float* ci = c + i * N;
    std::fill(ci, ci + N, 0.0f);
    for (int64_t k = 0; k < K; k++) {
      const float x = transA ? a[k * M + i] : a[i * K + k];
      const float* bk = b + k * N;
      for (int64_t j = 0; j < N; j++) ci[j] += x * bk[j];
    }
  }
}

}  // namespace

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const bool byRows = M >= N;
  // Slices of at least PART rows (columns) and about TASK multiply-adds, wider where each call would pack a large
  // other operand (K x N floats) again: a function of the shape alone.
  const int64_t perLine = std::max<int64_t>(1, (byRows ? N : M) * K);
  const int64_t lines = std::max(TASK / perLine, perLine >> 14);
  const int64_t dim = byRows ? M : N;
  const auto roundUp = [](int64_t n) { return (n + PART - 1) / PART * PART; };
  // ... and at least four slices where the dimension allows (so that the pool has work for its threads).
  const int64_t part = std::max(PART, std::min(roundUp(lines), roundUp((dim + 3) / 4)));
  const int64_t parts = (dim + part - 1) / part;
  parallelFor(parts, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; p++) {
      const int64_t at = p * part, n = std::min(part, dim - at);
      if (byRows) {  // rows at..at+n of op(A) and C
        blasGemm(transA, transB, n, N, K, alpha, transA ? a + at : a + at * lda, lda, b, ldb, beta, c + at * ldc, ldc);
      } else {  // columns at..at+n of op(B) and C
        blasGemm(transA, transB, M, n, K, alpha, a, lda, transB ? b + at * ldb : b + at, ldb, beta, c + at, ldc);
      }
    }
  });
}

void matmul(const float* a, const float* b, float* c, int64_t batch, int64_t batchA, int64_t batchB, int64_t M,
            int64_t N, int64_t K, bool transA, bool transB) {
  const int64_t sa = M * K, sb = K * N, sc = M * N;
  if (K == 0) {
    std::memset(c, 0, sizeof(float) * batch * sc);
    return;
  }
  if (batch > 1 && M * N * K < SMALL) {
    parallelFor(batch, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch;
      for (int64_t bi = begin; bi < end; bi++)
        smallProduct(a + (bi % batchA) * sa, b + (bi % batchB) * sb, c + bi * sc, M, N, K, transA, transB, scratch);
    });
    return;
  }
  const int64_t lda = transA ? M : K, ldb = transB ? K : N;
  for (int64_t bi = 0; bi < batch; bi++)
    gemm(transA, transB, M, N, K, 1.0f, a + (bi % batchA) * sa, lda, b + (bi % batchB) * sb, ldb, 0.0f, c + bi * sc, N);
}

}  // namespace dumbo
