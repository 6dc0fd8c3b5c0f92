// One AdamW update in float32, each operation rounded as the tfjs composition's tensors are (the build turns
// off FMA contraction), so the result is bit-identical to fused/adamw.ts's cpu kernel and to the default.
#include <cmath>

#include "kernels.h"
#include "pool.h"

namespace dumbo {

void adamw(const AdamWArgs& a, const float* p, const float* g, const float* m, const float* v, float* p2, float* m2,
           float* v2, int64_t n) {
  parallelFor(n, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      const float gi = a.gradScale == 1.0f ? g[i] : g[i] * a.gradScale;
      const float mi = m[i] * a.beta1 + gi * a.oneMinusBeta1;
      const float vi = v[i] * a.beta2 + (gi * gi) * a.oneMinusBeta2;
      const float update = ((mi / a.bc1) / (std::sqrt(vi / a.bc2) + a.eps)) * a.lr;
      m2[i] = mi;
      v2[i] = vi;
      p2[i] = p[i] * a.decay - update;
    }
  });
}

}  // namespace dumbo
