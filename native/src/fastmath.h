// expf without a libm call, branch-free so that loops over it vectorize (SSE2 and up): Cephes' polynomial on
// x - n·ln2, |x - n·ln2| <= ln2/2, then 2^n built in the exponent bits. Relative error below 2e-7 over the
// float range; below -87.3 it returns 0 (as expf underflows), above 88.3 exp(88.3).
#pragma once
#include <cstdint>
#include <cstring>

namespace dumbo {

inline float fastExp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  // n = round(x / ln2) by the 1.5·2^23 trick (round to nearest in the default mode).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x <= -87.3f ? 0.0f : p * scale;
}

// tanh as 1 - 2/(1 + e^2x), and near 0, where that form cancels, its Taylor series to x⁷ (|x| < 0.1: error
// below 1e-10): within 3e-7 of tanh, relative, everywhere; branch-free.
inline float fastTanh(float x) {
  const float x2 = x * x;
  const float series = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.053968254f)));
  const float viaExp = 1.0f - 2.0f / (1.0f + fastExp(2.0f * x));
  return x2 < 0.01f ? series : viaExp;
}

}  // namespace dumbo
