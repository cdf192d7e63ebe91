#pragma once
// Kernel variants. Conv2d, Softmax/LogSoftmax and GroupNorm (which LayerNorm uses) have two
// CUDA implementations each:
//   Fast  - the one used by default (im2col + cuBLAS for convolution,
//           warp/block reductions for softmax and the norms);
//   Naive - a direct one-thread-per-output version that is easy to read and
//           serves as the reference in tests/test_cuda_*.cpp and benchmarks.
// Plain C++ (no CUDA headers): tests include it under #ifdef DRIFT_HAVE_CUDA.
namespace drift::cuda {

enum class KernelVariant { Fast, Naive };

// Process-wide choice (default Fast). Not meant to be flipped while another
// thread runs kernels.
void set_kernel_variant(KernelVariant v);
KernelVariant kernel_variant();

// RAII: selects a variant for a scope and restores the previous one.
struct KernelVariantGuard {
  explicit KernelVariantGuard(KernelVariant v) : prev_(kernel_variant()) { set_kernel_variant(v); }
  ~KernelVariantGuard() { set_kernel_variant(prev_); }
  KernelVariantGuard(const KernelVariantGuard&) = delete;
  KernelVariantGuard& operator=(const KernelVariantGuard&) = delete;

 private:
  KernelVariant prev_;
};

}  // namespace drift::cuda
