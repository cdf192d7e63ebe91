#pragma once
// One caching allocator for every device (tensor/allocator.cpp for the CPU,
// cuda/allocator.cu for CUDA). Fresh memory is expensive (page faults for
// large CPU mallocs; cudaMalloc/cudaFree synchronise the device and cost tens
// of microseconds), so freed blocks are kept in size-bucketed free lists and
// handed out again: a training loop that allocates the same shapes every step
// reaches a steady state with no fresh allocation at all.
//
// Sizes are rounded up to a multiple of Raw::kGranule below 1 MiB and to 1/8
// of the next power of two above (a block is at most 12.5% larger than asked
// for), so similar sizes share blocks. Blocks go back to the system through
// empty_cache(), when the cache would pass Raw::kMaxCached, or when a fresh
// allocation fails (then the cache is emptied and the allocation retried once).
//
// Raw supplies the device's primitives:
//   static constexpr size_t kGranule, kMaxCached;
//   static void* alloc(size_t nbytes);        // null on failure
//   static void release(void* p);
//   static void before_release();             // e.g. wait for kernels still using blocks
//   [[noreturn]] static void out_of_memory(size_t nbytes);  // throws drift::Error
#include <map>
#include <mutex>
#include <vector>

#include "tensor/allocator.h"

namespace drift {

template <class Raw>
class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    const size_t size = round_size(nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= size;
        count_in(size);
        return p;
      }
    }
    void* p = Raw::alloc(size);
    if (!p) {
      empty_cache();
      p = Raw::alloc(size);
    }
    if (!p) Raw::out_of_memory(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    count_in(size);
    return p;
  }

  void deallocate(void* p, size_t nbytes) override {
    if (!p) return;
    const size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    in_use_ -= size < in_use_ ? size : in_use_;
    if (cached_ + size > Raw::kMaxCached) {
      Raw::before_release();
      Raw::release(p);
      return;
    }
    free_[size].push_back(p);
    cached_ += size;
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return;
    Raw::before_release();
    for (auto& kv : free_)
      for (void* p : kv.second) Raw::release(p);
    free_.clear();
    cached_ = 0;
  }

  size_t cached_bytes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

  size_t allocated_bytes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return in_use_;
  }
  size_t peak_allocated_bytes() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_;
  }
  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mu_);
    peak_ = in_use_;
  }

  static size_t round_size(size_t n) {
    if (n == 0) n = 1;
    if (n < (size_t(1) << 20)) return (n + Raw::kGranule - 1) / Raw::kGranule * Raw::kGranule;
    size_t p = 1;
    while (p < n) p <<= 1;
    const size_t step = p / 8;
    return (n + step - 1) / step * step;
  }

 private:
  mutable std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
  size_t in_use_ = 0, peak_ = 0;  // handed out now / at most since reset_peak()
  void count_in(size_t size) {  // mu_ held
    in_use_ += size;
    if (in_use_ > peak_) peak_ = in_use_;
  }
};

}  // namespace drift
