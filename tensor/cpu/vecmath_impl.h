#pragma once
// The float32 math of the vector levels, written once over a SIMD wrapper V
// (tensor/cpu/avx2/simd.h, tensor/cpu/avx512/simd.h). Included only by the
// ISA-specific files, which compile it with their own target flags.
//
// A wrapper V provides (all lane-wise):
//   V::kWidth, V::set1(float), V::load(p), store(p, v), V::load_n(p, n), store_n(p, v, n)
//   + - * /, fma(a, b, c) = a b + c (one rounding), vmin/vmax (x86 rule: a NaN
//   in either operand gives the SECOND one), round_nearest(a),
//   lt/le/gt/eq (ordered) and is_nan giving a mask M, mask_or, select(m, a, b) = m ? a : b,
//   vabs, copysign(mag, sign);
//   an int32 vector I: as_int(V), as_float(I), to_int(V) (rounds), to_float(I),
//   I + I, I - I, iand, ior, srl/sra/sll by a constant, I::set1(int).
//
// Maximum errors below were measured by tests/test_tensor_vecmath.cpp against
// double-precision libm (every 1021st float bit pattern plus a fine grid on
// [-20, 20] and the special values); the test asserts these bounds.
#include <cstdint>

namespace drift::cpu::vecimpl {

constexpr float kFltMin = 1.17549435e-38f;  // smallest normal float, 2^-126
constexpr float kInf = __builtin_inff();

// ---- exp ------------------------------------------------------------------------
// exp(x) = 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2]
// (ln 2 split in two parts so that n ln 2 is exact), exp(r) by the Cephes
// degree-6 polynomial. 2^n is applied as 2^n1 * 2^n2 (n1 = floor(n/2)) so that
// results down to the smallest subnormal round once, as libm's do.
// Max error: 1.5 ulp (normal results); 1 x 2^-149 (subnormal results). Measured 0.99 / 0.72.
template <class V>
struct ExpParts {
  V a, b;  // exp(x) = a * b: a = exp(r) 2^n1 (a normal float), b = 2^n2
};
template <class V>
inline ExpParts<V> exp_parts(V x) {
  // Clamp (NaN becomes -150 here). Beyond 89 the result overflows to +Inf by
  // itself, below -104 it rounds to +0 (the clamp is lower so that
  // x * exp(x) for silu still has its subnormal values down to x = -150).
  const V xc = vmin(vmax(x, V::set1(-150.0f)), V::set1(89.0f));
  const V n = round_nearest(xc * V::set1(1.44269504088896341f));
  V r = fma(n, V::set1(-0.693359375f), xc);
  r = fma(n, V::set1(2.12194440e-4f), r);
  V y = V::set1(1.9875691500e-4f);
  y = fma(y, r, V::set1(1.3981999507e-3f));
  y = fma(y, r, V::set1(8.3334519073e-3f));
  y = fma(y, r, V::set1(4.1665795894e-2f));
  y = fma(y, r, V::set1(1.6666665459e-1f));
  y = fma(y, r, V::set1(5.0000001201e-1f));
  y = fma(y, r * r, r) + V::set1(1.0f);
  using I = decltype(to_int(n));
  const I ni = to_int(n);  // in [-216, 128]: 2^n1 and 2^n2 are normal
  const I n1 = sra(ni, 1), n2 = ni - n1;
  // Below the clamp a is 0, so that c * a * b is 0 even for a huge c.
  const V a = select(lt(x, V::set1(-150.0f)), V::set1(0.0f), y * as_float(sll(n1 + I::set1(127), 23)));
  return {a, as_float(sll(n2 + I::set1(127), 23))};
}
// A product that may be subnormal is formed as (c * a) * b: the last
// multiplication is the only one that can round into the subnormal range.
template <class V>
inline V exp_v(V x) {
  const ExpParts<V> e = exp_parts(x);
  return select(is_nan(x), x, e.a * e.b);
}

// ---- log ------------------------------------------------------------------------
// x = m 2^e with m in [sqrt(1/2), sqrt 2); log x = e ln 2 + log1p(t), t = m - 1,
// log1p(t) = t - t^2/2 + t^3 P(t) (Cephes logf, degree-8 P). Subnormal inputs
// are scaled by 2^23 first.
// Max error: 1 ulp (measured 0.75). log(0) = -Inf, log(x < 0) = NaN, log(+Inf) = +Inf.
template <class V>
inline V log_v(V x) {
  using I = decltype(to_int(x));
  const auto sub = lt(x, V::set1(kFltMin));
  const V xs = select(sub, x * V::set1(8388608.0f), x);  // 2^23
  const I b = as_int(xs);
  V e = to_float(srl(b, 23) - I::set1(126)) - select(sub, V::set1(23.0f), V::set1(0.0f));
  const V m = as_float(ior(iand(b, I::set1(0x007fffff)), I::set1(0x3f000000)));  // [0.5, 1)
  const auto low = lt(m, V::set1(0.707106781186547524f));
  e = e - select(low, V::set1(1.0f), V::set1(0.0f));
  const V t = select(low, m + m, m) - V::set1(1.0f);  // [sqrt(1/2) - 1, sqrt 2 - 1]
  const V z = t * t;
  V p = V::set1(7.0376836292e-2f);
  p = fma(p, t, V::set1(-1.1514610310e-1f));
  p = fma(p, t, V::set1(1.1676998740e-1f));
  p = fma(p, t, V::set1(-1.2420140846e-1f));
  p = fma(p, t, V::set1(1.4249322787e-1f));
  p = fma(p, t, V::set1(-1.6668057665e-1f));
  p = fma(p, t, V::set1(2.0000714765e-1f));
  p = fma(p, t, V::set1(-2.4999993993e-1f));
  p = fma(p, t, V::set1(3.3333331174e-1f));
  V y = p * t * z;
  y = fma(e, V::set1(-2.12194440e-4f), y);
  y = fma(z, V::set1(-0.5f), y);
  V r = t + y;
  r = fma(e, V::set1(0.693359375f), r);
  r = select(eq(x, V::set1(kInf)), x, r);
  r = select(lt(x, V::set1(0.0f)), V::set1(__builtin_nanf("")), r);
  r = select(eq(x, V::set1(0.0f)), V::set1(-kInf), r);
  return select(is_nan(x), x, r);
}

// ---- tanh -----------------------------------------------------------------------
// |x| < 0.625: x + x^3 P(x^2) (Cephes tanhf, degree 4); otherwise
// sign(x) (1 - 2 / (exp(2|x|) + 1)), which saturates to +-1 by itself.
// Max error: 2 ulp (measured 1.24).
template <class V>
inline V tanh_v(V x) {
  const V a = vabs(x);
  const V z = x * x;
  V p = V::set1(-5.70498872745e-3f);
  p = fma(p, z, V::set1(2.06390887954e-2f));
  p = fma(p, z, V::set1(-5.37397155531e-2f));
  p = fma(p, z, V::set1(1.33314422036e-1f));
  p = fma(p, z, V::set1(-3.33332819422e-1f));
  const V small = fma(p * z, x, x);
  const V e = exp_v(a + a);
  const V big = copysign(V::set1(1.0f) - V::set1(2.0f) / (e + V::set1(1.0f)), x);
  const V r = select(lt(a, V::set1(0.625f)), small, big);
  return select(is_nan(x), x, r);
}

// ---- sigmoid, silu and silu' ----------------------------------------------------
// With e = exp(-|x|) (never overflows) and q = 1 / (1 + e):
//   sigmoid(x) = q for x >= 0,  e q for x < 0;   1 - sigmoid(x) = e q or q.
// Products with e are formed as (c q a) b (see exp_parts), so that results in
// the subnormal range (x < -87) round once.
template <class V>
struct SigmoidParts {
  V q, ea, eb;  // q = 1 / (1 + e), e = ea * eb
  decltype(lt(V(), V())) neg;
  // c * sigmoid(x) and c * (1 - sigmoid(x)), rounded once at the end when tiny.
  V times_s(V c) const { return select(neg, ((c * q) * ea) * eb, c * q); }
  V times_one_minus_s(V c) const { return select(neg, c * q, ((c * q) * ea) * eb); }
};
template <class V>
inline SigmoidParts<V> sigmoid_parts(V x) {
  const ExpParts<V> e = exp_parts(V::set1(0.0f) - vabs(x));
  return {V::set1(1.0f) / (V::set1(1.0f) + e.a * e.b), e.a, e.b, lt(x, V::set1(0.0f))};
}
// sigmoid max error: 3 ulp (measured 2.47); 1 x 2^-149 for subnormal results.
template <class V>
inline V sigmoid_v(V x) {
  return select(is_nan(x), x, sigmoid_parts(x).times_s(V::set1(1.0f)));
}
// silu(x) = x sigmoid(x) (Elfwing et al. 2018).
// Max error: 4 ulp (measured 2.95); 1 x 2^-149 for subnormal results.
template <class V>
inline V silu_v(V x) {
  const V r = sigmoid_parts(x).times_s(x);
  return select(eq(x, V::set1(-kInf)), V::set1(-0.0f), select(is_nan(x), x, r));
}
// dx = g s (1 + x (1 - s)). Near the root of 1 + x (1 - s) (x ~ -1.28) no
// relative bound exists, so the error is stated against the size of the terms,
// |g| (s + |x| s (1 - s)): at most 5 ulp of that (measured 3.89).
template <class V>
inline V silu_backward_v(V g, V x) {
  const SigmoidParts<V> p = sigmoid_parts(x);
  const V f = fma(x, p.times_one_minus_s(V::set1(1.0f)), V::set1(1.0f));  // 1 + x (1 - s)
  const V r = select(p.neg, (((g * p.q) * p.ea) * f) * p.eb, (g * p.q) * f);
  return select(eq(x, V::set1(-kInf)), g * V::set1(0.0f), select(is_nan(x), x, r));
}

// ---- erf, erfc ------------------------------------------------------------------
// erfc(z) for z >= 1: exp(-z^2) / z R(1/z^2), with Cephes erfcf's two rational
// pieces (1 <= z < 2 and z >= 2). exp(-z^2) is taken from the exact split
// z^2 = hi + lo (hi the rounded square, lo its rounding error, from fma), so
// the large argument's rounding does not enter the exponential. Returned as
// parts: erfc = a * b (b a power of two; see exp_parts).
template <class V>
inline ExpParts<V> erfc_tail(V z, V hi, V lo) {
  const V zq = V::set1(1.0f) / z;
  const V y = zq * zq;
  V p = V::set1(2.326819970068386e-2f);
  p = fma(p, y, V::set1(-1.387039388740657e-1f));
  p = fma(p, y, V::set1(3.687424674597105e-1f));
  p = fma(p, y, V::set1(-5.824733027278666e-1f));
  p = fma(p, y, V::set1(6.210004621745983e-1f));
  p = fma(p, y, V::set1(-4.944515323274145e-1f));
  p = fma(p, y, V::set1(3.404879937665872e-1f));
  p = fma(p, y, V::set1(-2.741127028184656e-1f));
  p = fma(p, y, V::set1(5.638259427386472e-1f));
  V r = V::set1(-1.047766399936249e+1f);
  r = fma(r, y, V::set1(1.297719955372516e+1f));
  r = fma(r, y, V::set1(-7.495518717768503e+0f));
  r = fma(r, y, V::set1(2.921019019210786e+0f));
  r = fma(r, y, V::set1(-1.015265279202700e+0f));
  r = fma(r, y, V::set1(4.218463358204948e-1f));
  r = fma(r, y, V::set1(-2.820767439740514e-1f));
  r = fma(r, y, V::set1(5.641895067754075e-1f));
  const V poly = select(lt(z, V::set1(2.0f)), p, r);
  const ExpParts<V> e = exp_parts(V::set1(0.0f) - hi);
  const V a = fma(e.a, V::set1(0.0f) - lo, e.a);  // exp(-hi - lo) = exp(-hi) (1 - lo + ...), |lo| <= ulp(hi)/2
  return {(a * zq) * poly, e.b};
}

// erf(x): |x| < 1: x P(x^2) (Cephes erff, degree 6 in x^2; the odd factor x
// applied last keeps tiny and subnormal x exact);
// 1 <= |x| <= 4: sign(x) (1 - erfc(|x|)); beyond, +-1 (|erf| rounds to 1 from 3.92).
// Max error: 3 ulp (measured 2.34); 1 x 2^-149 for subnormal results.
template <class V>
inline V erf_v(V x_in) {
  const V x = vmin(vmax(x_in, V::set1(-4.0f)), V::set1(4.0f));
  const V x2 = x * x;
  V p = V::set1(7.853861353153693e-5f);
  p = fma(p, x2, V::set1(-8.010193625184903e-4f));
  p = fma(p, x2, V::set1(5.188327685732524e-3f));
  p = fma(p, x2, V::set1(-2.685381193529856e-2f));
  p = fma(p, x2, V::set1(1.128358514861418e-1f));
  p = fma(p, x2, V::set1(-3.761262582423300e-1f));
  p = fma(p, x2, V::set1(1.128379165726710e+0f));
  const V small = x * p;
  const V a = vmax(vabs(x), V::set1(1.0f));
  const ExpParts<V> c = erfc_tail(a, a * a, fma(a, a, V::set1(0.0f) - a * a));
  const V big = copysign(V::set1(1.0f) - c.a * c.b, x);
  return select(is_nan(x_in), x_in, select(lt(vabs(x), V::set1(1.0f)), small, big));
}

// ---- gelu -----------------------------------------------------------------------
// gelu(x) = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 (Hendrycks & Gimpel
// 2016, exact form). For x < -sqrt 2 that sum cancels, so there
// Phi(x) = erfc(z) / 2 with z = -x / sqrt 2 >= 1 and z^2 = x^2 / 2 split exactly.
// Max error: 16 ulp (measured 13.5), reached where 1 + erf(z) still cancels
// (-sqrt 2 < x < -1: erf's own 2 ulp grow by |erf| / (1 + erf) <= 5.4);
// 2 x 2^-149 for subnormal results.
template <class V>
inline V gelu_v(V x) {
  const V half = V::set1(0.5f);
  const V mid = x * fma(half, erf_v(x * V::set1(0.70710678118654752f)), half);
  const V a = vmin(vmax(vabs(x), V::set1(1.41421356237309505f)), V::set1(20.0f));  // erfc(20/sqrt 2) = 0 in float
  const V hi = a * a;
  const ExpParts<V> c = erfc_tail(a * V::set1(0.70710678118654752f), hi * half, fma(a, a, V::set1(0.0f) - hi) * half);
  const V tail = ((x * half) * c.a) * c.b;
  const V res = select(lt(x, V::set1(-1.41421356237309505f)), tail, mid);
  return select(eq(x, V::set1(-kInf)), V::set1(-0.0f), select(is_nan(x), x, res));
}

// ---- loops over contiguous arrays ---------------------------------------------------
// Whole vectors, then one partial vector for the tail through masked loads
// and stores: every element goes through the same instructions, so a value's
// result does not depend on where a thread's chunk starts.
template <class V, class F>
inline void map_unary(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) store(y + i, f(V::load(x + i)));
  if (i < n) store_n(y + i, f(V::load_n(x + i, static_cast<int>(n - i))), static_cast<int>(n - i));
}
template <class V, class F>
inline void map_binary(const float* a, const float* b, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) store(y + i, f(V::load(a + i), V::load(b + i)));
  if (i < n) {
    const int r = static_cast<int>(n - i);
    store_n(y + i, f(V::load_n(a + i, r), V::load_n(b + i, r)), r);
  }
}

// The table of one level, instantiated in its ISA file.
#define DRIFT_VECMATH_TABLE(V)                                                                          \
  {{[](const float* x, float* y, int64_t n) { map_unary<V>(x, y, n, [](V v) { return exp_v(v); }); },     \
    [](const float* x, float* y, int64_t n) { map_unary<V>(x, y, n, [](V v) { return log_v(v); }); },     \
    [](const float* x, float* y, int64_t n) { map_unary<V>(x, y, n, [](V v) { return tanh_v(v); }); },    \
    [](const float* x, float* y, int64_t n) { map_unary<V>(x, y, n, [](V v) { return sigmoid_v(v); }); }, \
    [](const float* x, float* y, int64_t n) { map_unary<V>(x, y, n, [](V v) { return silu_v(v); }); },    \
    [](const float* x, float* y, int64_t n) { map_unary<V>(x, y, n, [](V v) { return gelu_v(v); }); },    \
    [](const float* x, float* y, int64_t n) { map_unary<V>(x, y, n, [](V v) { return erf_v(v); }); }},    \
   [](const float* g, const float* x, float* dx, int64_t n) {                                          \
     map_binary<V>(g, x, dx, n, [](V a, V b) { return silu_backward_v(a, b); });                       \
   }}

}  // namespace drift::cpu::vecimpl
