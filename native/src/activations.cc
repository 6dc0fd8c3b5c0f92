// GPT-2's gelu_new and SiLU, plain and gated (SwiGLU, GeGLU), forward and backward, elementwise in double as
// fused/activations.ts's cpu kernels compute them.
#include <cmath>

#include "kernels.h"
#include "pool.h"

namespace dumbo {
namespace {

const double C = std::sqrt(2 / M_PI);

double gelu(double a) { return 0.5 * a * (1 + std::tanh(C * (a + 0.044715 * a * a * a))); }
double geluGrad(double a) {
  const double t = std::tanh(C * (a + 0.044715 * a * a * a));
  return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * C * (1 + 3 * 0.044715 * a * a);
}
double silu(double a) { return a / (1 + std::exp(-a)); }
double siluGrad(double a) {
  const double s = 1 / (1 + std::exp(-a));
  return s * (1 + a * (1 - s));
}

double f(Activation kind, double a) { return kind == GELU_NEW ? gelu(a) : silu(a); }
double df(Activation kind, double a) { return kind == GELU_NEW ? geluGrad(a) : siluGrad(a); }

constexpr int64_t GRAIN = 4096;

}  // namespace

void activationForward(Activation kind, const float* x, const float* up, float* out, int64_t n) {
  parallelFor(n, GRAIN, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) out[i] = static_cast<float>(up ? f(kind, x[i]) * up[i] : f(kind, x[i]));
  });
}

void activationBackward(Activation kind, const float* dy, const float* x, const float* up, float* dx, float* dup,
                        int64_t n) {
  parallelFor(n, GRAIN, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      if (up) {
        dx[i] = static_cast<float>(static_cast<double>(dy[i]) * up[i] * df(kind, x[i]));
        dup[i] = static_cast<float>(dy[i] * f(kind, x[i]));
      } else {
        dx[i] = static_cast<float>(dy[i] * df(kind, x[i]));
      }
    }
  });
}

}  // namespace dumbo
