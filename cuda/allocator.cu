// The caching device allocator. cudaMalloc/cudaFree synchronise the device and
// cost tens of microseconds, so freed blocks are kept in size-bucketed free
// lists and handed out again; a training loop that allocates the same shapes
// every step reaches a steady state with no cudaMalloc at all.
// Blocks go back to the driver only through empty_cache(), or when cudaMalloc
// fails (then the cache is emptied and the allocation retried once).
// All kernels run on the default stream, so a block freed here may be reused
// by the next kernel without extra synchronisation.
#include <map>
#include <mutex>
#include <vector>

#include "cuda/common.cuh"

namespace drift::cuda {
namespace {

class CachingCudaAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    size_t size = round_size(nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= size;
        return p;
      }
    }
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear the sticky error and retry with an empty cache
      empty_cache();
      err = cudaMalloc(&p, size);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      throw Error(str("CUDA allocator: out of memory allocating ", nbytes, " bytes (",
                      cudaGetErrorString(err), "; device has ", free_b >> 20, " MiB free of ",
                      total_b >> 20, " MiB)"));
    }
    return p;
  }

  void deallocate(void* p, size_t nbytes) override {
    if (!p) return;
    size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    free_[size].push_back(p);
    cached_ += size;
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return;
    cudaDeviceSynchronize();  // no kernel may still use a block we free
    for (auto& kv : free_)
      for (void* p : kv.second) cudaFree(p);
    free_.clear();
    cached_ = 0;
  }

  size_t cached_bytes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

 private:
  // Buckets: multiples of 512 bytes below 1 MiB, 1/8 of the next power of
  // two above (so a block is at most 12.5% larger than asked for).
  static size_t round_size(size_t n) {
    if (n == 0) n = 1;
    if (n < (size_t(1) << 20)) return (n + 511) / 512 * 512;
    size_t p = 1;
    while (p < n) p <<= 1;
    size_t step = p / 8;
    return (n + step - 1) / step * step;
  }

  mutable std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

}  // namespace

Allocator& cuda_allocator() {
  // Never destroyed: tensors may outlive static destructors, and freeing
  // device memory after the CUDA runtime has shut down is an error.
  static CachingCudaAllocator* a = new CachingCudaAllocator();
  return *a;
}

}  // namespace drift::cuda
