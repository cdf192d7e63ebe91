#pragma once
// Typed row-major GEMM over OpenBLAS, shared by the matmul and conv kernels:
//   C[M, N] = alpha * op(A)[M, K] @ op(B)[K, N] + beta * C
// where op(X) = X^T when trans_x. lda/ldb/ldc are row strides in elements.
#include <cblas.h>

#include <cstdint>

namespace drift::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

template <>
inline void gemm<float>(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                        int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}

template <>
inline void gemm<double>(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                         int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}

// float32 GEMM for the active ISA level (tensor/cpu/sgemm.cpp):
//   C[M, N] = op(A) @ op(B)  (+ C when accumulate).
// avx2 / avx512: drift's GEMM (gemm_kernel.h); generic: OpenBLAS. With
// `parallel` (and outside a parallel region) the work is split over the
// threads by blocks of C, never over k: the same bits on any thread count.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
           int64_t ldb, bool accumulate, float* C, int64_t ldc, bool parallel);

}  // namespace drift::cpu
