#pragma once
// Entry points of the ISA-specific float32 kernels (tensor/cpu/avx2/*.cpp,
// tensor/cpu/avx512/*.cpp), declared once per level. Plain declarations: the
// portable code includes this and calls them only when active_isa() allows
// (see tensor/cpu/isa.h); non-x86 builds neither compile nor call them.
#include <cstdint>

#include "tensor/cpu/conv_common.h"
#include "tensor/cpu/isa.h"

namespace drift::cpu {
// GroupNorm's shape and settings (tensor/op.h's NormParams, without the op
// header): x [n, c, s] in `groups` groups; silu fuses the SiLU that follows.
struct GroupNormShape {
  int64_t n, c, s, groups;
  double eps;
  bool silu;
};
}  // namespace drift::cpu

#define DRIFT_DECLARE_ISA_KERNELS(ns)                                                                         \
  namespace drift::cpu::ns {                                                                                  \
  /* C[M, N] = op(A) @ op(B) (+ C when accumulate); split over output blocks when parallel (gemm_kernel.h) */ \
  void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,       \
             const float* B, int64_t ldb, bool accumulate, float* C, int64_t ldc, bool parallel);           \
  /* float32 convolutions (conv_fast.h); shapes as in conv_common.h */                                       \
  void conv2d_forward(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g);       \
  /* the two forward methods conv2d_forward chooses between (use_winograd in conv_fast.h), for tests and */  \
  /* benchmarks: GEMM (im2col or shifted windows), and Winograd F(2x2, 3x3) (3x3 stride 1 only) */          \
  void conv2d_forward_gemm(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g);  \
  void conv2d_forward_winograd(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g); \
  void conv2d_backward_input(const float* dy, const float* w, float* dx, const ConvGeom& g);                 \
  void conv2d_backward_weight(const float* dy, const float* x, float* dw, const ConvGeom& g);                \
  /* its two methods, as for the forward pass */                                                             \
  void conv2d_backward_weight_gemm(const float* dy, const float* x, float* dw, const ConvGeom& g);           \
  void conv2d_backward_weight_winograd(const float* dy, const float* x, float* dw, const ConvGeom& g);       \
  /* float32 GroupNorm (+ SiLU) forward and backward (norm_impl.h; w, b, dw, db may be null) */               \
  void group_norm_forward_f32(const float* x, const float* w, const float* b, float* y, float* mean,         \
                              float* rstd, const GroupNormShape& p);                                          \
  void group_norm_backward_f32(const float* dy, const float* x, const float* mean, const float* rstd,        \
                               const float* w, const float* b, float* dx, float* dw, float* db,              \
                               const GroupNormShape& p);                                                      \
  /* RandUniform's float32 batches [q0, q1) of 64 values (random_impl.h) */                                    \
  void uniform_f32_batches(float* out, int64_t n, uint64_t seed, uint64_t offset, double a, double scale,     \
                           int64_t q0, int64_t q1);                                                           \
  }

DRIFT_DECLARE_ISA_KERNELS(avx2)
DRIFT_DECLARE_ISA_KERNELS(avx512)
