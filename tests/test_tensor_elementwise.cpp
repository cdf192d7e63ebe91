// Elementwise ops: broadcasting, non-contiguous inputs, dtypes, every unary op
// against the C library, error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;
using drift::test::vals;

namespace {

// Values -3.0 .. +3.0-ish, deterministic, no exact zeros.
Tensor ramp(const Shape& shape, DType dt = DType::Float32) {
  int64_t n = shape_numel(shape);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = std::sin(0.37 * static_cast<double>(i) + 0.1) * 3.0;
  return ops::to(ops::from_vector(v, shape), dt);
}

// Reference broadcast binary op on host: a [A...], b [B...] -> out shape.
std::vector<double> ref_binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  Shape s = broadcast_shapes(a.shape(), b.shape());
  std::vector<double> av = vals(ops::contiguous(ops::expand(a, s))), bv = vals(ops::contiguous(ops::expand(b, s)));
  std::vector<double> out(av.size());
  for (size_t i = 0; i < av.size(); ++i) out[i] = f(av[i], bv[i]);
  return out;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double rtol, double atol) {
  ASSERT_EQ(got.size(), want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    bool ok = (std::isnan(got[i]) && std::isnan(want[i])) || got[i] == want[i] ||
              std::fabs(got[i] - want[i]) <= atol + rtol * std::fabs(want[i]);
    if (!ok && bad++ < 5) ADD_FAILURE() << "at " << i << ": got " << got[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0u);
}
}  // namespace

TEST(TensorElementwise, BinarySameShape) {
  Tensor a = ops::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  Tensor b = ops::from_vector(std::vector<float>{4, 3, 2, 1}, {2, 2});
  EXPECT_EQ(vals(ops::add(a, b)), (std::vector<double>{5, 5, 5, 5}));
  EXPECT_EQ(vals(ops::sub(a, b)), (std::vector<double>{-3, -1, 1, 3}));
  EXPECT_EQ(vals(ops::mul(a, b)), (std::vector<double>{4, 6, 6, 4}));
  EXPECT_EQ(vals(ops::div(a, b)), (std::vector<double>{0.25, static_cast<double>(2.0f / 3.0f), 1.5, 4}));
  EXPECT_EQ(vals(ops::pow(a, b)), (std::vector<double>{1, 8, 9, 4}));
  EXPECT_EQ(vals(ops::maximum(a, b)), (std::vector<double>{4, 3, 3, 4}));
  EXPECT_EQ(vals(ops::minimum(a, b)), (std::vector<double>{1, 2, 2, 1}));
}

TEST(TensorElementwise, BroadcastingShapes) {
  struct Case { Shape a, b; };
  // Bias-like [C,1,1], row [W], column [H,1], scalar [], leading dims, both sides broadcast.
  std::vector<Case> cases = {{{2, 3, 4, 5}, {3, 1, 1}}, {{2, 3, 4, 5}, {5}},     {{4, 1}, {1, 6}},
                             {{2, 3}, {}},              {{}, {2, 3}},            {{1, 3, 1}, {2, 1, 4}},
                             {{64, 8, 16, 16}, {64, 8, 1, 1}}, {{3, 1, 7}, {3, 5, 7}}};
  for (const Case& c : cases) {
    Tensor a = ramp(c.a), b = ops::add(ramp(c.b), 4.0);
    SCOPED_TRACE(shape_str(c.a) + " op " + shape_str(c.b));
    EXPECT_EQ(ops::add(a, b).shape(), broadcast_shapes(c.a, c.b));
    expect_near_all(vals(ops::add(a, b)), ref_binary(a, b, [](double x, double y) { return (float)x + (float)y; }), 1e-6, 0);
    expect_near_all(vals(ops::sub(b, a)), ref_binary(b, a, [](double x, double y) { return x - y; }), 1e-6, 1e-6);
    expect_near_all(vals(ops::mul(a, b)), ref_binary(a, b, [](double x, double y) { return x * y; }), 1e-6, 0);
    expect_near_all(vals(ops::div(a, b)), ref_binary(a, b, [](double x, double y) { return x / y; }), 1e-6, 0);
    expect_near_all(vals(ops::maximum(a, b)), ref_binary(a, b, [](double x, double y) { return std::max(x, y); }), 0, 0);
    expect_near_all(vals(ops::gt(a, b)), ref_binary(a, b, [](double x, double y) { return x > y ? 1.0 : 0.0; }), 0, 0);
  }
}

TEST(TensorElementwise, NonContiguousInputs) {
  Tensor base = ramp({6, 8}, DType::Float64);
  Tensor t = ops::transpose(base, 0, 1);         // [8, 6], strides [1, 8]
  Tensor s = ops::slice(ramp({8, 12}, DType::Float64), 1, 0, 12, 2);  // [8, 6], strides [12, 2]
  Tensor e = ops::expand(ramp({8, 1}, DType::Float64), {8, 6});       // stride 0
  std::vector<double> tv = vals(t), sv = vals(s), ev = vals(e);
  std::vector<double> want(48), want2(48);
  for (int i = 0; i < 48; ++i) {
    want[i] = tv[i] * sv[i] + ev[i];
    want2[i] = std::exp(tv[i]);
  }
  expect_near_all(vals(ops::add(ops::mul(t, s), e)), want, 1e-14, 0);
  expect_near_all(vals(ops::exp(t)), want2, 1e-14, 0);
  // The output of an op on a non-contiguous input is contiguous.
  EXPECT_TRUE(ops::exp(t).is_contiguous());
  // Large strided case (multi-threaded): permuted 4-d times a broadcast channel vector.
  Tensor x = ops::permute(ramp({8, 16, 32, 24}), {0, 3, 1, 2});  // [8, 24, 16, 32]
  Tensor c = ops::view(ramp({24}), {24, 1, 1});
  expect_near_all(vals(ops::mul(x, c)), ref_binary(x, c, [](double p, double q) { return (double)((float)p * (float)q); }), 0, 0);
}

TEST(TensorElementwise, ComparisonsGiveOnesAndZerosInInputDtype) {
  Tensor a = ops::from_vector(std::vector<double>{1, 2, 3}, {3});
  Tensor b = ops::from_vector(std::vector<double>{2, 2, 2}, {3});
  EXPECT_EQ(ops::eq(a, b).dtype(), DType::Float64);
  EXPECT_EQ(vals(ops::eq(a, b)), (std::vector<double>{0, 1, 0}));
  EXPECT_EQ(vals(ops::ne(a, b)), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(vals(ops::lt(a, b)), (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(vals(ops::le(a, b)), (std::vector<double>{1, 1, 0}));
  EXPECT_EQ(vals(ops::gt(a, b)), (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(vals(ops::ge(a, b)), (std::vector<double>{0, 1, 1}));
  Tensor i = ops::from_vector(std::vector<int64_t>{5, -1}, {2});
  Tensor j = ops::from_vector(std::vector<int64_t>{5, 0}, {2});
  EXPECT_EQ(ops::to_vector_i64(ops::eq(i, j)), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(ops::to_vector_i64(ops::lt(i, j)), (std::vector<int64_t>{0, 1}));
}

TEST(TensorElementwise, Where) {
  Tensor c = ops::from_vector(std::vector<float>{1, 0, 2}, {3, 1});
  Tensor a = ops::full({3, 2}, 7);
  Tensor b = ops::from_vector(std::vector<float>{-1, -2}, {2});
  Tensor w = ops::where(c, a, b);
  EXPECT_EQ(w.shape(), (Shape{3, 2}));
  EXPECT_EQ(vals(w), (std::vector<double>{7, 7, -1, -2, 7, 7}));
  // A condition of another dtype is accepted (nonzero = true).
  Tensor ci = ops::from_vector(std::vector<int64_t>{0, 1, 0}, {3, 1});
  EXPECT_EQ(vals(ops::where(ci, a, b)), (std::vector<double>{-1, -2, 7, 7, -1, -2}));
  expect_error([&] { ops::where(c, a, ops::zeros({2}, DType::Float64)); }, {"where", "float32", "float64"});
  expect_error([&] { ops::where(ops::zeros({4}), a, b); }, {"where", "[4]", "[3, 2]"});
}

TEST(TensorElementwise, UnaryOpsMatchLibm) {
  // Include large magnitudes for exp/sigmoid/silu saturation.
  std::vector<double> xs;
  for (int i = -400; i <= 400; ++i) xs.push_back(i * 0.05);
  for (double x : {-120.0, -88.0, -87.5, -30.0, 30.0, 80.0, 88.5, 89.0, 200.0}) xs.push_back(x);
  struct U { const char* name; Tensor (*op)(const Tensor&); double (*ref)(double); bool positive_only; };
  std::vector<U> us = {
      {"neg", ops::neg, [](double x) { return -x; }, false},
      {"abs", ops::abs, [](double x) { return std::fabs(x); }, false},
      {"sign", ops::sign, [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }, false},
      {"exp", ops::exp, [](double x) { return std::exp(x); }, false},
      {"log", ops::log, [](double x) { return std::log(x); }, true},
      {"sqrt", ops::sqrt, [](double x) { return std::sqrt(x); }, true},
      {"rsqrt", ops::rsqrt, [](double x) { return 1 / std::sqrt(x); }, true},
      {"sin", ops::sin, [](double x) { return std::sin(x); }, false},
      {"cos", ops::cos, [](double x) { return std::cos(x); }, false},
      {"tanh", ops::tanh, [](double x) { return std::tanh(x); }, false},
      {"sigmoid", ops::sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, false},
      {"relu", ops::relu, [](double x) { return x > 0 ? x : 0.0; }, false},
      {"silu", ops::silu, [](double x) { return x / (1 + std::exp(-x)); }, false},
      {"gelu", ops::gelu, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, false},
      {"erf", ops::erf, [](double x) { return std::erf(x); }, false},
      {"square", ops::square, [](double x) { return x * x; }, false},
  };
  for (const U& u : us) {
    SCOPED_TRACE(u.name);
    std::vector<double> in;
    for (double x : xs)
      if (!u.positive_only || x > 0) in.push_back(x);
    for (DType dt : {DType::Float32, DType::Float64}) {
      Tensor x = ops::to(ops::from_vector(in, {static_cast<int64_t>(in.size())}), dt);
      std::vector<double> got = vals(u.op(x)), want(in.size());
      std::vector<double> xin = vals(x);  // float32-rounded inputs
      for (size_t i = 0; i < in.size(); ++i)  // the true value rounded to the tensor's dtype
        want[i] = dt == DType::Float32 ? static_cast<double>(static_cast<float>(u.ref(xin[i]))) : u.ref(xin[i]);
      double rtol = dt == DType::Float32 ? 1e-6 : 1e-14;
      // float32 results near zero (sin, erf) are judged with an absolute tolerance too;
      // gelu(x) = x/2 (1 + erf(x/sqrt2)) cancels for x << 0, leaving a few 1e-7 absolute.
      double atol = dt == DType::Float32 ? (std::string(u.name) == "gelu" ? 1e-6 : 1e-7) : 1e-15;
      expect_near_all(got, want, rtol, atol);
    }
  }
}

// The fused silu backward against g s (1 + x (1 - s)) in double, with a
// broadcast gradient, large magnitudes (saturation) and both dtypes.
TEST(TensorElementwise, SiluBackwardMatchesFormula) {
  std::vector<double> xs;
  for (int i = -40; i <= 40; ++i) xs.push_back(0.37 * i);
  xs.push_back(90.0);
  xs.push_back(-90.0);
  const int64_t n = static_cast<int64_t>(xs.size());
  std::vector<double> gs = {0.5, -2.0};
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = ops::to(ops::from_vector(xs, {1, n}), dt);
    Tensor g = ops::to(ops::from_vector(gs, {2, 1}), dt);  // broadcasts to [2, n]
    Tensor dx = ops::silu_backward(g, x);
    ASSERT_EQ(dx.shape(), (Shape{2, n}));
    std::vector<double> got = vals(dx), want;
    std::vector<double> xin = vals(x);
    for (double gv : gs)
      for (double xv : xin) {
        const double s = 1 / (1 + std::exp(-xv));
        want.push_back(gv * s * (1 + xv * (1 - s)));
      }
    expect_near_all(got, want, dt == DType::Float32 ? 2e-6 : 1e-14, dt == DType::Float32 ? 1e-7 : 1e-15);
  }
  EXPECT_THROW(ops::silu_backward(ops::zeros({3}), ops::zeros({4})), Error);                      // shapes
  EXPECT_THROW(ops::silu_backward(ops::zeros({3}, DType::Int64), ops::zeros({3}, DType::Int64)), Error);  // dtype
}

TEST(TensorElementwise, ExpEdgeCases) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  Tensor x = ops::from_vector(std::vector<float>{0.0f, 1.0f, -1.0f, 100.0f, -100.0f, (float)inf, (float)-inf, (float)nan}, {8});
  std::vector<double> e = vals(ops::exp(x));
  EXPECT_EQ(e[0], 1.0);
  EXPECT_NEAR(e[1], std::exp(1.0), 3e-7);
  EXPECT_NEAR(e[2], std::exp(-1.0), 1e-7);
  EXPECT_EQ(e[3], inf);
  EXPECT_EQ(e[4], 0.0);
  EXPECT_EQ(e[5], inf);
  EXPECT_EQ(e[6], 0.0);
  EXPECT_TRUE(std::isnan(e[7]));
  std::vector<double> s = vals(ops::sigmoid(x));
  EXPECT_EQ(s[5], 1.0);
  EXPECT_EQ(s[6], 0.0);
  std::vector<double> si = vals(ops::silu(x));
  EXPECT_EQ(si[3], 100.0);
  EXPECT_NEAR(si[4], 0.0, 1e-30);
  EXPECT_TRUE(std::isnan(vals(ops::maximum(x, ops::zeros({8})))[7]));  // NaN propagates
  EXPECT_TRUE(std::isnan(vals(ops::relu(x))[7]));
}

TEST(TensorElementwise, ScalarForms) {
  Tensor x = ops::from_vector(std::vector<double>{-2, -0.5, 0.25, 3}, {4});
  EXPECT_EQ(vals(ops::affine(x, 2, 1)), (std::vector<double>{-3, 0, 1.5, 7}));
  EXPECT_EQ(vals(ops::add(x, 1)), (std::vector<double>{-1, 0.5, 1.25, 4}));
  EXPECT_EQ(vals(ops::sub(x, 1)), (std::vector<double>{-3, -1.5, -0.75, 2}));
  EXPECT_EQ(vals(ops::mul(x, -2)), (std::vector<double>{4, 1, -0.5, -6}));
  EXPECT_EQ(vals(ops::div(x, 4)), (std::vector<double>{-0.5, -0.125, 0.0625, 0.75}));
  EXPECT_EQ(vals(ops::rsub(1, x)), (std::vector<double>{3, 1.5, 0.75, -2}));
  EXPECT_EQ(vals(ops::clamp(x, -1, 1)), (std::vector<double>{-1, -0.5, 0.25, 1}));
  EXPECT_EQ(vals(ops::maximum(x, 0.0)), (std::vector<double>{0, 0, 0.25, 3}));
  EXPECT_EQ(vals(ops::minimum(x, 0.0)), (std::vector<double>{-2, -0.5, 0, 0}));
  EXPECT_EQ(vals(ops::pow(x, 2)), (std::vector<double>{4, 0.25, 0.0625, 9}));
  EXPECT_EQ(vals(ops::pow(x, 3)), (std::vector<double>{-8, -0.125, 0.015625, 27}));
  EXPECT_EQ(vals(ops::pow(x, -1)), (std::vector<double>{-0.5, -2, 4, 1.0 / 3}));
  Tensor p = ops::from_vector(std::vector<double>{4, 0.25}, {2});
  EXPECT_EQ(vals(ops::pow(p, 0.5)), (std::vector<double>{2, 0.5}));
  EXPECT_EQ(vals(ops::pow(p, -0.5)), (std::vector<double>{0.5, 2}));
  EXPECT_NEAR(vals(ops::pow(p, 1.5))[0], 8.0, 1e-12);
  expect_error([&] { ops::clamp(x, 1, -1); }, {"clamp", "lo"});
}

TEST(TensorElementwise, Int64Ops) {
  Tensor a = ops::from_vector(std::vector<int64_t>{-3, 0, 5, (int64_t(1) << 40) + 1}, {4});
  Tensor b = ops::from_vector(std::vector<int64_t>{2}, {1});
  EXPECT_EQ(ops::to_vector_i64(ops::add(a, b)), (std::vector<int64_t>{-1, 2, 7, (int64_t(1) << 40) + 3}));
  EXPECT_EQ(ops::to_vector_i64(ops::sub(a, b)), (std::vector<int64_t>{-5, -2, 3, (int64_t(1) << 40) - 1}));
  EXPECT_EQ(ops::to_vector_i64(ops::mul(a, b)), (std::vector<int64_t>{-6, 0, 10, (int64_t(1) << 41) + 2}));
  EXPECT_EQ(ops::to_vector_i64(ops::maximum(a, b)), (std::vector<int64_t>{2, 2, 5, (int64_t(1) << 40) + 1}));
  EXPECT_EQ(ops::to_vector_i64(ops::minimum(a, b)), (std::vector<int64_t>{-3, 0, 2, 2}));
  EXPECT_EQ(ops::to_vector_i64(ops::neg(a))[0], 3);
  EXPECT_EQ(ops::to_vector_i64(ops::abs(a))[0], 3);
  EXPECT_EQ(ops::to_vector_i64(ops::affine(a, 3, -1)), (std::vector<int64_t>{-10, -1, 14, 3 * ((int64_t(1) << 40) + 1) - 1}));
  EXPECT_EQ(ops::to_vector_i64(ops::clamp(a, -1, 4)), (std::vector<int64_t>{-1, 0, 4, 4}));
  EXPECT_EQ(ops::to_vector_i64(ops::maximum(a, 0.0)), (std::vector<int64_t>{0, 0, 5, (int64_t(1) << 40) + 1}));
  Tensor c = ops::from_vector(std::vector<int64_t>{1, 0, 0, 1}, {4});
  EXPECT_EQ(ops::to_vector_i64(ops::where(c, a, b)), (std::vector<int64_t>{-3, 2, 2, (int64_t(1) << 40) + 1}));
  expect_error([&] { ops::exp(a); }, {"Exp", "int64"});
  expect_error([&] { ops::div(a, b); }, {"Div", "int64"});
  expect_error([&] { ops::add(a, 0.5); }, {"int64", "0.5"});
}

TEST(TensorElementwise, ErrorsNameBothSides) {
  Tensor a = ops::zeros({2, 3}), b = ops::zeros({4}), d = ops::zeros({2, 3}, DType::Float64);
  expect_error([&] { ops::add(a, b); }, {"Add", "[2, 3]", "[4]"});
  expect_error([&] { ops::mul(a, d); }, {"Mul", "float32", "float64"});
}

TEST(TensorElementwise, EmptyAndScalarTensors) {
  Tensor e = ops::zeros({0, 3});
  EXPECT_EQ(ops::add(e, ops::ones({3})).shape(), (Shape{0, 3}));
  EXPECT_EQ(ops::exp(e).numel(), 0);
  Tensor s = ops::scalar_tensor(2.0);
  EXPECT_EQ(ops::item(ops::mul(s, s)), 4.0);
  EXPECT_EQ(ops::mul(s, s).dim(), 0);
}
