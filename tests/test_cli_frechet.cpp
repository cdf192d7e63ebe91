// The Fréchet distance of `drift eval` (tools/frechet.h) against closed forms,
// and the evaluation classifier (tools/classifier.h) on shapes and features.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tools/classifier.h"
#include "tools/frechet.h"

using namespace drift;
using namespace drift::cli;

namespace {
GaussianFit diag_gaussian(std::vector<double> mean, std::vector<double> var) {
  GaussianFit g;
  g.d = static_cast<int64_t>(mean.size());
  g.mean = mean;
  g.cov.assign(static_cast<size_t>(g.d * g.d), 0.0);
  for (int64_t i = 0; i < g.d; ++i) g.cov[i * g.d + i] = var[i];
  return g;
}
}  // namespace

TEST(CliFrechet, DiagonalGaussiansMatchClosedForm) {
  // For diagonal covariances d^2 = sum (m1 - m2)^2 + sum (s1 - s2)^2 with s = standard deviations.
  GaussianFit a = diag_gaussian({0, 1, 2}, {1, 4, 9});
  GaussianFit b = diag_gaussian({1, 1, 0}, {4, 1, 9});
  const double expected = (1 + 0 + 4) + (1 + 1 + 0);
  EXPECT_NEAR(frechet_distance(a, b), expected, 1e-9);
  EXPECT_NEAR(frechet_distance(a, a), 0.0, 1e-9);
}

TEST(CliFrechet, RotationInvariantWithFullCovariance) {
  // Rotating both Gaussians by the same orthogonal matrix keeps the distance.
  GaussianFit a = diag_gaussian({0, 0}, {1, 9});
  GaussianFit b = diag_gaussian({3, 0}, {4, 1});
  const double d0 = frechet_distance(a, b);  // 9 + (1-2)^2 + (3-1)^2 = 14
  EXPECT_NEAR(d0, 14.0, 1e-9);
  const double c = std::cos(0.7), s = std::sin(0.7);
  auto rotate = [&](GaussianFit g) {
    const double R[4] = {c, -s, s, c};
    GaussianFit r = g;
    for (int i = 0; i < 2; ++i) r.mean[i] = R[i * 2] * g.mean[0] + R[i * 2 + 1] * g.mean[1];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        double v = 0;
        for (int k = 0; k < 2; ++k)
          for (int l = 0; l < 2; ++l) v += R[i * 2 + k] * g.cov[k * 2 + l] * R[j * 2 + l];
        r.cov[i * 2 + j] = v;
      }
    return r;
  };
  EXPECT_NEAR(frechet_distance(rotate(a), rotate(b)), d0, 1e-8);
}

TEST(CliFrechet, FitGaussianMeanAndUnbiasedCovariance) {
  std::vector<float> rows = {1, 2, 3, 6, 5, 10};  // 3 rows of 2
  GaussianFit g = fit_gaussian(rows, 3, 2);
  EXPECT_NEAR(g.mean[0], 3.0, 1e-12);
  EXPECT_NEAR(g.mean[1], 6.0, 1e-12);
  EXPECT_NEAR(g.cov[0], 4.0, 1e-12);   // ((-2)^2 + 0 + 2^2) / 2
  EXPECT_NEAR(g.cov[1], 8.0, 1e-12);   // ((-2)(-4) + 0 + 2*4) / 2
  EXPECT_NEAR(g.cov[3], 16.0, 1e-12);
  EXPECT_THROW(fit_gaussian(rows, 2, 2), Error);
}

TEST(CliClassifier, ShapesOfLogitsAndFeatures) {
  tools::ClassifierConfig cfg;
  cfg.in_channels = 3;
  cfg.image_size = 8;
  cfg.num_classes = 5;
  cfg.width = 4;
  cfg.hidden = 16;
  tools::Classifier model(cfg);
  Generator gen(3);
  Tensor x = ops::randn({2, 3, 8, 8}, gen);
  EXPECT_EQ(model.forward(x).shape(), (Shape{2, 5}));
  EXPECT_EQ(model.features(x).shape(), (Shape{2, 16}));
  EXPECT_THROW(model.forward(ops::randn({2, 1, 8, 8}, gen)), Error);
}
