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

// float32 GEMM with AVX-512 (tensor/cpu/sgemm_avx512.cpp), single-threaded:
//   C[M, N] = op(A) @ op(B)  (+ C when accumulate).
// fast_sgemm_available() is false when not compiled for AVX-512; fast_sgemm
// then forwards to OpenBLAS.
bool fast_sgemm_available();
void fast_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const float* B, int64_t ldb, bool accumulate, float* C, int64_t ldc);
// The same split over the OpenMP threads by blocks of 48 columns of C (each
// thread runs fast_sgemm on its block). Call it outside a parallel region.
void fast_sgemm_threaded(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                         const float* B, int64_t ldb, bool accumulate, float* C, int64_t ldc);

}  // namespace drift::cpu
