// Elementwise ops: exact small examples, comparisons, where, scalar forms,
// int64, error messages. Values over broadcasting shapes, layouts and every
// unary op against the C library: the op-test registry
// (tests/op_cases_elementwise.cpp).
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

// The output of an op on a non-contiguous input is contiguous (values: tests/op_cases_elementwise.cpp).
TEST(TensorElementwise, OutputOfAStridedInputIsContiguous) {
  Tensor t = ops::transpose(ops::zeros({6, 8}, DType::Float64), 0, 1);
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_TRUE(ops::exp(t).is_contiguous());
  EXPECT_TRUE(ops::add(t, ops::expand(ops::zeros({8, 1}, DType::Float64), {8, 6})).is_contiguous());
}

TEST(TensorElementwise, ErrorsNameBothSides) {
  Tensor a = ops::zeros({2, 3}), b = ops::zeros({4}), d = ops::zeros({2, 3}, DType::Float64);
  expect_error([&] { ops::add(a, b); }, {"Add", "[2, 3]", "[4]"});
  expect_error([&] { ops::mul(a, d); }, {"Mul", "float32", "float64"});
  EXPECT_THROW(ops::silu_backward(ops::zeros({3}), ops::zeros({4})), Error);                      // shapes
  EXPECT_THROW(ops::silu_backward(ops::zeros({3}, DType::Int64), ops::zeros({3}, DType::Int64)), Error);  // dtype
}

TEST(TensorElementwise, EmptyAndScalarTensors) {
  Tensor e = ops::zeros({0, 3});
  EXPECT_EQ(ops::add(e, ops::ones({3})).shape(), (Shape{0, 3}));
  EXPECT_EQ(ops::exp(e).numel(), 0);
  Tensor s = ops::scalar_tensor(2.0);
  EXPECT_EQ(ops::item(ops::mul(s, s)), 4.0);
  EXPECT_EQ(ops::mul(s, s).dim(), 0);
}
