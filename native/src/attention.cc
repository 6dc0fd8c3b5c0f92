// Causal attention with grouped key/value heads, flash style, as fused/attention.ts's cpu kernels compute it:
// the forward walks each query row's keys with an online softmax and saves the row's log-sum-exp; the backward
// recomputes the probabilities from it. Dropout: the probability (b, h, t, s) is kept, times dropScale, when
// mix32(flat index ^ key) < threshold (kernels/dropout.ts's draw). The forward splits the query rows over the
// threads; the backward splits the (batch, kv head) pairs, each summing its dk, dv over its query heads and
// rows in order, so the sums do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "fastmath.h"
#include "kernels.h"
#include "pool.h"

namespace dumbo {
namespace {

constexpr int64_t TILE = 32;

uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

double kept(const AttentionArgs& a, int64_t i) {
  if (!a.drop) return 1;
  return mix32(static_cast<uint32_t>(i) ^ a.key) < a.threshold ? a.dropScale : 0;
}

double dot(const float* x, const float* y, int64_t n) {
  double s = 0;
  for (int64_t d = 0; d < n; d++) s += static_cast<double>(x[d]) * y[d];
  return s;
}

// The first key query i of T sees (its last is past + i).
int64_t firstKey(const AttentionArgs& a, int64_t i) {
  const int64_t past = a.S - a.T;
  return a.window > 0 ? std::max<int64_t>(0, past + i - a.window + 1) : 0;
}

}  // namespace

void attentionForward(const AttentionArgs& a, const float* q, const float* k, const float* v, float* out, float* lse) {
  const int64_t hs = a.hs, rep = a.nh / a.nkv, past = a.S - a.T;
  parallelFor(a.B * a.nh * a.T, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(hs), scores(TILE);
    for (int64_t row = begin; row < end; row++) {
      const int64_t i = row % a.T, bh = row / a.T, b = bh / a.nh, h = bh % a.nh;
      const int64_t kv = (b * a.nkv + h / rep) * a.S * hs;
      const float* qr = q + row * hs;
      const int64_t lo = firstKey(a, i), hi = past + i;
      double m = -INFINITY, l = 0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j0 = lo; j0 <= hi; j0 += TILE) {
        const int64_t n = std::min(TILE, hi - j0 + 1);
        double tileMax = -INFINITY;
        for (int64_t t = 0; t < n; t++) {
          // as fused/attention.ts: the scores kept as float32, the tile's max taken before rounding
          const double s = a.scale * dot(qr, k + kv + (j0 + t) * hs, hs);
          scores[t] = static_cast<float>(s);
          tileMax = std::max(tileMax, s);
        }
        if (tileMax > m) {
          const double c = std::exp(m - tileMax);
          l *= c;
          for (int64_t e = 0; e < hs; e++) acc[e] *= c;
          m = tileMax;
        }
        for (int64_t t = 0; t < n; t++) {
          const double p = fastExp(static_cast<float>(scores[t] - m));
          l += p;
          const double zp = p * kept(a, row * a.S + j0 + t);
          if (zp == 0) continue;
          const float* vr = v + kv + (j0 + t) * hs;
          for (int64_t e = 0; e < hs; e++) acc[e] += zp * vr[e];
        }
      }
      for (int64_t e = 0; e < hs; e++) out[row * hs + e] = static_cast<float>(acc[e] / l);
      lse[row] = static_cast<float>(m + std::log(l));
    }
  });
}

void attentionBackward(const AttentionArgs& a, const float* dy, const float* q, const float* k, const float* v,
                       const float* out, const float* lse, float* dq, float* dk, float* dv) {
  const int64_t hs = a.hs, rep = a.nh / a.nkv, past = a.S - a.T;
  std::fill(dk, dk + a.B * a.nkv * a.S * hs, 0.0f);
  std::fill(dv, dv + a.B * a.nkv * a.S * hs, 0.0f);
  parallelFor(a.B * a.nkv, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> dqRow(hs);
    for (int64_t group = begin; group < end; group++) {
      const int64_t b = group / a.nkv, g = group % a.nkv;
      const int64_t kv = group * a.S * hs;
      for (int64_t h = g * rep; h < (g + 1) * rep; h++) {
        for (int64_t i = 0; i < a.T; i++) {
          const int64_t row = (b * a.nh + h) * a.T + i;
          const float* qr = q + row * hs;
          const float* dr = dy + row * hs;
          const double D = dot(dr, out + row * hs, hs);
          const double L = lse[row];
          std::fill(dqRow.begin(), dqRow.end(), 0.0);
          for (int64_t j = firstKey(a, i); j <= past + i; j++) {
            const float* kr = k + kv + j * hs;
            const float* vr = v + kv + j * hs;
            const double p = fastExp(static_cast<float>(a.scale * dot(qr, kr, hs) - L));
            const double z = kept(a, row * a.S + j);
            const double ds = p * (z * dot(dr, vr, hs) - D) * a.scale;
            const double zp = z * p;
            float* dkr = dk + kv + j * hs;
            float* dvr = dv + kv + j * hs;
            for (int64_t e = 0; e < hs; e++) {
              dvr[e] = static_cast<float>(dvr[e] + zp * dr[e]);
              dkr[e] = static_cast<float>(dkr[e] + ds * qr[e]);
              dqRow[e] += ds * kr[e];
            }
          }
          for (int64_t e = 0; e < hs; e++) dq[row * hs + e] = static_cast<float>(dqRow[e]);
        }
      }
    }
  });
}

}  // namespace dumbo
