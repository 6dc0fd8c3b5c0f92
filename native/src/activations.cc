// GPT-2's gelu_new and SiLU, plain and gated (SwiGLU, GeGLU), forward and backward, elementwise: the formulas of
// fused/activations.ts's cpu kernels.
#include "fastmath.h"
#include "kernels.h"
#include "pool.h"

namespace dumbo {
namespace {

// In float, tanh and the sigmoid through fastExp (vectorizable): within 1e-6 of the double formulas.
constexpr float C = 0.7978845608028654f;  // √(2/π)

inline float gelu(float a) { return 0.5f * a * (1.0f + fastTanh(C * (a + 0.044715f * a * a * a))); }
inline float geluGrad(float a) {
  const float t = fastTanh(C * (a + 0.044715f * a * a * a));
  return 0.5f * (1.0f + t) + 0.5f * a * (1.0f - t * t) * C * (1.0f + 3.0f * 0.044715f * a * a);
}
inline float silu(float a) { return a / (1.0f + fastExp(-a)); }
inline float siluGrad(float a) {
  const float s = 1.0f / (1.0f + fastExp(-a));
  return s * (1.0f + a * (1.0f - s));
}

constexpr int64_t GRAIN = 4096;

}  // namespace

void activationForward(Activation kind, const float* x, const float* up, float* out, int64_t n) {
  parallelFor(n, GRAIN, [&](int64_t begin, int64_t end) {
    // One loop per case, without branches inside: each vectorizes.
    if (kind == GELU_NEW && up) {
      for (int64_t i = begin; i < end; i++) out[i] = gelu(x[i]) * up[i];
    } else if (kind == GELU_NEW) {
      for (int64_t i = begin; i < end; i++) out[i] = gelu(x[i]);
    } else if (up) {
      for (int64_t i = begin; i < end; i++) out[i] = silu(x[i]) * up[i];
    } else {
      for (int64_t i = begin; i < end; i++) out[i] = silu(x[i]);
    }
  });
}

void activationBackward(Activation kind, const float* dy, const float* x, const float* up, float* dx, float* dup,
                        int64_t n) {
  parallelFor(n, GRAIN, [&](int64_t begin, int64_t end) {
    if (kind == GELU_NEW && up) {
      for (int64_t i = begin; i < end; i++) {
        dx[i] = dy[i] * up[i] * geluGrad(x[i]);
        dup[i] = dy[i] * gelu(x[i]);
      }
    } else if (kind == GELU_NEW) {
      for (int64_t i = begin; i < end; i++) dx[i] = dy[i] * geluGrad(x[i]);
    } else if (up) {
      for (int64_t i = begin; i < end; i++) {
        dx[i] = dy[i] * up[i] * siluGrad(x[i]);
        dup[i] = dy[i] * silu(x[i]);
      }
    } else {
      for (int64_t i = begin; i < end; i++) dx[i] = dy[i] * siluGrad(x[i]);
    }
  });
}

}  // namespace dumbo
