#pragma once
// 16-bit floating-point storage types: bfloat16 and IEEE float16 (binary16).
// They are storage dtypes: arithmetic converts to float32 and accumulates
// there, on every backend (see dispatch in tensor/backend.cpp). Conversions
// round to nearest, ties to even, as PyTorch and the CUDA intrinsics do.
//
//   bfloat16: 1 sign, 8 exponent, 7 mantissa bits = the top half of a float32
//             (same range as float32, ~3 significant decimal digits)
//   float16:  1 sign, 5 exponent, 10 mantissa bits (max 65504, subnormals
//             down to 2^-24)
#include <cstdint>
#include <cstring>

namespace drift {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// float32 -> bfloat16: keep the top 16 bits, rounding the dropped 16 to
// nearest even; NaN stays a (quiet) NaN.
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_bits_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

// float32 -> float16 with round to nearest even, overflow to +-Inf, gradual
// underflow to subnormals and signed zero.
inline uint16_t float_to_f16_bits(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to Inf
  if (a < 0x38800000u) {  // below 2^-14: subnormal (or zero) in float16
    // value = a as float; f16 subnormal unit is 2^-24. Round(|f| / 2^-24) to even.
    if (a < 0x33000000u) return sign;  // < 2^-25: rounds to zero
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u;  // 24-bit significand
    const int shift = 126 - static_cast<int>(a >> 23);   // 14..24 + ... : bits to drop
    const uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
    const uint32_t r = q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
    return static_cast<uint16_t>(sign | r);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits.
  uint32_t r = a - 0x38000000u;  // exponent - 112
  r += 0xfffu + ((r >> 13) & 1u);
  return static_cast<uint16_t>(sign | (r >> 13));
}
inline float f16_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return bits_float(sign | 0x7f800000u | (m << 13));  // Inf / NaN
  if (e != 0) return bits_float(sign | ((e + 112u) << 23) | (m << 13));
  // Subnormal or zero: m * 2^-24, exact in float32.
  float v = static_cast<float>(m) * bits_float(0x33800000u);  // 2^-24
  return sign ? -v : v;
}

// The element types. Constructible from any arithmetic value (through float)
// and convertible to float, so generic kernels can static_cast to and from them.
struct bfloat16 {
  uint16_t bits = 0;
  bfloat16() = default;
  explicit bfloat16(float f) : bits(float_to_bf16_bits(f)) {}
  explicit bfloat16(double d) : bfloat16(static_cast<float>(d)) {}
  explicit bfloat16(int64_t i) : bfloat16(static_cast<float>(i)) {}
  operator float() const { return bf16_bits_to_float(bits); }
  static bfloat16 from_bits(uint16_t b) {
    bfloat16 h;
    h.bits = b;
    return h;
  }
};
struct float16 {
  uint16_t bits = 0;
  float16() = default;
  explicit float16(float f) : bits(float_to_f16_bits(f)) {}
  explicit float16(double d) : float16(static_cast<float>(d)) {}
  explicit float16(int64_t i) : float16(static_cast<float>(i)) {}
  operator float() const { return f16_bits_to_float(bits); }
  static float16 from_bits(uint16_t b) {
    float16 h;
    h.bits = b;
    return h;
  }
};
static_assert(sizeof(bfloat16) == 2 && sizeof(float16) == 2, "16-bit storage types");

}  // namespace drift
