#pragma once
// Memory allocators. Each device has one; the CPU one caches freed blocks by
// size so that a training loop reuses the same buffers instead of returning
// them to the OS (page faults from fresh large mallocs cost up to 2x).
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace drift {

struct Allocator {
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* p, size_t nbytes) = 0;
  virtual void empty_cache() {}
  virtual size_t cached_bytes() const { return 0; }
  // Bytes handed out and not yet given back (rounded block sizes), and their
  // peak since the last reset_peak() (as torch.cuda.max_memory_allocated).
  virtual size_t allocated_bytes() const { return 0; }
  virtual size_t peak_allocated_bytes() const { return 0; }
  virtual void reset_peak() {}
  // Private pools, for CUDA graphs (cuda/graph.cu): between begin_pool() and
  // end_pool() every block handed out, and every block given back, belongs to
  // the pool; its blocks are only ever reused inside it (a captured graph
  // keeps using their addresses on each replay), never released, and go back
  // to the common cache only with release_pool(). Returns 0 where unsupported.
  virtual uint64_t begin_pool() { return 0; }
  virtual void end_pool() {}
  virtual void release_pool(uint64_t /*pool*/) {}
};

// The caching CPU allocator (64-byte aligned blocks).
Allocator& cpu_allocator();

}  // namespace drift
