// Winograd F(2x2, 3x3) convolution (tensor/cpu/winograd.h) at each ISA level
// this CPU supports: against the float64 convolution (the portable im2col +
// OpenBLAS path, itself tested against naive loops in test_tensor_linalg),
// with its extra rounding error measured and bounded, next to the error of
// the GEMM path on the same inputs. (conv2d takes it by the rule of
// conv_fast.h, use_winograd; DRIFT_WINOGRAD=0 turns it off.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "tensor/cpu/isa_kernels.h"
#include "tensor/ops.h"
#include "tests/isa_levels.h"

using namespace drift;

namespace {

struct Case {
  int64_t N, C, H, W, O, pad;
};

// Odd and even sizes (partial 2x2 tiles), paddings 0..2, channel counts below
// and above the rule's threshold, one image and several.
const std::vector<Case> kCases = {
    {1, 1, 5, 5, 1, 1},     {2, 3, 7, 9, 4, 1},    {3, 16, 8, 8, 16, 1},  {2, 32, 13, 11, 24, 1},
    {1, 20, 6, 7, 17, 0},   {2, 17, 9, 6, 19, 2},  {5, 64, 7, 7, 64, 1},  {1, 24, 28, 28, 32, 1},
    {4, 32, 16, 16, 48, 1}, {2, 16, 40, 37, 16, 1},  // Wo 37: 19 tiles a row, two segments of 10
};

Tensor uniform(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return ops::sub(ops::mul(ops::rand(shape, g), 2.0), 1.0);
}

cpu::ConvGeom geom(const Case& c) {
  const int64_t Ho = c.H + 2 * c.pad - 2, Wo = c.W + 2 * c.pad - 2;
  return {c.N, c.C, c.H, c.W, c.O, 3, 3, Ho, Wo, 1, 1, c.pad, c.pad};
}

// The level's Winograd and GEMM forward methods.
void run_method(cpu::CpuIsa isa, bool winograd, const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y,
                const cpu::ConvGeom& g) {
  const float *px = x.data<float>(), *pw = w.data<float>(), *pb = b.data<float>();
  float* py = y.data<float>();
  if (isa == cpu::CpuIsa::Avx512)
    winograd ? cpu::avx512::conv2d_forward_winograd(px, pw, pb, py, g) : cpu::avx512::conv2d_forward_gemm(px, pw, pb, py, g);
  else
    winograd ? cpu::avx2::conv2d_forward_winograd(px, pw, pb, py, g) : cpu::avx2::conv2d_forward_gemm(px, pw, pb, py, g);
}

// max |got - want| / max |want|
double max_rel_err(const Tensor& got, const Tensor& want) {
  const std::vector<double> a = ops::to_vector_f64(got), b = ops::to_vector_f64(want);
  double err = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return err / std::max(scale, 1e-30);
}

// Prints Winograd's and the GEMM path's errors (ew, eg) for `what` and checks
// the bound: at most 4x the GEMM path's plus 2e-6, and below 1e-5 in any case.
void check_errors(const char* what, cpu::CpuIsa isa, const Case& c, double ew, double eg) {
  std::printf("  %s %s x [%lld, %lld, %lld, %lld] O %lld pad %lld: winograd %.2e, gemm %.2e (max rel. error)\n",
              cpu::isa_name(isa), what, (long long)c.N, (long long)c.C, (long long)c.H, (long long)c.W,
              (long long)c.O, (long long)c.pad, ew, eg);
  EXPECT_LE(ew, 4 * eg + 2e-6) << what << ": N " << c.N << " C " << c.C << " O " << c.O;
  EXPECT_LE(ew, 1e-5) << what << ": N " << c.N << " C " << c.C << " O " << c.O;
}

class TensorWinograd : public PerIsaTest {
 protected:
  void SetUp() override {
    PerIsaTest::SetUp();
    if (IsSkipped()) return;
    if (GetParam() == cpu::CpuIsa::Generic) GTEST_SKIP() << "the portable level has no Winograd kernel (im2col + BLAS)";
  }
};

// Inputs uniform in [-1, 1]: the float64 result of the same float inputs is
// the reference. Bound: Winograd's error at most 4x the GEMM path's plus
// 2e-6 (F(2x2, 3x3) adds a few roundings per transform; measured ratios are
// printed), and below 1e-5 of the largest output in any case.
TEST_P(TensorWinograd, MatchesFloat64ReferenceWithBoundedExtraError) {
  const cpu::CpuIsa isa = GetParam();
  uint64_t seed = 1;
  for (const Case& c : kCases) {
    const cpu::ConvGeom g = geom(c);
    Tensor x = uniform({c.N, c.C, c.H, c.W}, seed++), w = uniform({c.O, c.C, 3, 3}, seed++);
    Tensor b = uniform({c.O}, seed++);
    Tensor want = ops::conv2d(ops::to(x, DType::Float64), ops::to(w, DType::Float64), ops::to(b, DType::Float64), 1,
                              c.pad);
    Tensor yw = ops::empty(want.shape()), yg = ops::empty(want.shape());
    run_method(isa, true, x, w, b, yw, g);
    run_method(isa, false, x, w, b, yg, g);
    check_errors("y", isa, c, max_rel_err(yw, want), max_rel_err(yg, want));
  }
}

// The weight gradient's two methods (conv2d_backward_weight_winograd / _gemm).
void run_weight_method(cpu::CpuIsa isa, bool winograd, const Tensor& dy, const Tensor& x, Tensor& dw,
                       const cpu::ConvGeom& g) {
  const float *pdy = dy.data<float>(), *px = x.data<float>();
  float* pdw = dw.data<float>();
  if (isa == cpu::CpuIsa::Avx512)
    winograd ? cpu::avx512::conv2d_backward_weight_winograd(pdy, px, pdw, g)
             : cpu::avx512::conv2d_backward_weight_gemm(pdy, px, pdw, g);
  else
    winograd ? cpu::avx2::conv2d_backward_weight_winograd(pdy, px, pdw, g)
             : cpu::avx2::conv2d_backward_weight_gemm(pdy, px, pdw, g);
}

// The weight gradient sums over every tile of every image, so its rounding
// error grows with the sum's length for both methods alike: the same bound
// relative to the GEMM path's error, and below 1e-5 of the largest entry.
// The cases add wide images (several tile-row segments, one partial) and more
// tile rows than one group holds (kWgradGroups).
TEST_P(TensorWinograd, WeightGradientMatchesFloat64ReferenceWithBoundedExtraError) {
  const cpu::CpuIsa isa = GetParam();
  std::vector<Case> cases = kCases;
  cases.push_back({9, 24, 14, 14, 40, 1});
  uint64_t seed = 100;
  for (const Case& c : cases) {
    const cpu::ConvGeom g = geom(c);
    Tensor x = uniform({c.N, c.C, c.H, c.W}, seed++), dy = uniform({c.N, c.O, g.Ho, g.Wo}, seed++);
    Tensor want = ops::conv2d_backward_weight(ops::to(dy, DType::Float64), ops::to(x, DType::Float64),
                                              Shape{c.O, c.C, 3, 3}, 1, c.pad);
    Tensor dw_w = ops::empty(want.shape()), dw_g = ops::empty(want.shape());
    run_weight_method(isa, true, dy, x, dw_w, g);
    run_weight_method(isa, false, dy, x, dw_g, g);
    check_errors("dW", isa, c, max_rel_err(dw_w, want), max_rel_err(dw_g, want));
  }
}

DRIFT_INSTANTIATE_PER_ISA(TensorWinograd);

}  // namespace
