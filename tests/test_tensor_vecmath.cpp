// The float32 transcendentals of every CPU level (tensor/cpu/vecmath.h)
// against double-precision libm over a dense sweep of float inputs: every
// 1021st bit pattern (all magnitudes, subnormals, both signs), a fine grid on
// [-20, 20], and the special values (+-0, +-Inf, NaN, the overflow and
// underflow thresholds). Levels the CPU lacks are skipped with the reason.
// The bounds asserted here are the ones stated in tensor/cpu/vecmath_impl.h.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tensor/cpu/isa.h"
#include "tensor/cpu/vecmath.h"
#include "tensor/ops.h"

using namespace drift::cpu;
namespace ops = drift::ops;
using drift::Tensor;

namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kMinNormal = 1.17549435082228750797e-38;  // 2^-126
constexpr double kMinSub = 1.40129846432481707092e-45;     // 2^-149

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

std::vector<float> sweep_inputs() {
  std::vector<float> x;
  for (uint64_t b = 0; b <= 0xffffffffull; b += 1021) x.push_back(from_bits(static_cast<uint32_t>(b)));
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i * 1e-4));
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (float v : {0.0f, -0.0f, inf, -inf, nan, -nan, 88.7228317f, 88.7228394f, 88.8f, -87.3365f, -103.97f, -103.98f,
                  -104.0f, 1e-45f, -1e-45f, 1.17549435e-38f, 0.625f, -0.625f, 3.92f, 4.0f, -4.0f, 1.41421356f,
                  -1.41421356f, -2.8284271f, -13.2f, -1.278f, 9.0f, -9.0f, 1.0f, -1.0f, 0.5f, 2.0f})
    x.push_back(v);
  return x;
}

// The exact function (libm in double), with the limits at -Inf that vecmath.h states.
double ref(VecFn f, double x) {
  switch (f) {
    case VecFn::Exp: return std::exp(x);
    case VecFn::Log: return std::log(x);
    case VecFn::Tanh: return std::tanh(x);
    case VecFn::Sigmoid: return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
    case VecFn::Silu:
      if (std::isinf(x) && x < 0) return -0.0;
      return x >= 0 ? x / (1 + std::exp(-x)) : x * std::exp(x) / (1 + std::exp(x));
    case VecFn::Gelu:
      if (std::isinf(x) && x < 0) return -0.0;
      return x * 0.5 * std::erfc(-x * kInvSqrt2);
    case VecFn::Erf: return std::erf(x);
    case VecFn::Count: break;
  }
  return 0;
}

// Spacing of floats at |y| (2^-149 in the subnormal range).
double ulp_at(double y) {
  y = std::fabs(y);
  if (y < kMinNormal) return kMinSub;
  int e;
  std::frexp(y, &e);  // y = m 2^e, m in [0.5, 1)
  return std::ldexp(1.0, e - 24);
}

// Error of `got` in ulp of `want`; 0 when both are the same special value, huge when only one is.
double ulp_err(float got, double want, double scale) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got) ? 0 : 1e30;
  // A finite exact value beyond the float range rounds to +-Inf.
  if (std::isinf(want) || std::isinf(got)) return got == static_cast<float>(want) ? 0 : 1e30;
  return std::fabs(static_cast<double>(got) - want) / ulp_at(scale);
}

struct Bound {
  VecFn f;
  double normal_ulp;  // results |y| >= 2^-126
  double sub_ulp;     // results in the subnormal range, in units of 2^-149
};
// The bounds stated in vecmath_impl.h; the generic level (libm in double,
// rounded once) must be within 1 ulp everywhere.
const Bound kBounds[] = {
    {VecFn::Exp, 1.5, 1}, {VecFn::Log, 1, 1},   {VecFn::Tanh, 2, 1}, {VecFn::Sigmoid, 3, 1},
    {VecFn::Silu, 4, 1},  {VecFn::Gelu, 16, 2}, {VecFn::Erf, 3, 1},
};

class VecMathLevel : public ::testing::TestWithParam<CpuIsa> {
 protected:
  const VecMath* table() {
    const CpuIsa isa = GetParam();
    if (static_cast<int>(isa) > static_cast<int>(detected_isa())) {
      skip_reason_ = std::string("this CPU lacks ") + isa_name(isa) + " (it has " + isa_name(detected_isa()) + ")";
      return nullptr;
    }
    const VecMath* t = vecmath(isa);
    if (!t) skip_reason_ = std::string(isa_name(isa)) + " kernels are not compiled into this (non-x86) build";
    return t;
  }
  std::string skip_reason_;
};

TEST_P(VecMathLevel, UnaryWithinStatedUlpOfLibm) {
  const VecMath* t = table();
  if (!t) GTEST_SKIP() << skip_reason_;
  const bool generic = GetParam() == CpuIsa::Generic;
  const std::vector<float> x = sweep_inputs();
  std::vector<float> y(x.size());
  for (const Bound& b : kBounds) {
    t->unary[static_cast<int>(b.f)](x.data(), y.data(), static_cast<int64_t>(x.size()));
    double worst_n = 0, worst_s = 0;
    float at_n = 0, at_s = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = ref(b.f, x[i]);
      const double e = ulp_err(y[i], want, want);
      const bool sub = std::fabs(want) < kMinNormal && want != 0;
      if (sub && e > worst_s) worst_s = e, at_s = x[i];
      if (!sub && e > worst_n) worst_n = e, at_n = x[i];
    }
    const double bn = generic ? 1 : b.normal_ulp, bs = generic ? 1 : b.sub_ulp;
    EXPECT_LE(worst_n, bn) << vec_fn_name(b.f) << " at x = " << at_n << " (" << isa_name(GetParam()) << ")";
    EXPECT_LE(worst_s, bs) << vec_fn_name(b.f) << " subnormal result at x = " << at_s;
    std::printf("  %-7s %-7s max error %.3f ulp (normal results), %.3f x 2^-149 (subnormal results)\n",
                isa_name(GetParam()), vec_fn_name(b.f), worst_n, worst_s);
  }
}

// dx = g silu'(x) against the double formula; the error is judged against the
// size of the terms |g| (s + |x| s (1 - s)) because silu' has a root near -1.28.
TEST_P(VecMathLevel, SiluBackwardWithinStatedUlp) {
  const VecMath* t = table();
  if (!t) GTEST_SKIP() << skip_reason_;
  const std::vector<float> x = sweep_inputs();
  std::vector<float> g(x.size()), dx(x.size());
  for (size_t i = 0; i < x.size(); ++i) g[i] = static_cast<float>(1.0 + 0.25 * std::sin(static_cast<double>(i)));
  t->silu_backward(g.data(), x.data(), dx.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  float at = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double xv = x[i];
    const double s = ref(VecFn::Sigmoid, xv), oms = ref(VecFn::Sigmoid, -xv);
    double want, scale;
    if (std::isinf(xv) && xv < 0) {
      want = 0, scale = 0;
    } else {
      want = g[i] * s * (1 + xv * oms);
      scale = std::fabs(g[i]) * (s + std::fabs(xv) * s * oms);
    }
    const double e = ulp_err(dx[i], want, scale);
    if (e > worst) worst = e, at = x[i];
  }
  EXPECT_LE(worst, GetParam() == CpuIsa::Generic ? 1.0 : 5.0) << "silu backward at x = " << at;
  std::printf("  %-7s silu'   max error %.3f ulp of |g| (s + |x| s (1 - s))\n", isa_name(GetParam()), worst);
}

// In-place use (y == x) and every tail length give the same values as one long call.
TEST_P(VecMathLevel, TailsAndInPlaceMatchTheLongCall) {
  const VecMath* t = table();
  if (!t) GTEST_SKIP() << skip_reason_;
  std::vector<float> x(67);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i)) * 6);
  for (int f = 0; f < kNumVecFns; ++f) {
    std::vector<float> whole(x.size());
    t->unary[f](x.data(), whole.data(), static_cast<int64_t>(x.size()));
    for (size_t start = 0; start < 20; ++start) {
      std::vector<float> part(x.begin() + static_cast<long>(start), x.end());
      t->unary[f](part.data(), part.data(), static_cast<int64_t>(part.size()));
      for (size_t i = 0; i < part.size(); ++i)
        ASSERT_EQ(std::memcmp(&part[i], &whole[start + i], 4), 0)
            << vec_fn_name(static_cast<VecFn>(f)) << " start " << start << " index " << i;
    }
  }
}

// The elementwise ops run the active level's kernels on float32, for
// contiguous and strided (permuted, broadcast) operands alike.
TEST_P(VecMathLevel, ElementwiseOpsUseTheLevelWhateverTheLayout) {
  const VecMath* t = table();
  if (!t) GTEST_SKIP() << skip_reason_;
  struct Restore {
    CpuIsa was = active_isa();
    ~Restore() { set_active_isa(was); }
  } restore;
  set_active_isa(GetParam());
  std::vector<float> xv(2 * 3 * 37);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) * 5);
  const Tensor x = ops::from_vector(xv, {2, 3, 37});
  const Tensor xp = ops::permute(x, {2, 0, 1});  // strided view
  const std::vector<Tensor (*)(const Tensor&)> fns = {ops::exp, ops::log, ops::tanh, ops::sigmoid,
                                                      ops::silu, ops::gelu, ops::erf};
  for (int f = 0; f < kNumVecFns; ++f) {
    std::vector<float> want(xv.size());
    t->unary[f](xv.data(), want.data(), static_cast<int64_t>(xv.size()));
    const std::vector<float> got = ops::to_vector_f32(fns[f](x));
    const std::vector<float> got_p = ops::to_vector_f32(ops::contiguous(ops::permute(fns[f](xp), {1, 2, 0})));
    for (size_t i = 0; i < xv.size(); ++i) {
      ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << vec_fn_name(static_cast<VecFn>(f)) << " at " << i;
      ASSERT_EQ(std::memcmp(&got_p[i], &want[i], 4), 0) << vec_fn_name(static_cast<VecFn>(f)) << " strided at " << i;
    }
  }
  // silu backward with g broadcast along the last dim (stride 0).
  const Tensor g = ops::expand(ops::from_vector(std::vector<float>{0.5f, -2.0f, 3.0f}, {1, 3, 1}), {2, 3, 37});
  const std::vector<float> gv = ops::to_vector_f32(ops::contiguous(g));
  std::vector<float> want(xv.size());
  t->silu_backward(gv.data(), xv.data(), want.data(), static_cast<int64_t>(xv.size()));
  const std::vector<float> got = ops::to_vector_f32(ops::silu_backward(g, x));
  for (size_t i = 0; i < xv.size(); ++i) ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << "silu backward at " << i;
}

INSTANTIATE_TEST_SUITE_P(Levels, VecMathLevel, ::testing::Values(CpuIsa::Generic, CpuIsa::Avx2, CpuIsa::Avx512),
                         [](const ::testing::TestParamInfo<CpuIsa>& i) { return std::string(isa_name(i.param)); });

}  // namespace
