// Indexing, softmax, group/layer norm and losses on the CPU: exact small
// examples, stability, error messages. Values against float64 references
// over shapes and layouts: the op-test registry (tests/op_cases_nn.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;
using drift::test::vals;

namespace {

std::vector<double> random_values(int64_t n, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = u(gen);
  return v;
}

Tensor random_tensor(const Shape& shape, uint32_t seed, DType dtype = DType::Float32) {
  return ops::to(ops::from_vector(random_values(shape_numel(shape), seed), shape), dtype);
}

Tensor f64(const std::vector<double>& v, const Shape& s) { return ops::from_vector(v, s); }

}  // namespace

// ------------------------------------------------------------------------ indexing
TEST(TensorIndex, IndexSelectAlongEachDim) {
  // t[i, j, k] = 100 i + 10 j + k, shape [2, 3, 4]
  std::vector<double> v;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) v.push_back(100 * i + 10 * j + k);
  Tensor t = f64(v, {2, 3, 4});
  Tensor idx = ops::from_vector(std::vector<int64_t>{2, 0, 2}, {3});
  Tensor s1 = ops::index_select(t, 1, idx);
  ASSERT_EQ(s1.shape(), (Shape{2, 3, 4}));
  const std::vector<double> s1v = vals(s1);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(s1v[(i * 3 + j) * 4 + k], 100 * i + 10 * (j == 1 ? 0 : 2) + k);
  Tensor s0 = ops::index_select(t, 0, ops::from_vector(std::vector<int64_t>{1}, {1}));
  EXPECT_EQ(vals(s0), std::vector<double>(v.begin() + 12, v.end()));
  Tensor s2 = ops::index_select(t, -1, ops::from_vector(std::vector<int64_t>{3, 1}, {2}));
  ASSERT_EQ(s2.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(vals(s2)[0], 3);
  EXPECT_EQ(vals(s2)[1], 1);
  EXPECT_EQ(vals(s2)[11], 121);
  // int64 tensors and a non-contiguous source.
  Tensor ti = ops::from_vector(std::vector<int64_t>{5, 6, 7, 8}, {2, 2});
  EXPECT_EQ(ops::to_vector_i64(ops::index_select(ops::transpose(ti, 0, 1), 0, ops::from_vector(std::vector<int64_t>{1}, {1}))),
            (std::vector<int64_t>{6, 8}));
}

TEST(TensorIndex, IndexAddAccumulatesRepeatedIndices) {
  Tensor src = f64({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor idx = ops::from_vector(std::vector<int64_t>{1, 3, 1}, {3});
  Tensor out = ops::index_add({4, 2}, 0, idx, src);
  EXPECT_EQ(vals(out), (std::vector<double>{0, 0, 1 + 5, 2 + 6, 0, 0, 3, 4}));
  // Along the last dim with a large inner block, and with outer = 1 (split inner).
  Tensor big = random_tensor({1, 5, 300}, 1, DType::Float64);
  Tensor idx2 = ops::from_vector(std::vector<int64_t>{0, 2, 2, 1, 0}, {5});
  Tensor acc = ops::index_add({1, 3, 300}, 1, idx2, big);
  const std::vector<double> bv = vals(big), av = vals(acc);
  for (int j = 0; j < 300; ++j) {
    EXPECT_NEAR(av[0 * 300 + j], bv[0 * 300 + j] + bv[4 * 300 + j], 1e-15);
    EXPECT_NEAR(av[1 * 300 + j], bv[3 * 300 + j], 1e-15);
    EXPECT_NEAR(av[2 * 300 + j], bv[1 * 300 + j] + bv[2 * 300 + j], 1e-15);
  }
}

TEST(TensorIndex, OutOfRangeIndexIsAClearError) {
  Tensor t = ops::zeros({3, 4});
  expect_error([&] { ops::index_select(t, 0, ops::from_vector(std::vector<int64_t>{0, 3}, {2})); },
               {"index 3", "position 1", "size 3"});
  expect_error([&] { ops::index_select(t, 1, ops::from_vector(std::vector<int64_t>{-1}, {1})); }, {"index -1"});
  expect_error([&] { ops::index_select(t, 0, ops::zeros({2})); }, {"int64", "float32"});
  expect_error([&] { ops::index_add({3, 4}, 0, ops::from_vector(std::vector<int64_t>{0}, {1}), ops::zeros({2, 4})); },
               {"[2, 4]", "[1, 4]"});
  expect_error([&] { ops::index_add({3, 4}, 0, ops::from_vector(std::vector<int64_t>{7}, {1}), ops::zeros({1, 4})); },
               {"index 7"});
}

TEST(TensorIndex, EmbeddingAndOneHot) {
  Tensor w = f64({0, 1, 10, 11, 20, 21}, {3, 2});
  Tensor ids = ops::from_vector(std::vector<int64_t>{2, 0, 1, 2}, {2, 2});
  Tensor e = ops::embedding(w, ids);
  ASSERT_EQ(e.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(vals(e), (std::vector<double>{20, 21, 0, 1, 10, 11, 20, 21}));
  Tensor oh = ops::one_hot(ops::from_vector(std::vector<int64_t>{1, 0, 2}, {3}), 3);
  EXPECT_EQ(oh.dtype(), DType::Float32);
  EXPECT_EQ(vals(oh), (std::vector<double>{0, 1, 0, 1, 0, 0, 0, 0, 1}));
  EXPECT_EQ(ops::one_hot(ids, 4, DType::Float64).shape(), (Shape{2, 2, 4}));
  expect_error([] { ops::one_hot(ops::from_vector(std::vector<int64_t>{5}, {1}), 3); }, {"index 5"});
  expect_error([&] { ops::embedding(ops::zeros({3}), ids); }, {"[V, D]", "[3]"});
}

TEST(TensorSoftmax, StableForLargeInputs) {
  Tensor x = f64({1000, 1001, 1002, -1000, -1000, -1000}, {2, 3});
  const std::vector<double> y = vals(ops::softmax(x, 1)), ly = vals(ops::log_softmax(x, 1));
  const double z = 1 + std::exp(1.0) + std::exp(2.0);
  EXPECT_NEAR(y[2], std::exp(2.0) / z, 1e-12);
  EXPECT_NEAR(y[3], 1.0 / 3, 1e-12);
  EXPECT_NEAR(ly[0], -std::log(z), 1e-12);
  for (double v : y) EXPECT_TRUE(std::isfinite(v));
  Tensor xf = ops::to(x, DType::Float32);
  for (double v : vals(ops::log_softmax(xf, 1))) EXPECT_TRUE(std::isfinite(v));
}

TEST(TensorGroupNorm, ErrorsNameTheShapes) {
  expect_error([] { ops::group_norm(ops::zeros({2, 6, 3}), 4, Tensor(), Tensor(), 1e-5); },
               {"6 channels", "[2, 6, 3]", "4 groups"});
  expect_error([] { ops::group_norm(ops::zeros({2, 6, 3}), 3, ops::ones({5}), Tensor(), 1e-5); },
               {"weight", "[6]", "[5]", "[2, 6, 3]"});
  expect_error(
      [] {
        ops::group_norm_backward(ops::zeros({2, 6, 4}), ops::zeros({2, 6, 3}), ops::zeros({2, 3}), ops::zeros({2, 3}),
                                 Tensor(), 3);
      },
      {"[2, 6, 4]", "[2, 6, 3]"});
}

// ------------------------------------------------------------------------ losses
// ops::attention refuses bad arguments naming the shapes (and changes nothing).
TEST(TensorAttention, ErrorsNameTheShapes) {
  expect_error([] { ops::attention(ops::zeros({2, 4, 5}), ops::zeros({2, 3, 5}), ops::zeros({2, 4, 5}), 1.0); },
               {"attention", "[2, 4, 5]", "[2, 3, 5]"});
  expect_error([] { ops::attention(ops::zeros({2, 4, 5}), ops::zeros({2, 4, 6}), ops::zeros({2, 4, 5}), 1.0); },
               {"attention", "v [G, dv, Nk]", "[2, 4, 6]"});
  expect_error([] { ops::attention(ops::zeros({4, 5}), ops::zeros({4, 5}), ops::zeros({4, 5}), 1.0); },
               {"attention", "q [G, d, Nq]"});
  expect_error([] { ops::attention(ops::zeros({1, 4, 5}), ops::zeros({1, 4, 0}), ops::zeros({1, 4, 0}), 1.0); },
               {"attention", "at least one key"});
  expect_error([] { ops::attention(ops::zeros({1, 0, 5}), ops::zeros({1, 0, 3}), ops::zeros({1, 2, 3}), 1.0); },
               {"attention", "at least one channel"});
  expect_error(
      [] { ops::attention(ops::zeros({1, 2, 3}), ops::zeros({1, 2, 3}, DType::Float64), ops::zeros({1, 2, 3}), 1.0); },
      {"attention", "float64"});
  // softmax over one key is 1: out = v.
  Tensor v = ops::full({2, 3, 1}, 2.5);
  for (float e : ops::to_vector_f32(ops::attention(ops::ones({2, 4, 7}), ops::ones({2, 4, 1}), v, 0.5)))
    EXPECT_EQ(e, 2.5f);
}

TEST(TensorLoss, MseMatchesHandComputation) {
  Tensor p = f64({1, 2, 3, 4}, {2, 2}), t = f64({1, 0, 5, 1}, {2, 2});
  EXPECT_NEAR(ops::item(ops::mse_loss(p, t)), (0 + 4 + 4 + 9) / 4.0, 1e-12);
  expect_error([&] { ops::mse_loss(p, ops::zeros({4}, DType::Float64)); }, {"[2, 2]", "[4]"});
}

TEST(TensorLoss, CrossEntropyMatchesHandComputation) {
  // Row 0: logits (0, ln 3) -> p = (1/4, 3/4); row 1: (0, 0, 0) padded with -inf-like.
  Tensor logits = f64({0, std::log(3.0), 2, 2}, {2, 2});
  Tensor labels = ops::from_vector(std::vector<int64_t>{1, 0}, {2});
  const double want = -(std::log(0.75) + std::log(0.5)) / 2;
  Tensor loss = ops::cross_entropy(logits, labels);
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_NEAR(ops::item(loss), want, 1e-12);
  EXPECT_NEAR(ops::item(ops::cross_entropy(ops::to(logits, DType::Float32), labels)), want, 1e-6);
  expect_error([&] { ops::cross_entropy(logits, ops::from_vector(std::vector<int64_t>{1, 2}, {2})); },
               {"label 2", "position 1", "2 classes"});
  expect_error([&] { ops::cross_entropy(logits, ops::from_vector(std::vector<int64_t>{1, 0, 0}, {3})); },
               {"[2, 2]", "[3]"});
  expect_error([&] { ops::cross_entropy(f64({1, 2, 3}, {3}), labels); }, {"[N, C]", "[3]"});
}
