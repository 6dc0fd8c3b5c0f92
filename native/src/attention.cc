// Causal attention with grouped key/value heads, as fused/attention.ts's cpu kernels compute it, with each head's
// products through the BLAS: the forward forms the head's scores S = scale·q·kᵀ ([T, S], one head at a time,
// never the [B, heads, T, S] whole), softmaxes each row over the keys it sees and saves the row's
// log-sum-exp; the backward recomputes P = exp(S - lse) and takes dv = (Z∘P)ᵀ·dO, dP = dO·vᵀ,
// dS = P∘(Z∘dP - D)·scale with D = rowsum(dO∘O), dq = dS·k, dk = dSᵀ·q. Dropout: the probability (b, h, t, s) is
// kept, times dropScale (Z), when mix32(flat index ^ key) < threshold (kernels/dropout.ts's draw). The forward
// splits the (batch, head) pairs over the threads, the backward the (batch, kv head) pairs, each summing its
// dk, dv over its query heads in order; every product is one single-threaded BLAS call: the same bits whatever
// the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "blas.h"
#include "fastmath.h"
#include "kernels.h"
#include "pool.h"

namespace dumbo {
namespace {

uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

float kept(const AttentionArgs& a, int64_t i) {
  if (!a.drop) return 1;
  return mix32(static_cast<uint32_t>(i) ^ a.key) < a.threshold ? static_cast<float>(a.dropScale) : 0.0f;
}

// The keys query i of T sees: [first, last].
int64_t firstKey(const AttentionArgs& a, int64_t i) {
  const int64_t past = a.S - a.T;
  return a.window > 0 ? std::max<int64_t>(0, past + i - a.window + 1) : 0;
}

// scores [T, S] = scale · q_h [T, hs] · k_g [S, hs]ᵀ.
void scores(const AttentionArgs& a, const float* qh, const float* kg, float* s) {
  blasGemm(false, true, a.T, a.S, a.hs, static_cast<float>(a.scale), qh, a.hs, kg, a.hs, 0.0f, s, a.S);
}

}  // namespace

void attentionForward(const AttentionArgs& a, const float* q, const float* k, const float* v, float* out, float* lse) {
  const int64_t T = a.T, S = a.S, hs = a.hs, rep = a.nh / a.nkv, past = S - T;
  parallelFor(a.B * a.nh, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> p(T * S);
    std::vector<double> norm(T);
    for (int64_t bh = begin; bh < end; bh++) {
      const int64_t b = bh / a.nh, h = bh % a.nh;
      const float* kg = k + (b * a.nkv + h / rep) * S * hs;
      const float* vg = v + (b * a.nkv + h / rep) * S * hs;
      scores(a, q + bh * T * hs, kg, p.data());
      for (int64_t i = 0; i < T; i++) {
        float* row = p.data() + i * S;
        const int64_t lo = firstKey(a, i), hi = past + i;
        float m = -INFINITY;
        for (int64_t j = lo; j <= hi; j++) m = row[j] > m ? row[j] : m;
        double l = 0;
        const int64_t at = (bh * T + i) * S;  // the row's flat index in [B, nh, T, S]
        for (int64_t j = 0; j < S; j++) {
          if (j < lo || j > hi) {
            row[j] = 0;
            continue;
          }
          const float e = fastExp(row[j] - m);
          l += e;  // the normalizer sums every probability; the output only the kept ones, scaled
          row[j] = e * kept(a, at + j);
        }
        norm[i] = l;
        lse[bh * T + i] = static_cast<float>(m + std::log(l));
      }
      float* o = out + bh * T * hs;
      blasGemm(false, false, T, hs, S, 1.0f, p.data(), S, vg, hs, 0.0f, o, hs);
      for (int64_t i = 0; i < T; i++)
        for (int64_t e = 0; e < hs; e++) o[i * hs + e] = static_cast<float>(o[i * hs + e] / norm[i]);
    }
  });
}

void attentionBackward(const AttentionArgs& a, const float* dy, const float* q, const float* k, const float* v,
                       const float* out, const float* lse, float* dq, float* dk, float* dv) {
  const int64_t T = a.T, S = a.S, hs = a.hs, rep = a.nh / a.nkv, past = S - T;
  parallelFor(a.B * a.nkv, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> p(T * S), zp(T * S), ds(T * S);
    for (int64_t group = begin; group < end; group++) {
      const int64_t b = group / a.nkv, g = group % a.nkv;
      const float* kg = k + group * S * hs;
      const float* vg = v + group * S * hs;
      float* dkg = dk + group * S * hs;
      float* dvg = dv + group * S * hs;
      for (int64_t h = g * rep; h < (g + 1) * rep; h++) {
        const int64_t bh = b * a.nh + h;
        const float* qh = q + bh * T * hs;
        const float* dyh = dy + bh * T * hs;
        scores(a, qh, kg, p.data());
        // dP = dO · vᵀ, into ds
        blasGemm(false, true, T, S, hs, 1.0f, dyh, hs, vg, hs, 0.0f, ds.data(), S);
        for (int64_t i = 0; i < T; i++) {
          const int64_t lo = firstKey(a, i), hi = past + i, at = (bh * T + i) * S;
          double D = 0;
          for (int64_t e = 0; e < hs; e++) D += static_cast<double>(dyh[i * hs + e]) * out[(bh * T + i) * hs + e];
          const float L = lse[bh * T + i];
          float* pr = p.data() + i * S;
          float* zr = zp.data() + i * S;
          float* dr = ds.data() + i * S;
          for (int64_t j = 0; j < S; j++) {
            if (j < lo || j > hi) {
              zr[j] = dr[j] = 0;
              continue;
            }
            const float pj = fastExp(pr[j] - L), z = kept(a, at + j);
            zr[j] = z * pj;
            dr[j] = static_cast<float>(pj * (z * dr[j] - D) * a.scale);
          }
        }
        const float first = h == g * rep ? 0.0f : 1.0f;  // dk, dv: the group's first head writes, the rest add
        blasGemm(true, false, S, hs, T, 1.0f, zp.data(), S, dyh, hs, first, dvg, hs);
        blasGemm(false, false, T, hs, S, 1.0f, ds.data(), S, kg, hs, 0.0f, dq + bh * T * hs, hs);
        blasGemm(true, false, S, hs, T, 1.0f, ds.data(), S, qh, hs, first, dkg, hs);
      }
    }
  });
}

}  // namespace dumbo
