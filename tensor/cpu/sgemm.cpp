// cpu::sgemm (tensor/cpu/blas.h): drift's GEMM for the active ISA level, or
// OpenBLAS on the portable level, always split over output blocks.
#include <omp.h>

#include <algorithm>

#include "tensor/cpu/blas.h"
#include "tensor/cpu/isa_kernels.h"

namespace drift::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
           int64_t ldb, bool accumulate, float* C, int64_t ldc, bool parallel) {
#if defined(DRIFT_X86_KERNELS)
  switch (active_isa()) {
    case CpuIsa::Avx512: return avx512::sgemm(trans_a, trans_b, M, N, K, A, lda, B, ldb, accumulate, C, ldc, parallel);
    case CpuIsa::Avx2: return avx2::sgemm(trans_a, trans_b, M, N, K, A, lda, B, ldb, accumulate, C, ldc, parallel);
    case CpuIsa::Generic: break;
  }
#endif
  // OpenBLAS, one call per thread on its own block of 64 columns (OpenBLAS runs
  // single-threaded inside a parallel region): never split over k.
  const float beta = accumulate ? 1.f : 0.f;
  const int nt = parallel && !omp_in_parallel() ? omp_get_max_threads() : 1;
  if (nt <= 1 || N < 128) {
    gemm<float>(trans_a, trans_b, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), n_threads = omp_get_num_threads();
    const int64_t per = ((N + n_threads - 1) / n_threads + 63) / 64 * 64;
    const int64_t j0 = std::min(N, t * per), j1 = std::min(N, j0 + per);
    if (j1 > j0)
      gemm<float>(trans_a, trans_b, M, j1 - j0, K, 1.f, A, lda, trans_b ? B + j0 * ldb : B + j0, ldb, beta, C + j0,
                  ldc);
  }
}

}  // namespace drift::cpu
