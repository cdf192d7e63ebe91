// fast_sgemm (tensor/cpu/blas.h): the AVX-512 GEMM of sgemm_avx512.h on
// plain row-major operands, or OpenBLAS when not compiled for AVX-512.
#include "tensor/cpu/sgemm_avx512.h"

#include <omp.h>

#include <algorithm>

#include "tensor/cpu/blas.h"

namespace drift::cpu {

#if defined(DRIFT_HAVE_AVX512_SGEMM)

bool fast_sgemm_available() { return true; }

void fast_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const float* B, int64_t ldb, bool accumulate, float* C, int64_t ldc) {
  avx512::sgemm(trans_a, M, N, K, A, lda, avx512::PackPlainB{B, ldb, trans_b}, accumulate, C, ldc);
}

#else  // no AVX-512: OpenBLAS

bool fast_sgemm_available() { return false; }

void fast_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const float* B, int64_t ldb, bool accumulate, float* C, int64_t ldc) {
  gemm<float>(trans_a, trans_b, M, N, K, 1.f, A, lda, B, ldb, accumulate ? 1.f : 0.f, C, ldc);
}

#endif

void fast_sgemm_threaded(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                         const float* B, int64_t ldb, bool accumulate, float* C, int64_t ldc) {
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t per = ((N + nt - 1) / nt + 47) / 48 * 48;  // whole 48-column strips
    const int64_t j0 = std::min(N, tid * per), j1 = std::min(N, j0 + per);
    // Columns [j0, j1) of C use columns [j0, j1) of op(B): rows of B when it is transposed.
    if (j1 > j0)
      fast_sgemm(trans_a, trans_b, M, j1 - j0, K, A, lda, trans_b ? B + j0 * ldb : B + j0, ldb, accumulate, C + j0,
                 ldc);
  }
}

}  // namespace drift::cpu
