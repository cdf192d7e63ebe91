// The CUDA device allocator: the caching allocator of tensor/caching_allocator.h
// over cudaMalloc/cudaFree. All kernels run on the default stream, so a block
// freed here may be reused by the next kernel without extra synchronisation;
// before blocks go back to the driver the device is synchronised, so that no
// kernel still uses them. Nothing is capped: blocks return to the driver
// through empty_cache(), or when cudaMalloc fails (the cache is emptied and
// the allocation retried once).
#include <cstdint>

#include "cuda/common.cuh"
#include "tensor/caching_allocator.h"

namespace drift::cuda {
namespace {

struct CudaRaw {
  static inline thread_local cudaError_t last_error = cudaSuccess;  // of the last failed cudaMalloc
  static constexpr size_t kGranule = 512;
  static constexpr size_t kMaxCached = SIZE_MAX;
  static void* alloc(size_t nbytes) {
    void* p = nullptr;
    if (cudaError_t err = cudaMalloc(&p, nbytes); err != cudaSuccess) {
      last_error = err;
      cudaGetLastError();  // clear the error: the caller empties the cache and retries
      return nullptr;
    }
    return p;
  }
  static void release(void* p) { cudaFree(p); }
  static void before_release() { cudaDeviceSynchronize(); }
  [[noreturn]] static void out_of_memory(size_t nbytes) {
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    cudaGetLastError();
    throw Error(str("CUDA allocator: out of memory allocating ", nbytes, " bytes (", cudaGetErrorString(last_error),
                    "; device has ", free_b >> 20,
                    " MiB free of ", total_b >> 20, " MiB)"));
  }
};

}  // namespace

Allocator& cuda_allocator() {
  // Never destroyed: tensors may outlive static destructors, and freeing
  // device memory after the CUDA runtime has shut down is an error.
  static auto* a = new CachingAllocator<CudaRaw>();
  return *a;
}

}  // namespace drift::cuda
