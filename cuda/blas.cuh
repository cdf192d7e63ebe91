#pragma once
// Thin typed wrappers over cuBLAS strided-batched GEMM (column-major, as
// cuBLAS defines it): C_i = alpha op(A_i) op(B_i) + beta C_i, i < batch.
#include "cuda/common.cuh"

namespace drift::cuda {

inline void gemm_strided_batched(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                                 float alpha, const float* A, int64_t lda, int64_t sA, const float* B,
                                 int64_t ldb, int64_t sB, float beta, float* C, int64_t ldc, int64_t sC,
                                 int64_t batch) {
  DRIFT_CUBLAS_CHECK(cublasSgemmStridedBatched(cublas_handle(), ta, tb, int(m), int(n), int(k), &alpha, A, int(lda),
                                               sA, B, int(ldb), sB, &beta, C, int(ldc), sC, int(batch)));
}
inline void gemm_strided_batched(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                                 double alpha, const double* A, int64_t lda, int64_t sA, const double* B,
                                 int64_t ldb, int64_t sB, double beta, double* C, int64_t ldc, int64_t sC,
                                 int64_t batch) {
  DRIFT_CUBLAS_CHECK(cublasDgemmStridedBatched(cublas_handle(), ta, tb, int(m), int(n), int(k), &alpha, A, int(lda),
                                               sA, B, int(ldb), sB, &beta, C, int(ldc), sC, int(batch)));
}

}  // namespace drift::cuda
