// Indexing, softmax, group/layer norm and losses on the CPU.
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

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << " at element " << i;
}

// Central differences of the scalar f at x (float64), one element at a time.
std::vector<double> numerical_grad(const std::function<double(const std::vector<double>&)>& f,
                                   std::vector<double> x, double h = 1e-6) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = f(x);
    x[i] = keep - h;
    const double down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
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

// <index_select(t, d, idx), g> = <t, index_add(shape(t), d, idx, g)>
TEST(TensorIndex, IndexAddIsTheAdjointOfIndexSelect) {
  const Shape shape = {6, 5, 7};
  Tensor t = random_tensor(shape, 2, DType::Float64);
  Tensor idx = ops::from_vector(std::vector<int64_t>{4, 0, 4, 3, 1, 4, 2, 2}, {8});
  for (int64_t d = 0; d < 3; ++d) {
    Tensor sel = ops::index_select(t, d, idx);
    Tensor g = random_tensor(sel.shape(), 3 + d, DType::Float64);
    EXPECT_NEAR(dot(vals(sel), vals(g)), dot(vals(t), vals(ops::index_add(shape, d, idx, g))), 1e-12) << "dim " << d;
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

// ------------------------------------------------------------------------ softmax
TEST(TensorSoftmax, RowsSumToOneAndMatchTheFormula) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Shape shape = {3, 5, 4};
    Tensor x = ops::mul(random_tensor(shape, 10, dt), 3.0);
    const std::vector<double> xv = vals(x);
    for (int64_t d : {0, 1, 2}) {
      Tensor y = ops::softmax(x, d), ly = ops::log_softmax(x, d);
      const std::vector<double> yv = vals(y), lyv = vals(ly);
      const int64_t n = shape[d], inner = d == 2 ? 1 : (d == 1 ? 4 : 20), outer = 60 / (n * inner);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < inner; ++j) {
          double z = 0, total = 0;
          for (int64_t i = 0; i < n; ++i) z += std::exp(xv[(o * n + i) * inner + j]);
          for (int64_t i = 0; i < n; ++i) {
            const int64_t at = (o * n + i) * inner + j;
            const double want = std::exp(xv[at]) / z;
            EXPECT_NEAR(yv[at], want, 1e-6) << "dim " << d;
            EXPECT_NEAR(lyv[at], std::log(want), 1e-5) << "dim " << d;
            total += yv[at];
          }
          EXPECT_NEAR(total, 1.0, 1e-6);
        }
    }
  }
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

// ------------------------------------------------------------------------ group norm
TEST(TensorGroupNorm, GroupsHaveZeroMeanAndUnitVariance) {
  const int64_t N = 3, C = 6, H = 4, W = 5, G = 3;
  Tensor x = ops::affine(random_tensor({N, C, H, W}, 20), 4.0, 7.0);  // mean ~7, not normalised
  ops::NormResult r = ops::group_norm(x, G, Tensor(), Tensor(), 1e-5);
  ASSERT_EQ(r.y.shape(), x.shape());
  ASSERT_EQ(r.mean.shape(), (Shape{N, G}));
  ASSERT_EQ(r.rstd.shape(), (Shape{N, G}));
  const std::vector<double> xv = vals(x), yv = vals(r.y), mv = vals(r.mean), rv = vals(r.rstd);
  const int64_t K = (C / G) * H * W;
  for (int64_t ng = 0; ng < N * G; ++ng) {
    double m = 0, v = 0, xm = 0, xvar = 0;
    for (int64_t i = 0; i < K; ++i) {
      m += yv[ng * K + i];
      xm += xv[ng * K + i];
    }
    m /= K;
    xm /= K;
    for (int64_t i = 0; i < K; ++i) {
      v += (yv[ng * K + i] - m) * (yv[ng * K + i] - m);
      xvar += (xv[ng * K + i] - xm) * (xv[ng * K + i] - xm);
    }
    v /= K;
    xvar /= K;
    EXPECT_NEAR(m, 0.0, 1e-5);
    EXPECT_NEAR(v, 1.0, 1e-3);  // var / (var + eps)
    EXPECT_NEAR(mv[ng], xm, 1e-5);
    EXPECT_NEAR(rv[ng], 1.0 / std::sqrt(xvar + 1e-5), 1e-4);
  }
  // Weight and bias: y = xhat * w[c] + b[c].
  Tensor w = random_tensor({C}, 21), b = random_tensor({C}, 22);
  const std::vector<double> y2 = vals(ops::group_norm(x, G, w, b, 1e-5).y), wv = vals(w), bv = vals(b);
  for (int64_t i = 0; i < N * C * H * W; ++i) {
    const int64_t c = (i / (H * W)) % C;
    EXPECT_NEAR(y2[i], yv[i] * wv[c] + bv[c], 1e-5);
  }
}

TEST(TensorGroupNorm, BackwardMatchesFiniteDifferences) {
  const int64_t N = 2, C = 4, S = 3, G = 2;
  const Shape shape = {N, C, S};
  const std::vector<double> x0 = random_values(N * C * S, 30), w0 = random_values(C, 31), b0 = random_values(C, 32);
  const std::vector<double> g = random_values(N * C * S, 33);
  // L = <group_norm(x, w, b), g>
  auto loss = [&](const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b) {
    return dot(vals(ops::group_norm(f64(x, shape), G, f64(w, {C}), f64(b, {C}), 1e-5).y), g);
  };
  ops::NormResult r = ops::group_norm(f64(x0, shape), G, f64(w0, {C}), f64(b0, {C}), 1e-5);
  ops::NormGrads d = ops::group_norm_backward(f64(g, shape), f64(x0, shape), r.mean, r.rstd, f64(w0, {C}), G);
  expect_near_all(vals(d.dx), numerical_grad([&](const std::vector<double>& x) { return loss(x, w0, b0); }, x0), 1e-6,
                  "dx");
  expect_near_all(vals(d.dweight), numerical_grad([&](const std::vector<double>& w) { return loss(x0, w, b0); }, w0),
                  1e-6, "dweight");
  expect_near_all(vals(d.dbias), numerical_grad([&](const std::vector<double>& b) { return loss(x0, w0, b); }, b0),
                  1e-6, "dbias");
  // Without weight: dx as if w = 1, no dweight / dbias.
  ops::NormResult r1 = ops::group_norm(f64(x0, shape), G, Tensor(), Tensor(), 1e-5);
  ops::NormGrads d1 = ops::group_norm_backward(f64(g, shape), f64(x0, shape), r1.mean, r1.rstd, Tensor(), G);
  EXPECT_FALSE(d1.dweight.defined());
  auto loss1 = [&](const std::vector<double>& x) {
    return dot(vals(ops::group_norm(f64(x, shape), G, Tensor(), Tensor(), 1e-5).y), g);
  };
  expect_near_all(vals(d1.dx), numerical_grad(loss1, x0), 1e-6, "dx without weight");
}

TEST(TensorGroupNorm, Float32MatchesFloat64) {
  const Shape shape = {4, 8, 6, 6};
  Tensor x = ops::affine(random_tensor(shape, 40, DType::Float64), 2.0, 100.0);  // large mean
  Tensor w = random_tensor({8}, 41, DType::Float64), b = random_tensor({8}, 42, DType::Float64);
  Tensor g = random_tensor(shape, 43, DType::Float64);
  ops::NormResult r64 = ops::group_norm(x, 4, w, b, 1e-5);
  ops::NormGrads d64 = ops::group_norm_backward(g, x, r64.mean, r64.rstd, w, 4);
  auto f32 = [](const Tensor& t) { return ops::to(t, DType::Float32); };
  ops::NormResult r32 = ops::group_norm(f32(x), 4, f32(w), f32(b), 1e-5);
  ops::NormGrads d32 = ops::group_norm_backward(f32(g), f32(x), r32.mean, r32.rstd, f32(w), 4);
  expect_near_all(vals(r32.y), vals(r64.y), 1e-4, "y");
  expect_near_all(vals(d32.dx), vals(d64.dx), 1e-3, "dx");
  expect_near_all(vals(d32.dweight), vals(d64.dweight), 1e-4, "dweight");
  expect_near_all(vals(d32.dbias), vals(d64.dbias), 1e-5, "dbias");
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

// ------------------------------------------------------------------------ layer norm
TEST(TensorLayerNorm, RowsHaveZeroMeanAndUnitVariance) {
  const int64_t D = 37;
  Tensor x = ops::affine(random_tensor({2, 3, D}, 50), 3.0, -5.0);
  ops::NormResult r = ops::layer_norm(x, Tensor(), Tensor(), 1e-6);
  ASSERT_EQ(r.mean.shape(), (Shape{2, 3}));
  const std::vector<double> yv = vals(r.y);
  for (int64_t row = 0; row < 6; ++row) {
    double m = 0, v = 0;
    for (int64_t d = 0; d < D; ++d) m += yv[row * D + d];
    m /= D;
    for (int64_t d = 0; d < D; ++d) v += (yv[row * D + d] - m) * (yv[row * D + d] - m);
    EXPECT_NEAR(m, 0.0, 1e-5);
    EXPECT_NEAR(v / D, 1.0, 1e-4);
  }
}

TEST(TensorLayerNorm, BackwardMatchesFiniteDifferences) {
  const int64_t M = 3, D = 5;
  const Shape shape = {M, D};
  const std::vector<double> x0 = random_values(M * D, 60), w0 = random_values(D, 61), b0 = random_values(D, 62);
  const std::vector<double> g = random_values(M * D, 63);
  auto loss = [&](const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b) {
    return dot(vals(ops::layer_norm(f64(x, shape), f64(w, {D}), f64(b, {D}), 1e-5).y), g);
  };
  ops::NormResult r = ops::layer_norm(f64(x0, shape), f64(w0, {D}), f64(b0, {D}), 1e-5);
  ops::NormGrads d = ops::layer_norm_backward(f64(g, shape), f64(x0, shape), r.mean, r.rstd, f64(w0, {D}));
  expect_near_all(vals(d.dx), numerical_grad([&](const std::vector<double>& x) { return loss(x, w0, b0); }, x0), 1e-6,
                  "dx");
  expect_near_all(vals(d.dweight), numerical_grad([&](const std::vector<double>& w) { return loss(x0, w, b0); }, w0),
                  1e-6, "dweight");
  expect_near_all(vals(d.dbias), numerical_grad([&](const std::vector<double>& b) { return loss(x0, w0, b); }, b0),
                  1e-6, "dbias");
}

TEST(TensorLayerNorm, ParallelRowsMatchFloat64) {
  // Enough rows for the threaded path (per-thread dweight / dbias partial sums).
  const Shape shape = {256, 64};
  Tensor x = random_tensor(shape, 70, DType::Float64), g = random_tensor(shape, 71, DType::Float64);
  Tensor w = random_tensor({64}, 72, DType::Float64), b = random_tensor({64}, 73, DType::Float64);
  ops::NormResult r = ops::layer_norm(x, w, b, 1e-5);
  ops::NormGrads d = ops::layer_norm_backward(g, x, r.mean, r.rstd, w);
  // dbias = column sums of g; dweight = column sums of g * xhat.
  const std::vector<double> gv = vals(g), xv = vals(x), mv = vals(r.mean), rv = vals(r.rstd);
  std::vector<double> db(64, 0.0), dw(64, 0.0);
  for (int64_t m = 0; m < 256; ++m)
    for (int64_t j = 0; j < 64; ++j) {
      db[j] += gv[m * 64 + j];
      dw[j] += gv[m * 64 + j] * (xv[m * 64 + j] - mv[m]) * rv[m];
    }
  expect_near_all(vals(d.dbias), db, 1e-12, "dbias");
  expect_near_all(vals(d.dweight), dw, 1e-12, "dweight");
  expect_error([&] { ops::layer_norm(x, ops::ones({63}, DType::Float64), Tensor(), 1e-5); }, {"[64]", "[63]"});
}

// ------------------------------------------------------------------------ losses
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
