#include "tensor/allocator.h"

#include <cstdlib>

#include "tensor/caching_allocator.h"
#include "tensor/error.h"

namespace drift {
namespace {

// Host memory: 64-byte aligned blocks (a cache line, one AVX-512 vector),
// at most 4 GiB kept in the cache.
struct CpuRaw {
  static constexpr size_t kGranule = 64;
  static constexpr size_t kMaxCached = size_t(4) << 30;
  static void* alloc(size_t nbytes) { return std::aligned_alloc(64, nbytes); }
  static void release(void* p) { std::free(p); }
  static void before_release() {}
  [[noreturn]] static void out_of_memory(size_t nbytes) {
    throw Error(str("CPU allocator: out of memory allocating ", nbytes, " bytes"));
  }
};

}  // namespace

Allocator& cpu_allocator() {
  static auto* a = new CachingAllocator<CpuRaw>();  // never destroyed: tensors may outlive statics
  return *a;
}

}  // namespace drift
