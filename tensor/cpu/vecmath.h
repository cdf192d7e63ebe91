#pragma once
// Vectorised float32 transcendentals for the CPU elementwise kernels, one
// implementation per instruction-set level (tensor/cpu/isa.h):
//
//   generic  tensor/cpu/vecmath.cpp: the reference. Each value computed in
//            double with the C library and rounded to float (<= 0.5 ulp plus
//            the double rounding, i.e. correctly rounded in practice).
//   avx2     tensor/cpu/avx2/vecmath.cpp    (8 lanes, FMA)
//   avx512   tensor/cpu/avx512/vecmath.cpp  (16 lanes)
//
// The two vector levels share one source of math, tensor/cpu/vecmath_impl.h
// (polynomials after Cephes, written once over a small SIMD wrapper), so they
// give the same bits. Their maximum errors, measured against double-precision
// libm over a dense sweep of all float inputs (tests/test_tensor_vecmath.cpp),
// are listed beside each function in vecmath_impl.h. "ulp" is the spacing of
// floats at the exact result; results in the subnormal range (|y| < 2^-126)
// are judged in units of the smallest subnormal 2^-149.
//
// Every function maps NaN to NaN and takes the limits at +-Inf (silu(-Inf) =
// gelu(-Inf) = -0 rather than the NaN of -Inf * 0).
#include <cmath>
#include <cstdint>

#include "tensor/cpu/isa.h"

namespace drift::cpu {

enum class VecFn { Exp, Log, Tanh, Sigmoid, Silu, Gelu, Erf, Count };
constexpr int kNumVecFns = static_cast<int>(VecFn::Count);
const char* vec_fn_name(VecFn f);  // "exp", "log", ...

using VecUnaryFn = void (*)(const float* x, float* y, int64_t n);            // y[i] = f(x[i]); y may equal x
using VecSiluBackwardFn = void (*)(const float* g, const float* x, float* dx, int64_t n);  // dx = g silu'(x)

// One level's kernels: n contiguous floats in, n out.
struct VecMath {
  VecUnaryFn unary[kNumVecFns];
  // silu'(x) = s (1 + x (1 - s)), s = sigmoid(x); dx = g silu'(x).
  VecSiluBackwardFn silu_backward;
};

// The kernels of level `isa`. The generic table always exists; a vector level
// that this build leaves out (non-x86) gives nullptr.
const VecMath* vecmath(CpuIsa isa);
// The kernels of active_isa().
const VecMath& active_vecmath();

#if defined(DRIFT_X86_KERNELS)
const VecMath& vecmath_avx2();    // tensor/cpu/avx2/vecmath.cpp
const VecMath& vecmath_avx512();  // tensor/cpu/avx512/vecmath.cpp
#endif

// The reference definitions in double (the generic level and the float64
// kernels use them).
// sigmoid(x) = 1 / (1 + e^-x), written with e = exp(-|x|) so that it never overflows.
inline double sigmoid_ref(double x) {
  const double e = std::exp(-std::fabs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}
// silu(x) = x sigmoid(x) (Elfwing et al. 2018); the limit -0 at -Inf.
inline double silu_ref(double x) { return std::isinf(x) && x < 0 ? -0.0 : x * sigmoid_ref(x); }
// silu'(x) g = g s (1 + x (1 - s)); 0 at -Inf.
inline double silu_backward_ref(double g, double x) {
  const double s = sigmoid_ref(x);
  return std::isinf(x) && x < 0 ? g * 0.0 : g * (s * (1 + x * (1 - s)));
}
// gelu(x) = x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2 (Hendrycks & Gimpel 2016,
// exact form; erfc has no cancellation for x < 0); the limit -0 at -Inf.
inline double gelu_ref(double x) {
  return std::isinf(x) && x < 0 ? -0.0 : x * 0.5 * std::erfc(-x * 0.70710678118654752440);
}

}  // namespace drift::cpu
