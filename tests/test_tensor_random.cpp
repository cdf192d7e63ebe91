// Counter-based random numbers: Philox4x32-10 known answers, the element ->
// (counter, lane) mapping of tensor/rng.h, reproducibility and distribution moments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <set>
#include <vector>

#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tests/isa_levels.h"
#include "tests/ref_philox.h"

using namespace drift;
using namespace drift::testing;

namespace {

void moments(const std::vector<double>& v, double& mean, double& var) {
  double s = 0;
  for (double x : v) s += x;
  mean = s / v.size();
  double q = 0;
  for (double x : v) q += (x - mean) * (x - mean);
  var = q / (v.size() - 1);
}

}  // namespace

TEST(TensorRandom, ReferencePhiloxKnownAnswers) {
  // Random123 kat_vectors, philox4x32_10.
  Ref4 a = ref_philox({{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(a.v[0], 0x6627e8d5u);
  EXPECT_EQ(a.v[1], 0xe169c58du);
  EXPECT_EQ(a.v[2], 0xbc57ac4cu);
  EXPECT_EQ(a.v[3], 0x9b00dbd8u);
  Ref4 b = ref_philox({{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff);
  EXPECT_EQ(b.v[0], 0x408f276du);
  EXPECT_EQ(b.v[1], 0x41c83b0eu);
  EXPECT_EQ(b.v[2], 0xa20bc7c6u);
  EXPECT_EQ(b.v[3], 0x6d5451fdu);
  Ref4 c = ref_philox({{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0);
  EXPECT_EQ(c.v[0], 0xd16cfe09u);
  EXPECT_EQ(c.v[1], 0x94fdccebu);
  EXPECT_EQ(c.v[2], 0x5001e420u);
  EXPECT_EQ(c.v[3], 0x24126ea1u);
}

TEST(TensorRandom, LibraryPhiloxMatchesReference) {
  Philox4 z = philox4x32_10(0, 0);
  EXPECT_EQ(z.v[0], 0x6627e8d5u);
  EXPECT_EQ(z.v[3], 0x9b00dbd8u);
  for (uint64_t seed : {uint64_t(0), uint64_t(42), uint64_t(0x123456789abcdefULL)})
    for (uint64_t ctr : {uint64_t(0), uint64_t(1), uint64_t(77), uint64_t(0xfffffffffULL)}) {
      Philox4 got = philox4x32_10(ctr, seed);
      Ref4 want = ref_philox({{static_cast<uint32_t>(ctr), static_cast<uint32_t>(ctr >> 32), 0, 0}},
                             static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
      for (int l = 0; l < 4; ++l) EXPECT_EQ(got.v[l], want.v[l]) << "seed " << seed << " ctr " << ctr;
    }
}

TEST(TensorRandom, TensorsFollowTheDocumentedMapping) {
  const uint64_t seed = 1234, offset = 10;
  for (DType dt : {DType::Float32, DType::Float64}) {
    Generator g(seed, offset);
    std::vector<double> u = ops::to_vector_f64(ops::rand({3, 7}, g, dt));  // 21 elements, not a multiple of 4
    for (int i = 0; i < 21; ++i) EXPECT_EQ(u[i], ref_uniform(seed, offset, i)) << i;
    Generator h(seed, offset);
    std::vector<double> z = ops::to_vector_f64(ops::randn({21}, h, dt));
    double tol = dt == DType::Float32 ? 1e-5 : 1e-12;  // float32 uses float math
    for (int i = 0; i < 21; ++i) EXPECT_NEAR(z[i], ref_normal(seed, offset, i), tol * (1 + std::fabs(z[i]))) << i;
  }
  // The first uniforms of (seed 0, offset 0) are the known-answer words >> 8 over 2^24.
  Generator g0(0, 0);
  std::vector<double> first = ops::to_vector_f64(ops::rand({4}, g0, DType::Float64));
  EXPECT_EQ(first[0], (0x6627e8d5u >> 8) / 16777216.0);
  EXPECT_EQ(first[1], (0xe169c58du >> 8) / 16777216.0);
  EXPECT_EQ(first[2], (0xbc57ac4cu >> 8) / 16777216.0);
  EXPECT_EQ(first[3], (0x9b00dbd8u >> 8) / 16777216.0);
  EXPECT_EQ(philox_uniform_at(0, 0, 1), first[1]);
}

TEST(TensorRandom, Float32NormalsMatchFloat64OnALargeDraw) {
  // The float32 kernel uses its own log/sincos polynomials; compare every element
  // of a large draw with the float64 (C library) kernel on the same stream.
  Generator a(99, 1), b(99, 1);
  std::vector<double> f = ops::to_vector_f64(ops::randn({300001}, a, DType::Float32));
  std::vector<double> d = ops::to_vector_f64(ops::randn({300001}, b, DType::Float64));
  double worst = 0, biggest = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    worst = std::max(worst, std::fabs(f[i] - d[i]) / (1 + std::fabs(d[i])));
    biggest = std::max(biggest, std::fabs(d[i]));
  }
  EXPECT_LT(worst, 2e-6);
  EXPECT_GT(biggest, 4.0);  // the tails were exercised
}

TEST(TensorRandom, SameSeedAndOffsetReproduceDrawsAdvance) {
  Generator a(7), b(7);
  Tensor x1 = ops::randn({1000}, a), y1 = ops::randn({1000}, b);
  EXPECT_EQ(ops::to_vector_f32(x1), ops::to_vector_f32(y1));
  EXPECT_EQ(a.offset, 250u);  // ceil(1000 / 4) blocks
  Tensor x2 = ops::randn({1000}, a);
  EXPECT_NE(ops::to_vector_f32(x1), ops::to_vector_f32(x2));  // consecutive draws differ
  Generator c(8);
  EXPECT_NE(ops::to_vector_f32(ops::randn({1000}, c)), ops::to_vector_f32(x1));  // seeds differ
  // A draw of n elements advances by ceil(n/4) blocks: 5 elements use 2 blocks.
  Generator d(3);
  ops::rand({5}, d);
  EXPECT_EQ(d.offset, 2u);
  std::vector<double> next = ops::to_vector_f64(ops::rand({2}, d, DType::Float64));
  EXPECT_EQ(next[0], ref_uniform(3, 2, 0));
  // Prefix property: the first elements of a longer draw equal a shorter draw.
  Generator e(9, 5), f(9, 5);
  std::vector<float> shortv = ops::to_vector_f32(ops::randn({10}, e)), longv = ops::to_vector_f32(ops::randn({100000}, f));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(shortv[i], longv[i]);
  // Reproducible across thread counts: a large draw equals its element-wise reference.
  std::vector<double> big = ops::to_vector_f64(ops::rand({200003}, e, DType::Float64));
  for (int64_t i : {int64_t(0), int64_t(99999), int64_t(200002)}) EXPECT_EQ(big[i], ref_uniform(9, 5 + 3, i));
}

TEST(TensorRandom, UniformAndNormalMoments) {
  const int64_t n = 1000000;
  Generator g(2024);
  double m, v;
  moments(ops::to_vector_f64(ops::rand({n}, g)), m, v);
  // Standard error of the mean: sqrt(1/12 / n) ~ 2.9e-4; of the variance ~ 7.5e-5.
  EXPECT_NEAR(m, 0.5, 2e-3);
  EXPECT_NEAR(v, 1.0 / 12.0, 5e-4);
  std::vector<double> u = ops::to_vector_f64(ops::rand({n}, g));
  EXPECT_GE(*std::min_element(u.begin(), u.end()), 0.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 1.0);
  moments(ops::to_vector_f64(ops::randn({n}, g)), m, v);
  EXPECT_NEAR(m, 0.0, 5e-3);  // se 1e-3
  EXPECT_NEAR(v, 1.0, 1e-2);  // se 1.4e-3
  moments(ops::to_vector_f64(ops::normal({n}, 3.0, 0.5, g, DType::Float64)), m, v);
  EXPECT_NEAR(m, 3.0, 2.5e-3);
  EXPECT_NEAR(v, 0.25, 2.5e-3);
  moments(ops::to_vector_f64(ops::uniform({n}, -2.0, 6.0, g)), m, v);
  EXPECT_NEAR(m, 2.0, 1.6e-2);
  EXPECT_NEAR(v, 64.0 / 12.0, 3e-2);
  Tensor like = ops::randn_like(ops::zeros({4, 5}, DType::Float64), g);
  EXPECT_EQ(like.shape(), (Shape{4, 5}));
  EXPECT_EQ(like.dtype(), DType::Float64);
}

TEST(TensorRandom, Randint) {
  Generator g(11);
  Tensor t = ops::randint(-3, 4, {100000}, g);
  EXPECT_EQ(t.dtype(), DType::Int64);
  std::vector<int64_t> v = ops::to_vector_i64(t);
  std::set<int64_t> seen(v.begin(), v.end());
  EXPECT_EQ(seen, (std::set<int64_t>{-3, -2, -1, 0, 1, 2, 3}));
  double mean = 0;
  for (int64_t x : v) mean += static_cast<double>(x);
  EXPECT_NEAR(mean / v.size(), 0.0, 0.05);
  EXPECT_THROW(ops::randint(5, 5, {3}, g), Error);
  EXPECT_THROW(ops::uniform({3}, 0, 1, g, DType::Int64), Error);
  EXPECT_THROW(ops::normal({3}, 0, -1, g), Error);
}

// float32 uniforms are computed by each CPU level's copy of the batch loop
// (tensor/cpu/random_impl.h): every level gives the documented values bit for
// bit, over many batches (and a partial one), for [0, 1) and for a range.
class TensorRandomIsa : public PerIsaTest {};

TEST_P(TensorRandomIsa, Float32UniformsMatchTheMappingAtEveryLevel) {
  const uint64_t seed = 99, offset = 5;
  const int64_t n = 4099;  // 64 batches of 64 values and 3 more
  Generator g(seed, offset);
  std::vector<double> u = ops::to_vector_f64(ops::rand({n}, g));
  Generator h(seed, offset);
  std::vector<double> v = ops::to_vector_f64(ops::uniform({n}, -3.0, 0.5, h));
  for (int64_t i = 0; i < n; ++i) {
    const double r = ref_uniform(seed, offset, static_cast<uint64_t>(i));
    ASSERT_EQ(u[i], static_cast<double>(static_cast<float>(r))) << i;
    ASSERT_EQ(v[i], static_cast<double>(static_cast<float>(-3.0 + 3.5 * r))) << i;
  }
}

DRIFT_INSTANTIATE_PER_ISA(TensorRandomIsa);
