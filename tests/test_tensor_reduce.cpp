// Reductions: any set of dims, keepdim, non-contiguous inputs, accuracy, utilities.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;
using drift::test::vals;

namespace {

Tensor ramp(const Shape& shape, DType dt = DType::Float64) {
  int64_t n = shape_numel(shape);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = std::sin(0.61 * static_cast<double>(i) + 0.3) * 2.0 + 0.5;
  return ops::to(ops::from_vector(v, shape), dt);
}

// Reference reduction on the host: reduces `x` (any shape, <= 4 dims) over the dims
// flagged in `mask`, combining with f from init; returns values in row-major order of
// the kept dims.
std::vector<double> ref_reduce(const Tensor& x, const std::vector<bool>& mask, double init,
                               double (*f)(double, double)) {
  Shape s = x.shape();
  while (s.size() < 4) s.insert(s.begin(), 1);
  std::vector<bool> m = mask;
  while (m.size() < 4) m.insert(m.begin(), false);
  std::vector<double> xv = vals(x);
  Shape os(4);
  for (int d = 0; d < 4; ++d) os[d] = m[d] ? 1 : s[d];
  std::vector<double> out(shape_numel(os), init);
  for (int64_t a = 0; a < s[0]; ++a)
    for (int64_t b = 0; b < s[1]; ++b)
      for (int64_t c = 0; c < s[2]; ++c)
        for (int64_t d = 0; d < s[3]; ++d) {
          int64_t i = ((a * s[1] + b) * s[2] + c) * s[3] + d;
          int64_t oa = m[0] ? 0 : a, ob = m[1] ? 0 : b, oc = m[2] ? 0 : c, od = m[3] ? 0 : d;
          int64_t o = ((oa * os[1] + ob) * os[2] + oc) * os[3] + od;
          out[o] = f(out[o], xv[i]);
        }
  return out;
}
double add_f(double a, double b) { return a + b; }
double max_f(double a, double b) { return std::max(a, b); }
double min_f(double a, double b) { return std::min(a, b); }

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= tol * (1 + std::fabs(want[i]))) && bad++ < 5)
      ADD_FAILURE() << "at " << i << ": got " << got[i] << ", want " << want[i];
  EXPECT_EQ(bad, 0u);
}
}  // namespace

TEST(TensorReduce, EveryDimSubsetOf4d) {
  Tensor x = ramp({3, 4, 5, 6});
  for (int mask = 0; mask < 16; ++mask) {
    std::vector<int64_t> dims;
    std::vector<bool> m(4);
    for (int d = 0; d < 4; ++d)
      if (mask & (1 << d)) {
        dims.push_back(d);
        m[d] = true;
      }
    if (dims.empty()) m = {true, true, true, true};  // empty list = all dims
    SCOPED_TRACE("dims " + shape_str(dims));
    Tensor s = ops::sum(x, dims, /*keepdim=*/true);
    Shape want_shape(4);
    for (int d = 0; d < 4; ++d) want_shape[d] = m[d] ? 1 : x.size(d);
    EXPECT_EQ(s.shape(), want_shape);
    expect_near_all(vals(s), ref_reduce(x, m, 0, add_f), 1e-12);
    expect_near_all(vals(ops::amax(x, dims)), ref_reduce(x, m, -1e300, max_f), 0);
    expect_near_all(vals(ops::amin(x, dims)), ref_reduce(x, m, 1e300, min_f), 0);
    Tensor mn = ops::mean(x, dims);
    double count = 1;
    for (int d = 0; d < 4; ++d) count *= m[d] ? x.size(d) : 1;
    std::vector<double> want = ref_reduce(x, m, 0, add_f);
    for (double& w : want) w /= count;
    expect_near_all(vals(mn), want, 1e-12);
  }
}

TEST(TensorReduce, KeepdimAndShapes) {
  Tensor x = ramp({2, 3, 4});
  EXPECT_EQ(ops::sum(x, {1}).shape(), (Shape{2, 4}));
  EXPECT_EQ(ops::sum(x, {1}, true).shape(), (Shape{2, 1, 4}));
  EXPECT_EQ(ops::sum(x, {-1, 0}).shape(), (Shape{3}));
  EXPECT_EQ(ops::sum(x).shape(), (Shape{}));
  EXPECT_EQ(ops::sum(x, {}, true).shape(), (Shape{1, 1, 1}));
  Tensor s = ops::scalar_tensor(3.0);
  EXPECT_EQ(ops::item(ops::sum(s)), 3.0);
  EXPECT_EQ(ops::item(ops::mean(s)), 3.0);
  expect_error([&] { ops::sum(x, {3}); }, {"dim 3", "rank 3"});
  expect_error([&] { ops::sum(x, {1, -2}); }, {"repeated"});
}

TEST(TensorReduce, NonContiguousInputs) {
  Tensor base = ramp({5, 6, 7});
  Tensor p = ops::permute(base, {2, 0, 1});  // [7, 5, 6]
  Tensor pc = ops::contiguous(p);
  for (std::vector<int64_t> dims : {std::vector<int64_t>{0}, {1}, {2}, {0, 2}, {1, 2}}) {
    expect_near_all(vals(ops::sum(p, dims)), vals(ops::sum(pc, dims)), 1e-13);
    expect_near_all(vals(ops::amax(p, dims)), vals(ops::amax(pc, dims)), 0);
  }
  Tensor e = ops::expand(ramp({1, 6}), {4, 6});  // stride 0
  expect_near_all(vals(ops::sum(e, {0})), vals(ops::mul(ramp({6}), 4.0)), 1e-13);
  Tensor sl = ops::slice(ramp({10, 8}), 0, 1, 10, 3);  // rows 1, 4, 7
  std::vector<double> all = vals(ramp({10, 8}));
  std::vector<double> want(8, 0);
  for (int r : {1, 4, 7})
    for (int c = 0; c < 8; ++c) want[c] += all[r * 8 + c];
  expect_near_all(vals(ops::sum(sl, {0})), want, 1e-13);
}

TEST(TensorReduce, LargeShapesTakeEveryKernelPath) {
  // Long rows (split across threads), many short rows, and wide inner dims.
  for (Shape shape : {Shape{1, 300000}, Shape{3, 100000}, Shape{5000, 7}, Shape{7, 5000}, Shape{16, 8, 28, 28},
                      Shape{40000, 3, 5}, Shape{20000, 64}}) {
    SCOPED_TRACE(shape_str(shape));
    Tensor x = ramp(shape, DType::Float32);
    Tensor xd = ops::to(x, DType::Float64);
    for (int64_t d = 0; d < x.dim(); ++d) {
      expect_near_all(vals(ops::sum(x, {d})), vals(ops::sum(xd, {d})), 1e-6);
      expect_near_all(vals(ops::amax(x, {d})), vals(ops::amax(xd, {d})), 0);
    }
    expect_near_all(vals(ops::sum(x)), vals(ops::sum(xd)), 1e-6);
  }
  Tensor nchw = ramp({16, 8, 28, 28}, DType::Float32);
  std::vector<bool> m = {true, false, true, true};
  expect_near_all(vals(ops::sum(nchw, {0, 2, 3})), ref_reduce(ops::to(nchw, DType::Float64), m, 0, add_f), 1e-6);
}

TEST(TensorReduce, Float32SumIsAccurate) {
  // 1e6 copies of 0.1f: a naive float accumulator drifts by ~1%; double accumulation does not.
  Tensor x = ops::full({1000000}, 0.1);
  double want = 1e6 * static_cast<double>(0.1f);
  EXPECT_NEAR(ops::item(ops::sum(x)), want, want * 1e-6);
  Tensor y = ops::full({1000, 1000}, 0.1);
  std::vector<double> cols = vals(ops::sum(y, {0}));
  EXPECT_NEAR(cols[17], 1000 * static_cast<double>(0.1f), 1e-3);
}

TEST(TensorReduce, VarMatchesTwoPassFormula) {
  Tensor x = ops::add(ramp({4, 50}), 1e4);  // a large mean: the one-pass formula would lose digits
  std::vector<double> xv = vals(x);
  for (int64_t correction : {0, 1}) {
    std::vector<double> want(4);
    for (int r = 0; r < 4; ++r) {
      double m = 0, s = 0;
      for (int c = 0; c < 50; ++c) m += xv[r * 50 + c];
      m /= 50;
      for (int c = 0; c < 50; ++c) s += (xv[r * 50 + c] - m) * (xv[r * 50 + c] - m);
      want[r] = s / (50 - correction);
    }
    expect_near_all(vals(ops::var(x, {1}, false, correction)), want, 1e-10);
  }
  Tensor xf = ops::to(x, DType::Float32);
  EXPECT_NEAR(ops::item(ops::var(xf)), ops::item(ops::var(x)), 1e-3);
  EXPECT_EQ(ops::var(x, {1}, true).shape(), (Shape{4, 1}));
  EXPECT_TRUE(std::isnan(ops::item(ops::var(ops::ones({1})))));  // n - 1 = 0
}

TEST(TensorReduce, ArgmaxArgmin) {
  Tensor x = ops::from_vector(std::vector<float>{1, 5, 5, -2, 0, 3, 3, -7, 9}, {3, 3});
  EXPECT_EQ(ops::argmax(x, 1).dtype(), DType::Int64);
  EXPECT_EQ(ops::to_vector_i64(ops::argmax(x, 1)), (std::vector<int64_t>{1, 2, 2}));  // first of equal maxima
  EXPECT_EQ(ops::to_vector_i64(ops::argmin(x, 1)), (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(ops::to_vector_i64(ops::argmax(x, 0)), (std::vector<int64_t>{2, 0, 2}));
  EXPECT_EQ(ops::argmax(x, 0, true).shape(), (Shape{1, 3}));
  EXPECT_EQ(ops::to_vector_i64(ops::argmax(ops::transpose(x, 0, 1), 1)), (std::vector<int64_t>{2, 0, 2}));
  Tensor n = ops::from_vector(std::vector<double>{1, std::nan(""), 3}, {3});
  EXPECT_EQ(ops::item(ops::argmax(n, 0)), 1);
  EXPECT_TRUE(std::isnan(ops::item(ops::amax(n))));
  expect_error([&] { ops::argmax(ops::zeros({2, 0}), 1); }, {"argmax", "size 0"});
}

TEST(TensorReduce, Int64SumAndMax) {
  Tensor x = ops::from_vector(std::vector<int64_t>{1, 2, 3, (int64_t(1) << 53) + 1}, {2, 2});
  EXPECT_EQ(ops::to_vector_i64(ops::sum(x, {1})), (std::vector<int64_t>{3, 3 + (int64_t(1) << 53) + 1}));
  EXPECT_EQ(ops::to_vector_i64(ops::amax(x, {0})), (std::vector<int64_t>{3, (int64_t(1) << 53) + 1}));
  expect_error([&] { ops::mean(x); }, {"mean", "int64"});
}

TEST(TensorReduce, LogSumExp) {
  Tensor x = ops::from_vector(std::vector<double>{1000, 1000, -1, 2, 0, 0}, {3, 2});
  std::vector<double> got = vals(ops::logsumexp(x, {1}));
  EXPECT_NEAR(got[0], 1000 + std::log(2.0), 1e-12);
  EXPECT_NEAR(got[1], std::log(std::exp(-1.0) + std::exp(2.0)), 1e-12);
  EXPECT_NEAR(got[2], std::log(2.0), 1e-12);
  EXPECT_EQ(ops::logsumexp(x, {1}, true).shape(), (Shape{3, 1}));
  const double inf = std::numeric_limits<double>::infinity();
  Tensor y = ops::from_vector(std::vector<double>{-inf, -inf, inf, 1}, {2, 2});
  std::vector<double> g2 = vals(ops::logsumexp(y, {1}));
  EXPECT_EQ(g2[0], -inf);
  EXPECT_EQ(g2[1], inf);
}

TEST(TensorReduce, SumToUndoesBroadcast) {
  Tensor g = ramp({2, 3, 4});
  Tensor r = ops::sum_to(g, {3, 1});
  EXPECT_EQ(r.shape(), (Shape{3, 1}));
  std::vector<double> gv = vals(g), want(3, 0);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c) want[b] += gv[(a * 3 + b) * 4 + c];
  expect_near_all(vals(r), want, 1e-13);
  EXPECT_TRUE(ops::sum_to(g, {2, 3, 4}).is_same(g));
  EXPECT_EQ(ops::sum_to(g, {}).shape(), (Shape{}));
  EXPECT_NEAR(ops::item(ops::sum_to(g, {})), ops::item(ops::sum(g)), 1e-12);
  EXPECT_EQ(ops::sum_to(g, {1, 4}).shape(), (Shape{1, 4}));
  expect_error([&] { ops::sum_to(g, {2, 4}); }, {"sum_to", "[2, 3, 4]", "[2, 4]"});
}

TEST(TensorReduce, EmptyReductions) {
  Tensor e = ops::zeros({0, 3});
  EXPECT_EQ(vals(ops::sum(e, {0})), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(ops::sum(e, {1}).shape(), (Shape{0}));
  expect_error([&] { ops::amax(e, {0}); }, {"amax", "size 0", "[0, 3]"});
}

TEST(TensorUtil, AllcloseAndMaxAbsDiff) {
  Tensor a = ops::from_vector(std::vector<double>{1, 2, 3}, {3});
  Tensor b = ops::from_vector(std::vector<double>{1, 2 + 1e-9, 3}, {3});
  EXPECT_TRUE(ops::allclose(a, b));
  EXPECT_FALSE(ops::allclose(a, ops::add(b, 1e-3)));
  EXPECT_TRUE(ops::allclose(a, ops::add(b, 1e-3), 0, 1e-2));
  EXPECT_NEAR(ops::max_abs_diff(a, ops::mul(a, 2.0)), 3.0, 0);
  EXPECT_EQ(ops::max_abs_diff(ops::zeros({0}), ops::zeros({0})), 0.0);
  Tensor n = ops::from_vector(std::vector<double>{1, std::nan(""), 3}, {3});
  EXPECT_FALSE(ops::allclose(n, n));
  EXPECT_TRUE(std::isnan(ops::max_abs_diff(a, n)));
  // Different dtypes compare by value.
  EXPECT_TRUE(ops::allclose(ops::to(a, DType::Float32), a));
  expect_error([&] { ops::allclose(a, ops::zeros({2})); }, {"allclose", "[3]", "[2]"});
  ops::synchronize(Device::CPU);
}
