#pragma once
// RandUniform's batches (tensor/cpu/random.cpp), written once: compiled there
// for float64, int64 and the portable level, and for float32 at each vector
// level (tensor/cpu/avx2|avx512/random.cpp) so that the loop over 16 Philox
// counters vectorises at that width. Every copy is compiled with
// -ffp-contract=off (CMakeLists.txt) and does the same integer and double
// operations, so all levels (and the CUDA kernels) give the same bits.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tensor/cpu/isa.h"
#include "tensor/rng.h"

namespace drift::cpu::DRIFT_ISA_NS {

constexpr int64_t kBatchBlocks = 16;  // Philox blocks per batch: 64 values
constexpr double kInv2Pow24 = 1.0 / 16777216.0;

// Philox words of blocks [blk0, blk0 + kBatchBlocks) of the stream, in element order.
// The loop over blocks vectorizes (16 independent counters).
inline void philox_batch(uint64_t seed, uint64_t offset, int64_t blk0, uint32_t* words) {
  for (int64_t k = 0; k < kBatchBlocks; ++k) {
    Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(blk0 + k), seed);
    for (int lane = 0; lane < 4; ++lane) words[4 * k + lane] = r.v[lane];
  }
}

// out[64 q .. 64 q + 64) (clipped to n) for the batches q in [q0, q1):
// a + scale * u in double, u = (r >> 8) * 2^-24 in [0, 1); int64: its floor.
template <class T>
inline void uniform_batches(T* out, int64_t n, uint64_t seed, uint64_t offset, double a, double scale, int64_t q0,
                            int64_t q1) {
  uint32_t words[4 * kBatchBlocks];
  T vals[4 * kBatchBlocks];
  for (int64_t q = q0; q < q1; ++q) {
    philox_batch(seed, offset, q * kBatchBlocks, words);
    for (int64_t j = 0; j < 4 * kBatchBlocks; ++j) {
      double u = static_cast<double>(words[j] >> 8) * kInv2Pow24;  // [0, 1)
      double v = a + scale * u;
      if constexpr (std::is_same_v<T, int64_t>) {
        vals[j] = static_cast<int64_t>(std::floor(v));
      } else {
        vals[j] = static_cast<T>(v);
      }
    }
    const int64_t base = q * kBatchBlocks * 4, count = std::min<int64_t>(4 * kBatchBlocks, n - base);
    std::memcpy(out + base, vals, static_cast<size_t>(count) * sizeof(T));
  }
}

}  // namespace drift::cpu::DRIFT_ISA_NS
