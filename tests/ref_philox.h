#pragma once
// An independent Philox4x32-10 and the element -> (counter, lane) mapping of
// tensor/rng.h, written from the Random123 reference (philox.h): the
// reference of the random ops (tests/test_tensor_random.cpp and the op-test
// registry).
#include <cmath>
#include <cstdint>

namespace drift::testing {

// An independent Philox4x32-10 written from the Random123 reference (philox.h):
// full 4-word counter, 2-word key, round constants M0/M1, Weyl constants W0/W1.
struct Ref4 { uint32_t v[4]; };
inline Ref4 ref_philox(Ref4 ctr, uint32_t k0, uint32_t k1) {
  const uint32_t kM0 = 0xD2511F53, kM1 = 0xCD9E8D57, kW0 = 0x9E3779B9, kW1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // key schedule: bump before every round but the first
      k0 += kW0;
      k1 += kW1;
    }
    uint64_t p0 = static_cast<uint64_t>(kM0) * ctr.v[0];
    uint64_t p1 = static_cast<uint64_t>(kM1) * ctr.v[2];
    Ref4 next;
    next.v[0] = static_cast<uint32_t>(p1 >> 32) ^ ctr.v[1] ^ k0;
    next.v[1] = static_cast<uint32_t>(p1);
    next.v[2] = static_cast<uint32_t>(p0 >> 32) ^ ctr.v[3] ^ k1;
    next.v[3] = static_cast<uint32_t>(p0);
    ctr = next;
  }
  return ctr;
}

// Element i of the stream (seed, offset): block offset + i/4, lane i%4 (tensor/rng.h).
inline uint32_t ref_bits(uint64_t seed, uint64_t offset, uint64_t i) {
  uint64_t b = offset + i / 4;
  Ref4 r = ref_philox({{static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), 0, 0}},
                      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return r.v[i % 4];
}
inline double ref_uniform(uint64_t seed, uint64_t offset, uint64_t i) {
  return static_cast<double>(ref_bits(seed, offset, i) >> 8) / 16777216.0;
}
inline double ref_normal(uint64_t seed, uint64_t offset, uint64_t i) {
  uint64_t even = i - i % 2;
  double u1 = (static_cast<double>(ref_bits(seed, offset, even) >> 8) + 1.0) / 16777216.0;
  double u2 = static_cast<double>(ref_bits(seed, offset, even + 1) >> 8) / 16777216.0;
  double r = std::sqrt(-2.0 * std::log(u1)), th = 6.283185307179586 * u2;
  return i % 2 == 0 ? r * std::cos(th) : r * std::sin(th);
}

}  // namespace drift::testing
