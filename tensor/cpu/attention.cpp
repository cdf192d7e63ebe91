// Fused attention on the CPU (AttentionParams, tensor/op.h):
//   Attention: in = {q [G, d, Nq], k [G, d, Nk], v [G, dv, Nk]} (each [d, N]
//              matrix contiguous, batch strides s_q, s_k, s_v), out = {o [G, dv, Nq]}
//   o[:, i] = sum_j P_ij v[:, j],  P_i. = softmax_j(scale q[:, i] . k[:, j])
//
// The work is split into fixed blocks of kRows queries of one problem g (the
// split does not depend on the thread count, so the bits do not either). Per
// block, in one thread, with the block's scores in a thread-local buffer
// [kRows, Nk] (never a tensor):
//   S = q[:, rows]^T k        GEMM (float32: cpu::sgemm, drift's kernel for the ISA level)
//   P = softmax(scale S)      row by row, max subtracted, sums in double
//   o[:, rows] = v P^T        GEMM
// It replaces matmul + mul + softmax + matmul of separate tensors (the U-Net's
// path before, kept as the reference in the op-test perf cases). The naive
// float64 reference is ref_attention in tests/op_cases_attention.cpp.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/cpu/blas.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/vecmath.h"

namespace drift::cpu {
namespace {

constexpr int64_t kRows = 64;  // queries per work block

// p[j] = exp(scale s[j] - max) / sum, in place on one row of n scores.
template <class T>
void softmax_row(T* s, int64_t n, double scale, const VecMath& vm) {
  T mx = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    s[j] = T(scale) * s[j];
    mx = std::max(mx, s[j]);
  }
  if (std::isinf(mx)) mx = 0;  // all -inf (or an inf score): no (-inf) - (-inf)
  for (int64_t j = 0; j < n; ++j) s[j] -= mx;
  if constexpr (std::is_same_v<T, float>) {
    vm.unary[static_cast<int>(VecFn::Exp)](s, s, n);
  } else {
    for (int64_t j = 0; j < n; ++j) s[j] = std::exp(s[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += s[j];
  const T inv = T(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) s[j] *= inv;
}

// C[M, N] = op(A) op(B) for one thread (no threading inside).
template <class T>
void gemm1(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
           int64_t ldc) {
  if constexpr (std::is_same_v<T, float>)
    sgemm(ta, tb, M, N, K, A, lda, B, ldb, false, C, ldc, false);
  else
    gemm<T>(ta, tb, M, N, K, T(1), A, lda, B, ldb, T(0), C, ldc);
}

template <class T>
void attention_typed(const KernelArgs& args) {
  const AttentionParams& p = args.p<AttentionParams>();
  const T* q = args.in[0]->data<T>();
  const T* k = args.in[1]->data<T>();
  const T* v = args.in[2]->data<T>();
  T* o = args.out[0]->data<T>();
  const int64_t blocks = (p.nq + kRows - 1) / kRows, units = p.g * blocks;
  const VecMath& vm = active_vecmath();
#pragma omp parallel if (units > 1 && omp_get_max_threads() > 1)
  {
    std::vector<T> s(static_cast<size_t>(std::min(kRows, p.nq) * p.nk));
#pragma omp for schedule(static)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t g = u / blocks, i0 = (u % blocks) * kRows, rows = std::min(kRows, p.nq - i0);
      const T* qg = q + g * p.s_q;
      const T* kg = k + g * p.s_k;
      const T* vg = v + g * p.s_v;
      // S [rows, Nk] = q[:, i0:i0+rows]^T k: A = q's columns (stored [d, Nq], so transposed).
      gemm1<T>(true, false, rows, p.nk, p.d, qg + i0, p.nq, kg, p.nk, s.data(), p.nk);
      for (int64_t r = 0; r < rows; ++r) softmax_row<T>(s.data() + r * p.nk, p.nk, p.scale, vm);
      // o[:, i0:i0+rows] [dv, rows] = v [dv, Nk] P^T.
      gemm1<T>(false, true, p.dv, rows, p.nk, vg, p.nk, s.data(), p.nk, o + g * p.dv * p.nq + i0, p.nq);
    }
  }
}

void attention_kernel(const KernelArgs& args) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: return attention_typed<float>(args);
    case DType::Float64: return attention_typed<double>(args);
    default: throw Error(str("attention: expected float32 or float64, got ", dtype_name(args.out[0]->dtype())));
  }
}

}  // namespace

void register_attention_kernels(Backend& b) { b.kernels[static_cast<int>(OpKind::Attention)] = attention_kernel; }

}  // namespace drift::cpu
