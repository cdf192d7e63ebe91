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
//
// Private pools (Allocator::begin_pool, for CUDA graph capture): while one is
// active, allocations come from its free lists, then from the common cache,
// then fresh, and every block handed out or given back joins the pool; its
// blocks stay pinned (never released, never handed out outside it) until
// release_pool() returns its free blocks to the common cache. While a pool is
// active nothing is released to the device (no cudaFree inside a capture).
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "tensor/allocator.h"
#include "tensor/error.h"

namespace drift {

template <class Raw>
class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    const size_t size = round_size(nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (active_) {  // the pool's own free blocks first
        auto& pf = pools_[active_][size];
        if (!pf.empty()) {
          void* p = pf.back();
          pf.pop_back();
          count_in(size);
          return p;
        }
      }
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= size;
        count_in(size);
        if (active_) owner_[p] = active_;
        return p;
      }
    }
    void* p = Raw::alloc(size);
    if (!p && !pool_active()) {
      empty_cache();
      p = Raw::alloc(size);
    }
    if (!p) Raw::out_of_memory(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    count_in(size);
    if (active_) owner_[p] = active_;
    return p;
  }

  void deallocate(void* p, size_t nbytes) override {
    if (!p) return;
    const size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    in_use_ -= size < in_use_ ? size : in_use_;
    auto own = owner_.find(p);
    if (own != owner_.end() || active_) {  // a pool's block, or any block given back during a capture
      const uint64_t pool = own != owner_.end() ? own->second : active_;
      auto pit = pools_.find(pool);
      if (pit != pools_.end()) {
        owner_[p] = pool;
        pit->second[size].push_back(p);
        return;
      }
      if (own != owner_.end()) owner_.erase(own);  // its pool was released: a common block again
    }
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
    if (free_.empty() || active_) return;  // nothing is released during a capture
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

  uint64_t begin_pool() override {
    std::lock_guard<std::mutex> lock(mu_);
    DRIFT_CHECK(active_ == 0, "caching allocator: a private pool is already active (one capture at a time)");
    active_ = ++next_pool_;
    pools_[active_];
    return active_;
  }
  void end_pool() override {
    std::lock_guard<std::mutex> lock(mu_);
    active_ = 0;
  }
  void release_pool(uint64_t pool) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pools_.find(pool);
    if (it == pools_.end()) return;
    for (auto& [size, blocks] : it->second)
      for (void* p : blocks) {
        owner_.erase(p);
        free_[size].push_back(p);
        cached_ += size;
      }
    pools_.erase(it);  // its blocks still in use become common blocks when given back
    if (active_ == pool) active_ = 0;
  }
  // Free blocks held by pools (pinned).
  size_t pooled_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (auto& [id, lists] : pools_)
      for (auto& [size, blocks] : lists) n += size * blocks.size();
    return n;
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
  // Private pools: id -> its free lists; block -> its pool; the active pool (0: none).
  std::map<uint64_t, std::map<size_t, std::vector<void*>>> pools_;
  std::unordered_map<void*, uint64_t> owner_;
  uint64_t active_ = 0, next_pool_ = 0;
  bool pool_active() {
    std::lock_guard<std::mutex> lock(mu_);
    return active_ != 0;
  }
  void count_in(size_t size) {  // mu_ held
    in_use_ += size;
    if (in_use_ > peak_) peak_ = in_use_;
  }
};

}  // namespace drift
