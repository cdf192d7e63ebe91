// Reductions: shapes and keepdim, accuracy, ties, NaN, int64, errors, utilities.
// Values over every dim set, layout and kernel path against a float64
// reference: the op-test registry (tests/op_cases_reduce.cpp).
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

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= tol * (1 + std::fabs(want[i]))) && bad++ < 5)
      ADD_FAILURE() << "at " << i << ": got " << got[i] << ", want " << want[i];
  EXPECT_EQ(bad, 0u);
}
}  // namespace

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
  EXPECT_EQ(ops::var(x, {1}, true).shape(), (Shape{2, 1, 4}));
  EXPECT_TRUE(std::isnan(ops::item(ops::var(ops::ones({1})))));  // n - 1 = 0
  expect_error([&] { ops::sum(x, {3}); }, {"dim 3", "rank 3"});
  expect_error([&] { ops::sum(x, {1, -2}); }, {"repeated"});
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
