// The N-API surface (node-addon-api): each function takes Float32Arrays (Int32Array for targets) and sizes, checks
// that every array holds what the sizes say, and writes into the output arrays the caller allocated. Typed
// wrappers and shape checks are in src/engine/native-cpu/addon.ts.
#include <napi.h>

#include <string>
#include <vector>

#include "blas.h"
#include "kernels.h"
#include "pool.h"

namespace {

using namespace dumbo;

struct Args {
  const Napi::CallbackInfo& info;

  int64_t i64(size_t i) const { return info[i].As<Napi::Number>().Int64Value(); }
  double f64(size_t i) const { return info[i].As<Napi::Number>().DoubleValue(); }
  bool flag(size_t i) const { return info[i].As<Napi::Boolean>().Value(); }

  // A Float32Array of at least n values (null or undefined allowed when optional).
  float* f32(size_t i, int64_t n, const char* name, bool optional = false) const {
    Napi::Value v = info[i];
    if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a Float32Array");
    auto a = v.As<Napi::Float32Array>();
    if (static_cast<int64_t>(a.ElementLength()) < n)
      throw Napi::RangeError::New(info.Env(), std::string(name) + ": expected " + std::to_string(n) +
                                                  " values, got " + std::to_string(a.ElementLength()));
    return a.Data();
  }

  int32_t* i32(size_t i, int64_t n, const char* name) const {
    Napi::Value v = info[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected an Int32Array");
    auto a = v.As<Napi::Int32Array>();
    if (static_cast<int64_t>(a.ElementLength()) < n)
      throw Napi::RangeError::New(info.Env(), std::string(name) + ": expected " + std::to_string(n) + " values");
    return a.Data();
  }
};

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("blas", blasName());
  o.Set("threads", threadCount());
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  setThreadCount(static_cast<int>(Args{info}.i64(0)));
  return info.Env().Undefined();
}

// (a, b, out, batch, batchA, batchB, M, N, K, transA, transB)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t batch = x.i64(3), ba = x.i64(4), bb = x.i64(5), M = x.i64(6), N = x.i64(7), K = x.i64(8);
  if (ba < 1 || bb < 1 || batch % ba != 0 || batch % bb != 0)
    throw Napi::RangeError::New(info.Env(), "matmul: the batch must be a multiple of both operands' batches");
  matmul(x.f32(0, ba * M * K, "a"), x.f32(1, bb * K * N, "b"), x.f32(2, batch * M * N, "out"), batch, ba, bb, M, N,
         K, x.flag(9), x.flag(10));
  return info.Env().Undefined();
}

// (hidden, weight, targets, stats, N, V, D)
Napi::Value LceForward(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t N = x.i64(4), V = x.i64(5), D = x.i64(6);
  const int32_t* t = x.i32(2, N, "targets");
  for (int64_t i = 0; i < N; i++)
    if (t[i] < 0 || t[i] >= V) throw Napi::RangeError::New(info.Env(), "linear_cross_entropy: a target is outside [0, V)");
  lceForward(x.f32(0, N * D, "hidden"), x.f32(1, V * D, "weight"), t, x.f32(3, 2 * N, "stats"), N, V, D);
  return info.Env().Undefined();
}

// (hidden, weight, targets, stats, dy, gradHidden, gradWeight, N, V, D)
Napi::Value LceBackward(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t N = x.i64(7), V = x.i64(8), D = x.i64(9);
  const int32_t* t = x.i32(2, N, "targets");
  for (int64_t i = 0; i < N; i++)
    if (t[i] < 0 || t[i] >= V) throw Napi::RangeError::New(info.Env(), "linear_cross_entropy: a target is outside [0, V)");
  lceBackward(x.f32(0, N * D, "hidden"), x.f32(1, V * D, "weight"), t, x.f32(3, 2 * N, "stats"),
              x.f32(4, N, "dy"), x.f32(5, N * D, "gradHidden"), x.f32(6, V * D, "gradWeight"), N, V, D);
  return info.Env().Undefined();
}

// (centered, x, weight, bias | null, y, stats, rows, cols, eps)
Napi::Value NormForward(const Napi::CallbackInfo& info) {
  Args x{info};
  const bool centered = x.flag(0);
  const int64_t rows = x.i64(6), cols = x.i64(7);
  normForward(centered, x.f32(1, rows * cols, "x"), x.f32(2, cols, "weight"), x.f32(3, cols, "bias", true),
              x.f32(4, rows * cols, "y"), x.f32(5, rows * (centered ? 2 : 1), "stats"), rows, cols, x.f64(8));
  return info.Env().Undefined();
}

// (centered, dy, x, weight, stats, dx, dw, db | null, rows, cols)
Napi::Value NormBackward(const Napi::CallbackInfo& info) {
  Args x{info};
  const bool centered = x.flag(0);
  const int64_t rows = x.i64(8), cols = x.i64(9);
  normBackward(centered, x.f32(1, rows * cols, "dy"), x.f32(2, rows * cols, "x"), x.f32(3, cols, "weight"),
               x.f32(4, rows * (centered ? 2 : 1), "stats"), x.f32(5, rows * cols, "dx"), x.f32(6, cols, "dw"),
               x.f32(7, cols, "db", true), rows, cols);
  return info.Env().Undefined();
}

Activation activationOf(const Napi::CallbackInfo& info, int64_t kind) {
  if (kind != GELU_NEW && kind != SILU) throw Napi::RangeError::New(info.Env(), "activation: unknown kind");
  return static_cast<Activation>(kind);
}

// (kind, x, up | null, out, n)
Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t n = x.i64(4);
  activationForward(activationOf(info, x.i64(0)), x.f32(1, n, "x"), x.f32(2, n, "up", true), x.f32(3, n, "out"), n);
  return info.Env().Undefined();
}

// (kind, dy, x, up | null, dx, dup | null, n)
Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t n = x.i64(6);
  const float* up = x.f32(3, n, "up", true);
  float* dup = x.f32(5, n, "dup", up == nullptr);
  activationBackward(activationOf(info, x.i64(0)), x.f32(1, n, "dy"), x.f32(2, n, "x"), up, x.f32(4, n, "dx"), dup,
                     n);
  return info.Env().Undefined();
}

// The attention sizes and attributes: (..., B, nh, nkv, T, S, hs, scale, window, drop, key, threshold, dropScale)
AttentionArgs attentionArgs(const Args& x, size_t at) {
  AttentionArgs a{x.i64(at),     x.i64(at + 1), x.i64(at + 2), x.i64(at + 3),
                  x.i64(at + 4), x.i64(at + 5), x.f64(at + 6), x.i64(at + 7),
                  x.flag(at + 8), static_cast<uint32_t>(x.i64(at + 9)), static_cast<uint32_t>(x.i64(at + 10)),
                  x.f64(at + 11)};
  if (a.nkv < 1 || a.nh % a.nkv != 0 || a.S < a.T)
    throw Napi::RangeError::New(x.info.Env(), "attention: heads must be a multiple of kv heads, and S >= T");
  return a;
}

// (q, k, v, out, lse, ...sizes)
Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  Args x{info};
  const AttentionArgs a = attentionArgs(x, 5);
  const int64_t nq = a.B * a.nh * a.T * a.hs, nk = a.B * a.nkv * a.S * a.hs;
  attentionForward(a, x.f32(0, nq, "q"), x.f32(1, nk, "k"), x.f32(2, nk, "v"), x.f32(3, nq, "out"),
                   x.f32(4, a.B * a.nh * a.T, "lse"));
  return info.Env().Undefined();
}

// (dy, q, k, v, out, lse, dq, dk, dv, ...sizes)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  Args x{info};
  const AttentionArgs a = attentionArgs(x, 9);
  const int64_t nq = a.B * a.nh * a.T * a.hs, nk = a.B * a.nkv * a.S * a.hs;
  attentionBackward(a, x.f32(0, nq, "dy"), x.f32(1, nq, "q"), x.f32(2, nk, "k"), x.f32(3, nk, "v"),
                    x.f32(4, nq, "out"), x.f32(5, a.B * a.nh * a.T, "lse"), x.f32(6, nq, "dq"), x.f32(7, nk, "dk"),
                    x.f32(8, nk, "dv"));
  return info.Env().Undefined();
}

// (p, g, m, v, p2, m2, v2, n, lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, bc1, bc2, eps, gradScale, decay)
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t n = x.i64(7);
  auto f = [&](size_t i) { return static_cast<float>(x.f64(i)); };
  const AdamWArgs a{f(8), f(9), f(10), f(11), f(12), f(13), f(14), f(15), f(16), f(17)};
  adamw(a, x.f32(0, n, "p"), x.f32(1, n, "g"), x.f32(2, n, "m"), x.f32(3, n, "v"), x.f32(4, n, "p2"),
        x.f32(5, n, "m2"), x.f32(6, n, "v2"), n);
  return info.Env().Undefined();
}

// A JS array of non-negative integers (shapes, strides).
std::vector<int64_t> dims(const Args& x, size_t i, const char* name) {
  if (!x.info[i].IsArray()) throw Napi::TypeError::New(x.info.Env(), std::string(name) + ": expected an array");
  auto a = x.info[i].As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    out[k] = a.Get(k).As<Napi::Number>().Int64Value();
    if (out[k] < 0) throw Napi::RangeError::New(x.info.Env(), std::string(name) + ": negative");
  }
  return out;
}

// One past the last element `offset + Σ (shape - 1)·strides` reaches (0 for an empty shape).
int64_t reach(int64_t offset, const std::vector<int64_t>& strides, const std::vector<int64_t>& shape) {
  int64_t last = offset;
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] == 0) return 0;
    last += (shape[d] - 1) * strides[d];
  }
  return last + 1;
}

// (src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape)
Napi::Value StridedCopy(const Napi::CallbackInfo& info) {
  Args x{info};
  const auto ss = dims(x, 2, "srcStrides"), ds = dims(x, 5, "dstStrides"), shape = dims(x, 6, "shape");
  if (ss.size() != shape.size() || ds.size() != shape.size())
    throw Napi::RangeError::New(info.Env(), "stridedCopy: strides and shape of different ranks");
  const int64_t so = x.i64(1), dO = x.i64(4);
  float* src = x.f32(0, reach(so, ss, shape), "src");
  float* dst = x.f32(3, reach(dO, ds, shape), "dst");
  if (reach(0, ss, shape) == 0) return info.Env().Undefined();
  stridedCopy(src, so, ss.data(), dst, dO, ds.data(), shape.data(), static_cast<int>(shape.size()));
  return info.Env().Undefined();
}

// (dst, value, n)
Napi::Value Fill(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t n = x.i64(2);
  fill(x.f32(0, n, "dst"), static_cast<float>(x.f64(1)), n);
  return info.Env().Undefined();
}

// (op, a, aStrides, b, bStrides, out, shape)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t op = x.i64(0);
  if (op < ADD || op > POW) throw Napi::RangeError::New(info.Env(), "binary: unknown op");
  const auto as = dims(x, 2, "aStrides"), bs = dims(x, 4, "bStrides"), shape = dims(x, 6, "shape");
  if (as.size() != shape.size() || bs.size() != shape.size())
    throw Napi::RangeError::New(info.Env(), "binary: strides and shape of different ranks");
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  float* a = x.f32(1, reach(0, as, shape), "a");
  float* b = x.f32(3, reach(0, bs, shape), "b");
  float* out = x.f32(5, n, "out");
  if (n > 0) binary(static_cast<BinaryOp>(op), a, as.data(), b, bs.data(), out, shape.data(), static_cast<int>(shape.size()));
  return info.Env().Undefined();
}

// (op, x, out, n)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t op = x.i64(0), n = x.i64(3);
  if (op < EXP || op > SQUARE) throw Napi::RangeError::New(info.Env(), "unary: unknown op");
  unary(static_cast<UnaryOp>(op), x.f32(1, n, "x"), x.f32(2, n, "out"), n);
  return info.Env().Undefined();
}

// (x, out, rows, cols)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t rows = x.i64(2), cols = x.i64(3);
  softmax(x.f32(0, rows * cols, "x"), x.f32(1, rows * cols, "out"), rows, cols);
  return info.Env().Undefined();
}

// (max, x, out, outer, mid, inner)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Args x{info};
  const int64_t outer = x.i64(3), mid = x.i64(4), inner = x.i64(5);
  if (mid < 1) throw Napi::RangeError::New(info.Env(), "reduce: nothing to reduce");
  float* in = x.f32(1, outer * mid * inner, "x");
  float* out = x.f32(2, outer * inner, "out");
  (x.flag(0) ? reduceMax : reduceSum)(in, out, outer, mid, inner);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("lceForward", Napi::Function::New(env, LceForward));
  exports.Set("lceBackward", Napi::Function::New(env, LceBackward));
  exports.Set("normForward", Napi::Function::New(env, NormForward));
  exports.Set("normBackward", Napi::Function::New(env, NormBackward));
  exports.Set("activationForward", Napi::Function::New(env, ActivationForward));
  exports.Set("activationBackward", Napi::Function::New(env, ActivationBackward));
  exports.Set("attentionForward", Napi::Function::New(env, AttentionForward));
  exports.Set("attentionBackward", Napi::Function::New(env, AttentionBackward));
  exports.Set("adamw", Napi::Function::New(env, AdamW));
  exports.Set("stridedCopy", Napi::Function::New(env, StridedCopy));
  exports.Set("fill", Napi::Function::New(env, Fill));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  return exports;
}

}  // namespace

NODE_API_MODULE(dumbo_native, Init)
