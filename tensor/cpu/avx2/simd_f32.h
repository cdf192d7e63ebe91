#pragma once
// 8-lane float32 SIMD wrapper for AVX2 + FMA, the interface that
// tensor/cpu/vecmath_impl.h is written against. Include only from files
// compiled with -mavx2 -mfma (tensor/cpu/avx2/).
#include <immintrin.h>

namespace drift::cpu::avx2 {

struct I8 {
  __m256i v;
  static I8 set1(int a) { return {_mm256_set1_epi32(a)}; }
};
inline I8 operator+(I8 a, I8 b) { return {_mm256_add_epi32(a.v, b.v)}; }
inline I8 operator-(I8 a, I8 b) { return {_mm256_sub_epi32(a.v, b.v)}; }
inline I8 iand(I8 a, I8 b) { return {_mm256_and_si256(a.v, b.v)}; }
inline I8 ior(I8 a, I8 b) { return {_mm256_or_si256(a.v, b.v)}; }
inline I8 srl(I8 a, int n) { return {_mm256_srli_epi32(a.v, n)}; }
inline I8 sra(I8 a, int n) { return {_mm256_srai_epi32(a.v, n)}; }
inline I8 sll(I8 a, int n) { return {_mm256_slli_epi32(a.v, n)}; }

struct M8 {
  __m256 m;  // all-ones lanes where true
};
inline M8 mask_or(M8 a, M8 b) { return {_mm256_or_ps(a.m, b.m)}; }

struct F8 {
  __m256 v;
  static constexpr int kWidth = 8;
  static F8 set1(float a) { return {_mm256_set1_ps(a)}; }
  static F8 load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static __m256i lanes_below(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static F8 load_n(const float* p, int n) { return {_mm256_maskload_ps(p, lanes_below(n))}; }  // other lanes 0
};
inline void store(float* p, F8 a) { _mm256_storeu_ps(p, a.v); }
inline void store_n(float* p, F8 a, int n) { _mm256_maskstore_ps(p, F8::lanes_below(n), a.v); }

inline F8 operator+(F8 a, F8 b) { return {_mm256_add_ps(a.v, b.v)}; }
inline F8 operator-(F8 a, F8 b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline F8 operator*(F8 a, F8 b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline F8 operator/(F8 a, F8 b) { return {_mm256_div_ps(a.v, b.v)}; }
inline F8 fma(F8 a, F8 b, F8 c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline F8 vmin(F8 a, F8 b) { return {_mm256_min_ps(a.v, b.v)}; }
inline F8 vmax(F8 a, F8 b) { return {_mm256_max_ps(a.v, b.v)}; }
inline F8 round_nearest(F8 a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline M8 lt(F8 a, F8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline M8 le(F8 a, F8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
inline M8 gt(F8 a, F8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline M8 eq(F8 a, F8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
inline M8 is_nan(F8 a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
inline F8 select(M8 m, F8 a, F8 b) { return {_mm256_blendv_ps(b.v, a.v, m.m)}; }
inline F8 vabs(F8 a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)}; }
inline F8 copysign(F8 mag, F8 sign) {
  const __m256 s = _mm256_set1_ps(-0.0f);
  return {_mm256_or_ps(_mm256_andnot_ps(s, mag.v), _mm256_and_ps(s, sign.v))};
}
inline I8 as_int(F8 a) { return {_mm256_castps_si256(a.v)}; }
inline F8 as_float(I8 a) { return {_mm256_castsi256_ps(a.v)}; }
inline I8 to_int(F8 a) { return {_mm256_cvtps_epi32(a.v)}; }
inline F8 to_float(I8 a) { return {_mm256_cvtepi32_ps(a.v)}; }

}  // namespace drift::cpu::avx2
