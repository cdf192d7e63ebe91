#pragma once
// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3", SC 2011), keyed by (seed, offset).
//
// Exact mapping, shared by the CPU and CUDA backends so that the same
// (seed, offset) gives the same tensor on both:
//   element i of a contiguous tensor uses block b = offset + i / 4, lane i % 4:
//     (r0, r1, r2, r3) = philox4x32_10(counter = {lo32(b), hi32(b), 0, 0},
//                                      key = {lo32(seed), hi32(seed)})
//   uniform: u = (r_lane >> 8) * 2^-24                   in [0, 1)
//   normal:  lanes (0,1) and (2,3) form Box-Muller pairs:
//     u1 = (r_even >> 8 + 1) * 2^-24 in (0, 1], u2 = (r_odd >> 8) * 2^-24
//     z_even = sqrt(-2 ln u1) cos(2 pi u2), z_odd = sqrt(-2 ln u1) sin(2 pi u2)
// A generator draw of n elements advances the offset by ceil(n / 4) blocks.
#include <cstdint>

#ifdef __CUDACC__
#define DRIFT_HD __host__ __device__ __forceinline__
#else
// static: every translation unit keeps its own copy, so one compiled with
// AVX-512 flags (tensor/cpu/avx512/) is never linked into portable code.
#define DRIFT_HD static inline
#endif

namespace drift {

struct Philox4 { uint32_t v[4]; };

DRIFT_HD Philox4 philox4x32_10(uint64_t counter, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(M0) * c0;
    uint64_t p1 = static_cast<uint64_t>(M1) * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += W0; k1 += W1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

DRIFT_HD float philox_uniform(uint32_t r) { return static_cast<float>(r >> 8) * (1.0f / 16777216.0f); }

// The i-th uniform [0,1) of the stream (seed, offset); double for exactness.
DRIFT_HD double philox_uniform_at(uint64_t seed, uint64_t offset, uint64_t i) {
  Philox4 r = philox4x32_10(offset + i / 4, seed);
  return static_cast<double>(r.v[i % 4] >> 8) * (1.0 / 16777216.0);
}

// A generator state: the next draw starts at block `offset`.
struct Generator {
  uint64_t seed = 0;
  uint64_t offset = 0;
  explicit Generator(uint64_t s = 0, uint64_t o = 0) : seed(s), offset(o) {}
  // Reserves blocks for n elements and returns the offset to use.
  uint64_t advance(int64_t n) {
    uint64_t start = offset;
    offset += static_cast<uint64_t>((n + 3) / 4);
    return start;
  }
};

}  // namespace drift
