// The fused linear cross-entropy: the LM head's logits a chunk of rows at a time (one BLAS product per chunk),
// never the [N, V] whole. Forward: per row the log-sum-exp and the NLL of its target. Backward: per chunk the
// logits again, g = (softmax - onehot)·dy, then grad_hidden = g·W and grad_W += gᵀ·h (BLAS, chunk after chunk:
// the same order whatever the thread count).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "fastmath.h"
#include "kernels.h"
#include "pool.h"

namespace dumbo {
namespace {

// Rows per chunk: 32 MB of logits, and at least 128 rows (the products' efficiency; 25 MB at GPT-2's vocabulary).
int64_t chunkRows(int64_t N, int64_t V) {
  return std::max<int64_t>(1, std::min<int64_t>(N, std::max<int64_t>(128, (int64_t(1) << 23) / V)));
}

// log Σ exp over one row of logits (overwritten by exp(x - max)), summed in double over four fixed lanes.
double logSumExp(float* x, int64_t V) {
  float m = -INFINITY;
  for (int64_t v = 0; v < V; v++) m = x[v] > m ? x[v] : m;
  for (int64_t v = 0; v < V; v++) x[v] = fastExp(x[v] - m);
  double s[4] = {0, 0, 0, 0};
  int64_t v = 0;
  for (; v + 4 <= V; v += 4)
    for (int j = 0; j < 4; j++) s[j] += x[v + j];
  for (; v < V; v++) s[0] += x[v];
  return m + std::log((s[0] + s[1]) + (s[2] + s[3]));
}

}  // namespace

void lceForward(const float* h, const float* w, const int32_t* t, float* stats, int64_t N, int64_t V, int64_t D) {
  const int64_t R = chunkRows(N, V);
  std::vector<float> logits(R * V);
  for (int64_t r0 = 0; r0 < N; r0 += R) {
    const int64_t rows = std::min(R, N - r0);
    gemm(false, true, rows, V, D, 1.0f, h + r0 * D, D, w, D, 0.0f, logits.data(), V);
    parallelFor(rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) {
        float* x = logits.data() + i * V;
        const float picked = x[t[r0 + i]];
        const double lse = logSumExp(x, V);
        stats[r0 + i] = static_cast<float>(lse);
        stats[N + r0 + i] = static_cast<float>(lse - picked);
      }
    });
  }
}

void lceBackward(const float* h, const float* w, const int32_t* t, const float* stats, const float* dy, float* gh,
                 float* gw, int64_t N, int64_t V, int64_t D) {
  const int64_t R = chunkRows(N, V);
  std::vector<float> g(R * V);
  for (int64_t r0 = 0; r0 < N; r0 += R) {
    const int64_t rows = std::min(R, N - r0);
    gemm(false, true, rows, V, D, 1.0f, h + r0 * D, D, w, D, 0.0f, g.data(), V);
    parallelFor(rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) {
        float* x = g.data() + i * V;
        const float lse = stats[r0 + i], d = dy[r0 + i];
        for (int64_t v = 0; v < V; v++) x[v] = fastExp(x[v] - lse) * d;
        x[t[r0 + i]] -= d;
      }
    });
    gemm(false, false, rows, D, V, 1.0f, g.data(), V, w, D, 0.0f, gh + r0 * D, D);
    gemm(true, false, V, D, rows, 1.0f, g.data(), V, h + r0 * D, D, r0 == 0 ? 0.0f : 1.0f, gw, D);
  }
  if (N == 0) std::memset(gw, 0, sizeof(float) * V * D);
}

}  // namespace dumbo
