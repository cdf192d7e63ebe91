#pragma once
// 16-lane float32 SIMD wrapper for AVX-512F, the interface that
// tensor/cpu/vecmath_impl.h is written against. Include only from files
// compiled with the AVX-512 flags (tensor/cpu/avx512/).
// GCC 12 warns that the _mm512_undefined_*() placeholder inside its own
// intrinsics "is/may be used uninitialized" (a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

namespace drift::cpu::avx512 {

struct I16 {
  __m512i v;
  static I16 set1(int a) { return {_mm512_set1_epi32(a)}; }
};
inline I16 operator+(I16 a, I16 b) { return {_mm512_add_epi32(a.v, b.v)}; }
inline I16 operator-(I16 a, I16 b) { return {_mm512_sub_epi32(a.v, b.v)}; }
inline I16 iand(I16 a, I16 b) { return {_mm512_and_si512(a.v, b.v)}; }
inline I16 ior(I16 a, I16 b) { return {_mm512_or_si512(a.v, b.v)}; }
inline I16 srl(I16 a, int n) { return {_mm512_srli_epi32(a.v, n)}; }
inline I16 sra(I16 a, int n) { return {_mm512_srai_epi32(a.v, n)}; }
inline I16 sll(I16 a, int n) { return {_mm512_slli_epi32(a.v, n)}; }

struct M16 {
  __mmask16 m;
};
inline M16 mask_or(M16 a, M16 b) { return {static_cast<__mmask16>(a.m | b.m)}; }

struct F16 {
  __m512 v;
  static constexpr int kWidth = 16;
  static F16 set1(float a) { return {_mm512_set1_ps(a)}; }
  static F16 load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static __mmask16 lanes_below(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static F16 load_n(const float* p, int n) { return {_mm512_maskz_loadu_ps(lanes_below(n), p)}; }  // other lanes 0
};
inline void store(float* p, F16 a) { _mm512_storeu_ps(p, a.v); }
inline void store_n(float* p, F16 a, int n) { _mm512_mask_storeu_ps(p, F16::lanes_below(n), a.v); }

inline F16 operator+(F16 a, F16 b) { return {_mm512_add_ps(a.v, b.v)}; }
inline F16 operator-(F16 a, F16 b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline F16 operator*(F16 a, F16 b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline F16 operator/(F16 a, F16 b) { return {_mm512_div_ps(a.v, b.v)}; }
inline F16 fma(F16 a, F16 b, F16 c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline F16 vmin(F16 a, F16 b) { return {_mm512_min_ps(a.v, b.v)}; }
inline F16 vmax(F16 a, F16 b) { return {_mm512_max_ps(a.v, b.v)}; }
inline F16 round_nearest(F16 a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline M16 lt(F16 a, F16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline M16 le(F16 a, F16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline M16 gt(F16 a, F16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline M16 eq(F16 a, F16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline M16 is_nan(F16 a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
inline F16 select(M16 m, F16 a, F16 b) { return {_mm512_mask_blend_ps(m.m, b.v, a.v)}; }
inline F16 vabs(F16 a) { return {_mm512_abs_ps(a.v)}; }
inline F16 copysign(F16 mag, F16 sign) {
  const __m512i s = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  const __m512i m = _mm512_castps_si512(mag.v), g = _mm512_castps_si512(sign.v);
  return {_mm512_castsi512_ps(_mm512_or_si512(_mm512_andnot_si512(s, m), _mm512_and_si512(s, g)))};
}
inline I16 as_int(F16 a) { return {_mm512_castps_si512(a.v)}; }
inline F16 as_float(I16 a) { return {_mm512_castsi512_ps(a.v)}; }
inline I16 to_int(F16 a) { return {_mm512_cvtps_epi32(a.v)}; }
inline F16 to_float(I16 a) { return {_mm512_cvtepi32_ps(a.v)}; }

}  // namespace drift::cpu::avx512
