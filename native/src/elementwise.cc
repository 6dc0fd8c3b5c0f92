// tfjs-cpu's heaviest memory-bound kernels on large float32 tensors, for native-cpu (the logits of a plain LM
// head are [tokens, vocabulary]): strided copies (Slice, PadV2, Transpose, broadcasts), the four arithmetic
// ops with numpy broadcasting, exp and softmax over the last axis. Each output element is computed by one
// thread, as tfjs computes it (one float32 operation; softmax in its order: max, exp(x - max), sum, divide).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "fastmath.h"
#include "kernels.h"
#include "pool.h"

namespace dumbo {
namespace {

constexpr int64_t GRAIN = 1 << 14;

// Calls f(row, srcOffset, dstOffset) for rows begin..end-1 of shape[0..rank-2] (row-major), the offsets by two
// stride sets (the last axis is f's to walk).
template <typename F>
void forEachRow(int rank, const int64_t* shape, const int64_t* srcStrides, const int64_t* dstStrides, int64_t begin,
                int64_t end, F f) {
  std::vector<int64_t> idx(std::max(rank - 1, 0));
  int64_t rest = begin;
  int64_t so = 0, dO = 0;
  for (int d = rank - 2; d >= 0; d--) {
    idx[d] = rest % shape[d];
    rest /= shape[d];
    so += idx[d] * srcStrides[d];
    dO += idx[d] * dstStrides[d];
  }
  for (int64_t row = begin; row < end; row++) {
    f(row, so, dO);
    for (int d = rank - 2; d >= 0; d--) {  // next index, odometer style
      idx[d]++;
      so += srcStrides[d];
      dO += dstStrides[d];
      if (idx[d] < shape[d]) break;
      so -= idx[d] * srcStrides[d];
      dO -= idx[d] * dstStrides[d];
      idx[d] = 0;
    }
  }
}

int64_t rowsOf(int rank, const int64_t* shape) {
  int64_t rows = 1;
  for (int d = 0; d + 1 < rank; d++) rows *= shape[d];
  return rows;
}

}  // namespace

void stridedCopy(const float* src, int64_t srcOffset, const int64_t* srcStrides, float* dst, int64_t dstOffset,
                 const int64_t* dstStrides, const int64_t* shape, int rank) {
  if (rank == 0) {
    dst[dstOffset] = src[srcOffset];
    return;
  }
  const int64_t cols = shape[rank - 1], ss = srcStrides[rank - 1], ds = dstStrides[rank - 1];
  const int64_t rows = rowsOf(rank, shape);
  parallelFor(rows, std::max<int64_t>(1, GRAIN / std::max<int64_t>(1, cols)), [&](int64_t begin, int64_t end) {
    forEachRow(rank, shape, srcStrides, dstStrides, begin, end, [&](int64_t, int64_t so, int64_t dO) {
      const float* s = src + srcOffset + so;
      float* d = dst + dstOffset + dO;
      if (ss == 1 && ds == 1) {
        std::memcpy(d, s, sizeof(float) * cols);
      } else {
        for (int64_t c = 0; c < cols; c++) d[c * ds] = s[c * ss];
      }
    });
  });
}

void fill(float* dst, float value, int64_t n) {
  parallelFor(n, GRAIN, [&](int64_t begin, int64_t end) { std::fill(dst + begin, dst + end, value); });
}

namespace {
template <typename Op>
void binaryRows(const float* a, const int64_t* as, const float* b, const int64_t* bs, float* out, const int64_t* shape,
                int rank, Op op) {
  const int64_t cols = shape[rank - 1], sa = as[rank - 1], sb = bs[rank - 1];
  const int64_t rows = rowsOf(rank, shape);
  parallelFor(rows, std::max<int64_t>(1, GRAIN / std::max<int64_t>(1, cols)), [&](int64_t begin, int64_t end) {
    forEachRow(rank, shape, as, bs, begin, end, [&](int64_t row, int64_t ao, int64_t bo) {
      const float* x = a + ao;
      const float* y = b + bo;
      float* o = out + row * cols;
      if (sa == 1 && sb == 1) {
        for (int64_t c = 0; c < cols; c++) o[c] = op(x[c], y[c]);
      } else if (sa == 1 && sb == 0) {
        const float v = y[0];
        for (int64_t c = 0; c < cols; c++) o[c] = op(x[c], v);
      } else if (sa == 0 && sb == 1) {
        const float v = x[0];
        for (int64_t c = 0; c < cols; c++) o[c] = op(v, y[c]);
      } else {
        for (int64_t c = 0; c < cols; c++) o[c] = op(x[c * sa], y[c * sb]);
      }
    });
  });
}
}  // namespace

void binary(BinaryOp op, const float* a, const int64_t* aStrides, const float* b, const int64_t* bStrides, float* out,
            const int64_t* shape, int rank) {
  if (rank == 0) {
    const int64_t one = 1, zero = 0;
    binary(op, a, &zero, b, &zero, out, &one, 1);
    return;
  }
  switch (op) {
    case ADD:
      return binaryRows(a, aStrides, b, bStrides, out, shape, rank, [](float x, float y) { return x + y; });
    case SUB:
      return binaryRows(a, aStrides, b, bStrides, out, shape, rank, [](float x, float y) { return x - y; });
    case MUL:
      return binaryRows(a, aStrides, b, bStrides, out, shape, rank, [](float x, float y) { return x * y; });
    case DIV:
      return binaryRows(a, aStrides, b, bStrides, out, shape, rank, [](float x, float y) { return x / y; });
    case POW:  // in double, as Math.pow; the squares and cubes of GELU and the variances by multiplication
      return binaryRows(a, aStrides, b, bStrides, out, shape, rank, [](float x, float y) {
        const double d = x;
        return static_cast<float>(y == 2.0f ? d * d : y == 3.0f ? d * d * d : std::pow(d, static_cast<double>(y)));
      });
  }
}

void unary(UnaryOp op, const float* x, float* out, int64_t n) {
  parallelFor(n, GRAIN, [&](int64_t begin, int64_t end) {
    switch (op) {  // one loop per op, each vectorizable
      case EXP:
        for (int64_t i = begin; i < end; i++) out[i] = fastExp(x[i]);
        break;
      case TANH:
        for (int64_t i = begin; i < end; i++) out[i] = fastTanh(x[i]);
        break;
      case SQRT:
        for (int64_t i = begin; i < end; i++) out[i] = std::sqrt(x[i]);
        break;
      case SQUARE:
        for (int64_t i = begin; i < end; i++) out[i] = x[i] * x[i];
        break;
    }
  });
}

void softmax(const float* x, float* out, int64_t rows, int64_t cols) {
  parallelFor(rows, std::max<int64_t>(1, GRAIN / std::max<int64_t>(1, cols)), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* xr = x + r * cols;
      float* o = out + r * cols;
      float m = -INFINITY;
      for (int64_t c = 0; c < cols; c++) m = xr[c] > m ? xr[c] : m;
      for (int64_t c = 0; c < cols; c++) o[c] = fastExp(xr[c] - m);
      float s = 0;
      for (int64_t c = 0; c < cols; c++) s += o[c];
      for (int64_t c = 0; c < cols; c++) o[c] = o[c] / s;
    }
  });
}

}  // namespace dumbo

namespace dumbo {

namespace {
// out[o, i] = fold over m of x[o, m, i]: the sum in double, or the max as tfjs-cpu takes it (the first value,
// then each greater one), m in order whichever thread takes the element.
template <typename Acc, typename Step>
void reduce(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner, Step step) {
  const int64_t span = inner > 1 ? std::min<int64_t>(inner, 256) : 1;
  const int64_t blocks = (inner + span - 1) / span;
  const int64_t grain = std::max<int64_t>(1, GRAIN / std::max<int64_t>(1, mid * span));
  parallelFor(outer * blocks, grain, [&](int64_t begin, int64_t end) {
    std::vector<Acc> acc(span);
    for (int64_t task = begin; task < end; task++) {
      const int64_t o = task / blocks, i0 = (task % blocks) * span, n = std::min(span, inner - i0);
      const float* first = x + o * mid * inner + i0;
      for (int64_t i = 0; i < n; i++) acc[i] = first[i];
      for (int64_t m = 1; m < mid; m++) {
        const float* row = x + (o * mid + m) * inner + i0;
        for (int64_t i = 0; i < n; i++) acc[i] = step(acc[i], row[i]);
      }
      for (int64_t i = 0; i < n; i++) out[o * inner + i0 + i] = static_cast<float>(acc[i]);
    }
  });
}
}  // namespace

void reduceSum(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner) {
  reduce<double>(x, out, outer, mid, inner, [](double a, float v) { return a + v; });
}

void reduceMax(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner) {
  // NaN wins, as in tfjs-cpu's Max.
  reduce<float>(x, out, outer, mid, inner, [](float a, float v) { return std::isnan(v) || v > a ? v : a; });
}

}  // namespace dumbo
