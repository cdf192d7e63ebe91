// The CUDA backend: kernel table, host <-> device copies, availability, and
// the static initializer that registers it (drift_cuda is linked as a whole
// archive so that this object file is kept).
#include <atomic>
#include <cstdio>
#include <exception>

#include "cuda/common.cuh"
#include "cuda/variant.h"

namespace drift::cuda {
namespace {

std::atomic<int> g_variant{static_cast<int>(KernelVariant::Fast)};

// True if the runtime finds at least one device. Never throws: on a machine
// with no driver or no GPU, cudaGetDeviceCount returns an error code, which
// is cleared and read as "not available". Evaluated once, on first use (not
// during static initialisation).
bool cuda_available() {
  static const bool ok = [] {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return n > 0;
  }();
  return ok;
}

void copy_to_host(void* dst, const void* src, size_t n) {
  if (n == 0) return;
  DRIFT_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost));
}
void copy_from_host(void* dst, const void* src, size_t n) {
  if (n == 0) return;
  DRIFT_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice));
}
void synchronize() { DRIFT_CUDA_CHECK(cudaDeviceSynchronize()); }

// Registers the backend before main(). A failure here must not take the
// process down (a CPU-only user of a CUDA build), so it is reported, not thrown.
struct Registrar {
  Registrar() {
    try {
      register_backend(make_cuda_backend());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "drift: the CUDA backend could not be registered: %s\n", e.what());
    }
  }
};
Registrar registrar;

}  // namespace

void set_kernel_variant(KernelVariant v) { g_variant.store(static_cast<int>(v)); }
KernelVariant kernel_variant() { return static_cast<KernelVariant>(g_variant.load()); }

void zero_device(void* p, size_t nbytes) {
  if (nbytes == 0) return;
  DRIFT_CUDA_CHECK(cudaMemsetAsync(p, 0, nbytes, current_stream()));
}

Backend make_cuda_backend() {
  Backend b;
  b.device = Device::CUDA;
  b.name = "cuda";
  b.allocator = &cuda_allocator();
  b.copy_to_host = copy_to_host;
  b.copy_from_host = copy_from_host;
  b.synchronize = synchronize;
  b.available = cuda_available;
  register_copy_kernels(b);
  register_random_kernels(b);
  register_elementwise_kernels(b);
  register_reduce_kernels(b);
  register_matmul_kernels(b);
  register_conv_kernels(b);
  register_pool_kernels(b);
  register_index_kernels(b);
  register_softmax_kernels(b);
  register_norm_kernels(b);
  register_optim_kernels(b);
  register_attention_kernels(b);
  register_graph_support(b);
  return b;
}

}  // namespace drift::cuda
