// LayerNorm and RMSNorm over the last axis, forward and backward, as fused/norms.ts's cpu kernels compute them
// (sums in double). Rows are independent (one thread each); the weight and bias gradients sum over rows in
// blocks of BLOCK rows, each block's partial sum by one thread, the blocks then added in order.
#include <cmath>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace dumbo {
namespace {
constexpr int64_t BLOCK = 32;
}

void normForward(bool centered, const float* x, const float* w, const float* b, float* y, float* stats, int64_t rows,
                 int64_t cols, double eps) {
  const int k = centered ? 2 : 1;
  parallelFor(rows, 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* xr = x + r * cols;
      double mean = 0;
      if (centered) {
        for (int64_t c = 0; c < cols; c++) mean += xr[c];
        mean /= cols;
      }
      double q = 0;
      for (int64_t c = 0; c < cols; c++) q += (xr[c] - mean) * (xr[c] - mean);
      const double rstd = 1 / std::sqrt(q / cols + eps);
      for (int64_t c = 0; c < cols; c++) y[r * cols + c] = (xr[c] - mean) * rstd * w[c] + (b ? b[c] : 0.0);
      if (centered) stats[r * k] = static_cast<float>(mean);
      stats[r * k + k - 1] = static_cast<float>(rstd);
    }
  });
}

void normBackward(bool centered, const float* dy, const float* x, const float* w, const float* stats, float* dx,
                  float* dw, float* db, int64_t rows, int64_t cols) {
  const int k = centered ? 2 : 1;
  const int64_t blocks = (rows + BLOCK - 1) / BLOCK;
  std::vector<double> pw(blocks * cols, 0.0), pb(centered ? blocks * cols : 0, 0.0);
  parallelFor(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; blk++) {
      double* bw = pw.data() + blk * cols;
      double* bb = centered ? pb.data() + blk * cols : nullptr;
      for (int64_t r = blk * BLOCK; r < std::min(rows, (blk + 1) * BLOCK); r++) {
        const float* xr = x + r * cols;
        const float* dr = dy + r * cols;
        const double mean = centered ? stats[r * k] : 0.0;
        const double rstd = stats[r * k + k - 1];
        double sg = 0, sgx = 0;
        for (int64_t c = 0; c < cols; c++) {
          const double g = static_cast<double>(dr[c]) * w[c];
          const double xh = (xr[c] - mean) * rstd;
          sg += g;
          sgx += g * xh;
          bw[c] += dr[c] * xh;
          if (bb) bb[c] += dr[c];
        }
        const double mg = centered ? sg / cols : 0.0;
        const double mgx = sgx / cols;
        for (int64_t c = 0; c < cols; c++) {
          const double xh = (xr[c] - mean) * rstd;
          dx[r * cols + c] = static_cast<float>(rstd * (static_cast<double>(dr[c]) * w[c] - mg - xh * mgx));
        }
      }
    }
  });
  for (int64_t c = 0; c < cols; c++) {
    double sw = 0, sb = 0;
    for (int64_t blk = 0; blk < blocks; blk++) {
      sw += pw[blk * cols + c];
      if (centered) sb += pb[blk * cols + c];
    }
    dw[c] = static_cast<float>(sw);
    if (db) db[c] = static_cast<float>(sb);
  }
}

}  // namespace dumbo
