#include "tensor/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "tensor/error.h"

namespace drift {
namespace {

// Caches freed blocks by their (rounded) size. Sizes are rounded up to a
// multiple of 64 bytes below 1 MiB and to 1/8 of the next power of two above,
// so similar sizes share blocks. Blocks are released only by empty_cache() or
// when the cache passes `kMaxCached`.
class CachingCpuAllocator final : public Allocator {
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
    void* p = std::aligned_alloc(64, size);
    if (!p) {
      empty_cache();
      p = std::aligned_alloc(64, size);
    }
    if (!p) throw Error(str("CPU allocator: out of memory allocating ", nbytes, " bytes"));
    return p;
  }

  void deallocate(void* p, size_t nbytes) override {
    if (!p) return;
    size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    if (cached_ + size > kMaxCached) {
      std::free(p);
      return;
    }
    free_[size].push_back(p);
    cached_ += size;
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& kv : free_)
      for (void* p : kv.second) std::free(p);
    free_.clear();
    cached_ = 0;
  }

  size_t cached_bytes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

  ~CachingCpuAllocator() override { empty_cache(); }

 private:
  static constexpr size_t kMaxCached = size_t(4) << 30;  // 4 GiB

  static size_t round_size(size_t n) {
    if (n == 0) n = 1;
    if (n < (size_t(1) << 20)) return (n + 63) / 64 * 64;
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

Allocator& cpu_allocator() {
  static CachingCpuAllocator* a = new CachingCpuAllocator();  // never destroyed: tensors may outlive statics
  return *a;
}

}  // namespace drift
