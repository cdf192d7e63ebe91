// Matmul on the CPU: batched GEMM.
//
//   out[b] = op(a[b]) @ op(b[b])     a: [B, M, K], b: [B, K, N], out: [B, M, N]
//
// float32 goes to drift's own GEMM for the active ISA level (cpu::sgemm,
// tensor/cpu/gemm_kernel.h; OpenBLAS on the portable level): batch entries
// split over the threads, or the output blocks of a single product.
// OpenBLAS (cblas_dgemm) is the float64 path (the gradient checks). On the U-Net's attention
// products ([16, 256, 128] @ [16, 128, 256], 2 threads) OpenBLAS ran at
// ~126 GFLOP/s alone and ~25 inside the model, the AVX-512 kernel at ~325
// (bench_ops --benchmark_filter=Matmul; test:
// TensorMatmul.MatmulFloat32MatchesFloat64Reference).
//
// The frontend (tensor/ops_linalg.cpp) hands over 3-D views whose matrices
// have unit stride in one of their two dims; a transposed view becomes a BLAS
// trans flag (blas_layout in tensor/op.h), never a copy. A batch stride of 0
// means the matrix is shared by every batch entry (broadcast).
#include <cblas.h>
#include <omp.h>

#include <type_traits>

#include "tensor/cpu/blas.h"
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {

template <class T>
void matmul_kernel(const KernelArgs& args) {
  const Tensor& a = *args.in[0];
  const Tensor& b = *args.in[1];
  Tensor& out = *args.out[0];
  const MatmulParams& p = args.p<MatmulParams>();
  const int64_t B = p.batch, M = p.m, N = p.n, K = p.k;
  if (B == 0 || M == 0 || N == 0) return;
  T* c = out.data<T>();
  if (K == 0) {  // an empty sum: out = 0
    for (int64_t i = 0; i < B * M * N; ++i) c[i] = T(0);
    return;
  }
  const BlasLayout la = blas_layout(M, K, a.stride(1), a.stride(2));
  const BlasLayout lb = blas_layout(K, N, b.stride(1), b.stride(2));
  DRIFT_CHECK(la.ok && lb.ok, "Matmul kernel: operands are not in a BLAS layout (a strides ",
              shape_str(a.strides()), ", b strides ", shape_str(b.strides()), ")");
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  const int64_t sa = a.stride(0), sb = b.stride(0);

  if constexpr (std::is_same_v<T, float>) {
    // cpu::sgemm: drift's GEMM for the active ISA level (OpenBLAS on the
    // portable level). Batch entries split over the threads, or the output
    // blocks of a single product: never the sum over k (same bits on any
    // thread count).
    if (B >= 2 && omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < B; ++i)
        sgemm(la.trans, lb.trans, M, N, K, pa + i * sa, la.ld, pb + i * sb, lb.ld, false, c + i * M * N, N, false);
    } else {
      // Threads only with ~1 MFLOP of work.
      const bool split = omp_get_max_threads() > 1 && 2.0 * double(M) * double(N) * double(K) > 1e6;
      for (int64_t i = 0; i < B; ++i)
        sgemm(la.trans, lb.trans, M, N, K, pa + i * sa, la.ld, pb + i * sb, lb.ld, false, c + i * M * N, N, split);
    }
    return;
  }

  // float64 (the gradient checks' reference): OpenBLAS.
  // One call per batch entry. Small matrices: run the batch entries in
  // parallel, each with single-threaded BLAS (OpenBLAS's OpenMP build runs
  // single-threaded inside a parallel region). Large ones: let BLAS thread.
  const double flops_per_entry = 2.0 * double(M) * double(N) * double(K);
  const bool parallel_batches = B > 1 && flops_per_entry < 64.0 * 64.0 * 64.0 * 2.0 * 8.0;
#pragma omp parallel for schedule(static) if (parallel_batches)
  for (int64_t i = 0; i < B; ++i) {
    gemm<T>(la.trans, lb.trans, M, N, K, T(1), pa + i * sa, la.ld, pb + i * sb, lb.ld, T(0), c + i * M * N, N);
  }
}

void matmul(const KernelArgs& args) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: return matmul_kernel<float>(args);
    case DType::Float64: return matmul_kernel<double>(args);
    default: throw Error(str("matmul: expected float32 or float64, got ", dtype_name(args.out[0]->dtype())));
  }
}

}  // namespace

void register_matmul_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Matmul)] = matmul;
}

}  // namespace drift::cpu
