// The addon's kernels, plain C++ over float arrays (row-major), called by addon.cc. Every kernel gives the same
// bits whatever the thread count: work is split so that each output element (or each fixed block of rows of a
// sum) is computed by one thread in a fixed order, and partial sums are added in block order.
#pragma once
#include <cstdint>

namespace dumbo {

// C[b] = op(A[b % batchA]) · op(B[b % batchB]) for b < batch: A [M, K] (or [K, M] transposed), B [K, N] (or
// [N, K]), C [M, N]. Large products through the BLAS (cblas_sgemm), small batched ones on the thread pool.
void matmul(const float* a, const float* b, float* c, int64_t batch, int64_t batchA, int64_t batchB, int64_t M,
            int64_t N, int64_t K, bool transA, bool transB);

// C = alpha · op(A) · op(B) + beta · C through the BLAS, with leading dimensions (row-major), on the pool.
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Linear cross-entropy, chunked over rows so that only [chunk, V] logits exist. stats [2, N]: lse; nll.
void lceForward(const float* h, const float* w, const int32_t* t, float* stats, int64_t N, int64_t V, int64_t D);
// gh [N, D], gw [V, D] under upstream dy [N], from the forward's lse (stats row 0).
void lceBackward(const float* h, const float* w, const int32_t* t, const float* stats, const float* dy, float* gh,
                 float* gw, int64_t N, int64_t V, int64_t D);

// LayerNorm (centered, with bias) or RMSNorm over the last axis; stats per row: (mean, rstd) or (rstd).
void normForward(bool centered, const float* x, const float* w, const float* b, float* y, float* stats, int64_t rows,
                 int64_t cols, double eps);
// dx, dw and (centered) db; db may be null.
void normBackward(bool centered, const float* dy, const float* x, const float* w, const float* stats, float* dx,
                  float* dw, float* db, int64_t rows, int64_t cols);

enum Activation { GELU_NEW = 0, SILU = 1 };
// out = f(x), or f(gate)·up when up is not null.
void activationForward(Activation kind, const float* x, const float* up, float* out, int64_t n);
// Plain: dx = dy·f'(x). Gated: dgate = dy·up·f'(gate), dup = dy·f(gate).
void activationBackward(Activation kind, const float* dy, const float* x, const float* up, float* dx, float* dup,
                        int64_t n);

struct AttentionArgs {
  int64_t B, nh, nkv, T, S, hs;
  double scale;
  int64_t window;  // 0: every earlier key
  bool drop;
  uint32_t key, threshold;
  double dropScale;
};
// out (B, nh, T, hs), lse (B, nh, T) of causal attention of q over k, v (B, nkv, S, hs).
void attentionForward(const AttentionArgs& a, const float* q, const float* k, const float* v, float* out, float* lse);
void attentionBackward(const AttentionArgs& a, const float* dy, const float* q, const float* k, const float* v,
                       const float* out, const float* lse, float* dq, float* dk, float* dv);

struct AdamWArgs {
  float lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, bc1, bc2, eps, gradScale, decay;
};
// One AdamW update, each operation rounded to float32 in the tfjs composition's order.
void adamw(const AdamWArgs& a, const float* p, const float* g, const float* m, const float* v, float* p2, float* m2,
           float* v2, int64_t n);

// dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ i·srcStrides] for every index i of shape (Slice, PadV2's
// interior, Transpose, broadcasts).
void stridedCopy(const float* src, int64_t srcOffset, const int64_t* srcStrides, float* dst, int64_t dstOffset,
                 const int64_t* dstStrides, const int64_t* shape, int rank);
void fill(float* dst, float value, int64_t n);

enum BinaryOp { ADD = 0, SUB = 1, MUL = 2, DIV = 3, POW = 4 };
// out (contiguous, of shape) = a op b, a and b read through strides (0 on a broadcast axis).
void binary(BinaryOp op, const float* a, const int64_t* aStrides, const float* b, const int64_t* bStrides, float* out,
            const int64_t* shape, int rank);
enum UnaryOp { EXP = 0, TANH = 1, SQRT = 2, SQUARE = 3 };
void unary(UnaryOp op, const float* x, float* out, int64_t n);
// Softmax over the last axis: exp(x - max) / sum, per row.
void softmax(const float* x, float* out, int64_t rows, int64_t cols);
// out[o, i] = Σ_m x[o, m, i]: a sum over a block of consecutive axes (x viewed as [outer, mid, inner]).
void reduceSum(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner);
// The same blocks' max (the first value, then each greater one, as tfjs-cpu).
void reduceMax(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner);

}  // namespace dumbo
