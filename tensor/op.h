#pragma once
// The one op list. Every backend kernel table is indexed by OpKind, and
// register_backend() (tensor/backend.h) refuses, naming the op, a backend
// that misses one (tests/test_cuda_ops.cpp checks the CUDA table without a
// device). Adding an op: add it here, write its
// parameter struct below (if any), its frontend in tensor/ops_<family>.cpp
// (declared in tensor/ops.h), a kernel in each backend (tensor/cpu/<family>.cpp,
// cuda/<family>.cu) and its cases in tests/op_cases_<family>.cpp.
// See docs/ADDING_AN_OP.md.
#include <cstdint>

namespace drift {

class Tensor;

// X(name, family): family = the kernel file that implements it.
#define DRIFT_OP_LIST(X)                                               \
  /* memory / creation */                                              \
  X(Fill, copy) X(Copy, copy) X(RandUniform, random) X(RandNormal, random) \
  /* binary elementwise, broadcasting */                               \
  X(Add, elementwise) X(Sub, elementwise) X(Mul, elementwise) X(Div, elementwise) \
  X(Pow, elementwise) X(Maximum, elementwise) X(Minimum, elementwise)  \
  X(Eq, elementwise) X(Ne, elementwise) X(Lt, elementwise) X(Le, elementwise) \
  X(Gt, elementwise) X(Ge, elementwise) X(Where, elementwise)          \
  /* fused backward of an elementwise op: in = {grad, x} */            \
  X(SiluBackward, elementwise)                                         \
  /* unary elementwise */                                              \
  X(Neg, elementwise) X(Abs, elementwise) X(Sign, elementwise) X(Exp, elementwise) \
  X(Log, elementwise) X(Sqrt, elementwise) X(Rsqrt, elementwise) X(Sin, elementwise) \
  X(Cos, elementwise) X(Tanh, elementwise) X(Sigmoid, elementwise) X(Relu, elementwise) \
  X(Silu, elementwise) X(Gelu, elementwise) X(Erf, elementwise)        \
  /* unary with scalar parameters (UnaryParams) */                    \
  X(Affine, elementwise) X(PowScalar, elementwise) X(Clamp, elementwise) \
  /* reductions over the middle dim of [outer, reduce, inner] */       \
  X(Sum, reduce) X(Max, reduce) X(Min, reduce) X(ArgMax, reduce) X(ArgMin, reduce) \
  /* linear algebra */                                                 \
  X(Matmul, matmul)                                                    \
  /* convolution and resampling */                                     \
  X(Conv2d, conv) X(Conv2dBackwardInput, conv) X(Conv2dBackwardWeight, conv) \
  X(AvgPool2d, pool) X(AvgPool2dBackward, pool)                        \
  X(UpsampleNearest2d, pool) X(UpsampleNearest2dBackward, pool)        \
  /* indexing */                                                       \
  X(IndexSelect, index) X(IndexAdd, index)                             \
  /* softmax and normalisation */                                      \
  X(Softmax, softmax) X(LogSoftmax, softmax)                           \
  X(GroupNorm, norm) X(GroupNormBackward, norm) \
  /* fused attention softmax(q^T k * scale) over keys, times v */     \
  X(Attention, attention)                                              \
  /* optimizer updates, in place on lists of tensors */               \
  X(AdamStep, optim)

enum class OpKind : int {
#define DRIFT_X(name, family) name,
  DRIFT_OP_LIST(DRIFT_X)
#undef DRIFT_X
  Count
};
constexpr int kNumOps = static_cast<int>(OpKind::Count);
// Update this when the list changes: it makes an added op a deliberate act
// that shows up in review together with its kernels (as ggml does).
static_assert(kNumOps == 58, "op list changed: register the new op in every backend and update this count");

const char* op_name(OpKind op);
const char* op_family(OpKind op);

// ---- kernel parameter structs (plain data, shared by all backends) ----

struct FillParams { double value; };
// Philox4x32-10 stream keyed by `seed`, starting at 128-bit block `offset`
// (see tensor/rng.h for the exact element -> counter mapping).
struct RandParams { uint64_t seed; uint64_t offset; double a, b; };  // uniform [a,b) or normal(mean=a, std=b)
// Affine: y = a*x + b.  PowScalar: y = x^a.  Clamp: y = min(max(x, a), b).
struct UnaryParams { double a = 0, b = 0; };
// Input viewed as contiguous [outer, reduce, inner]; output [outer, inner].
struct ReduceParams { int64_t outer, reduce, inner; };
// a: [B, M, K] after op(); b: [B, K, N] after op(); out: [B, M, N] contiguous.
// Each matrix of a/b has unit stride in one of its two dims (BLAS layout);
// batch stride may be 0 (broadcast). trans_* are derived from the strides.
struct MatmulParams { int64_t batch, m, n, k; };
// How a [rows, cols] matrix with element strides (stride_r, stride_c) is
// handed to a row-major BLAS: as is (trans = false, leading dim ld = stride_r)
// or as the transpose of a row-major [cols, rows] matrix (trans = true,
// ld = stride_c). ok = false when neither works (the frontend then copies).
// Shared by the matmul frontend and every backend's Matmul kernel.
struct BlasLayout { bool ok; bool trans; int64_t ld; };
inline BlasLayout blas_layout(int64_t rows, int64_t cols, int64_t stride_r, int64_t stride_c) {
  const int64_t r1 = rows > 1 ? rows : 1, c1 = cols > 1 ? cols : 1;
  if ((cols <= 1 || stride_c == 1) && (rows <= 1 || stride_r >= c1))
    return {true, false, rows <= 1 ? c1 : stride_r};
  if ((rows <= 1 || stride_r == 1) && (cols <= 1 || stride_c >= r1))
    return {true, true, cols <= 1 ? r1 : stride_c};
  return {false, false, 0};
}
// NCHW, OIHW weights, groups = 1, dilation = 1.
struct Conv2dParams { int64_t stride_h, stride_w, pad_h, pad_w; };
// Average pooling with a k x k window and stride k (no padding);
// nearest upsampling by an integer factor (scale).
struct PoolParams { int64_t k; };
// Along dim `1` of src viewed as [outer, n, inner]; index is int64 [m].
struct IndexParams { int64_t outer, n, inner, m; };
// Softmax over the middle dim of [outer, n, inner] (contiguous).
struct SoftmaxParams { int64_t outer, n, inner; };
// GroupNorm on x [N, C, S] (S = H*W), groups G; mean and rstd are [N, G].
// LayerNorm on x [M, D] is GroupNorm with n = rows M, c = D, s = 1, groups = 1.
// silu: the SiLU after the norm is fused in (tensor/cpu/norm.cpp, cuda/norm.cu).
struct NormParams { int64_t n, c, s, groups; double eps; bool silu = false; };
// Attention over G independent problems (batch x heads), channels first as
// the U-Net's 1x1 convolutions give them:
//   q [G, d, Nq], k [G, d, Nk], v [G, dv, Nk] -> out [G, dv, Nq] (contiguous)
//   out[g, :, i] = sum_j P_ij v[g, :, j],  P_i. = softmax_j(scale * q[g, :, i] . k[g, :, j])
// (Vaswani et al. 2017, eq. 1; scale = 1/sqrt(d) there). Each [d, N] matrix
// is contiguous; s_q, s_k, s_v are the batch strides (elements) of the inputs.
// The kernels never keep the [Nq, Nk] matrix of P in a tensor: the CPU one
// works on one row block per thread, the CUDA one streams over key blocks
// with an online softmax (Milakov & Gimelshein 2018; FlashAttention, Dao et al. 2022).
struct AttentionParams { int64_t g, d, dv, nq, nk, s_q, s_k, s_v; double scale; };
// One Adam / AdamW step (Kingma & Ba 2015; Loshchilov & Hutter 2019) on
// `count` tensors, in place; for each element, in the tensors' dtype:
//   AdamW: p <- p (1 - lr wd)     Adam: g <- g + wd p      (when wd != 0)
//   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - lr/bc1 * m / (sqrt(v) / sqrt(bc2) + eps),  bc = 1 - beta^step
// The lists are all contiguous, of one dtype and device, pairwise of one shape
// (checked by ops::adam_step_). nn/optim.cpp keeps the unfused formula as
// the reference.
struct AdamStepParams {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;                               // AdamW's weight decay
  double bias_correction1, bias_correction2;    // 1 - beta1^step, 1 - beta2^step
  int64_t count;
  Tensor* const* param;
  const Tensor* const* grad;
  Tensor* const* exp_avg;
  Tensor* const* exp_avg_sq;
};

}  // namespace drift
