// The oracle with full (non-diagonal) covariances: component k of x_t is
// N(alpha mu_k, alpha^2 C_k + sigma^2 I), so the exact score is
//   grad log p_t(x) = -sum_k r_k(x) S_k^{-1} (x - alpha mu_k),   S_k = alpha^2 C_k + sigma^2 I,
// and E[x_0 | x_t] = sum_k r_k (mu_k + alpha C_k S_k^{-1} (x - alpha mu_k)).
// Checked against finite differences of the closed-form log-density, against
// Tweedie's formula, against the diagonal code path, and on drawn samples.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/engine.h"
#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/sigma_process.h"
#include "diffusion/sde.h"
#include "test_oracle_checks.h"


// The host path's score (-eps / sigma) equals central differences of
// log p_t = log sum_k w_k N(x; alpha mu_k, S_k), and its x0 equals Tweedie's
// formula x0 = (x + sigma^2 score) / alpha with that finite-difference score;
// the differentiable path gives the same numbers and autograd of its log p_t.
TEST(OracleFullCovariance, ScoreMatchesFiniteDifferencesOfLogDensity) {
  const GaussianMixture mix = demo_mixture_6d();
  const int64_t D = mix.dim(), n = 40;
  ASSERT_EQ(D, 6);
  SDE vp = SDE::vp();
  EdmProcess edm;
  Generator gen(3);
  struct Case { const Process* p; double t; };
  for (Case c : {Case{&vp, 0.002}, Case{&vp, 0.05}, Case{&vp, 0.3}, Case{&vp, 0.9}, Case{&edm, 0.01},
                 Case{&edm, 0.4}, Case{&edm, 5.0}}) {
    const double a = c.p->alpha(c.t), s = c.p->sigma(c.t);
    // Points near the noised data: x = alpha x_0 + sigma eps.
    Tensor x = ops::add(ops::mul(mix.sample(n, gen, DType::Float64).x, a), ops::mul(ops::randn({n, D}, gen, DType::Float64), s));
    OracleDenoiser oracle(mix, *c.p, Prediction::Eps);
    const Tensor tt = ops::full({n}, c.t, DType::Float64);
    const std::vector<double> eps = ops::to_vector_f64(oracle.predict(x, tt, Tensor()));
    oracle.set_target(Prediction::X0);
    const std::vector<double> x0 = ops::to_vector_f64(oracle.predict(x, tt, Tensor()));
    const GaussianMixture noised = mix.noised(a, s);
    const std::vector<double> xv = ops::to_vector_f64(x);
    const double h = 1e-5 * std::max(1.0, s);
    double worst_score = 0, worst_x0 = 0, scale = 0;
    for (int64_t j = 0; j < D; ++j) {
      std::vector<double> up = xv, dn = xv;
      for (int64_t i = 0; i < n; ++i) {
        up[i * D + j] += h;
        dn[i * D + j] -= h;
      }
      const std::vector<double> lu = noised.log_density(ops::from_vector(up, {n, D}));
      const std::vector<double> ld = noised.log_density(ops::from_vector(dn, {n, D}));
      for (int64_t i = 0; i < n; ++i) {
        const double fd = (lu[i] - ld[i]) / (2 * h);  // d log p_t / dx_j
        const double score = -eps[i * D + j] / s;
        scale = std::max(scale, std::abs(fd));
        worst_score = std::max(worst_score, std::abs(score - fd));
        const double tweedie = (xv[i * D + j] + s * s * fd) / a;
        worst_x0 = std::max(worst_x0, std::abs(x0[i * D + j] - tweedie));
      }
    }
    EXPECT_LT(worst_score, 1e-5 * (1 + scale)) << c.p->name() << " t=" << c.t;
    EXPECT_LT(worst_x0, 1e-5 * (1 + s * s * scale / a)) << c.p->name() << " t=" << c.t;

    // The differentiable path: same eps and x0, log p_t = the closed form, autograd = the score.
    Tensor xg = x.detach();
    xg.set_requires_grad(true);
    for (Prediction p : {Prediction::Eps, Prediction::X0}) {
      oracle.set_target(p);
      Tensor host = oracle.predict(x, tt, Tensor());
      Tensor tens = oracle.predict(xg, tt, Tensor());
      EXPECT_LT(ops::max_abs_diff(host, tens.detach()), 1e-9 * (1 + ops::item(ops::amax(ops::abs(host)))))
          << prediction_name(p);
    }
    Tensor logp = oracle.log_prob(xg, c.t);
    EXPECT_LT(ops::max_abs_diff(logp.detach(), ops::from_vector(noised.log_density(x), {n})), 1e-9);
    Tensor g = grad(sum(logp), {xg})[0];
    Tensor score = oracle.score(x, c.t);
    EXPECT_LT(ops::max_abs_diff(g, score), 1e-8 * (1 + ops::item(ops::amax(ops::abs(score)))));
  }
}

// A diagonal mixture written with full covariances gives what the diagonal path gives.
TEST(OracleFullCovariance, DiagonalAsFullMatchesDiagonalPath) {
  const GaussianMixture diag = demo_mixture_2d();
  GaussianMixture full = diag;
  for (int64_t k = 0; k < diag.components(); ++k) full.covariances.push_back(diag.covariance(k));
  ASSERT_TRUE(full.full());
  SDE vp = SDE::vp();
  Generator gen(11);
  Tensor x = ops::mul(ops::randn({64, 2}, gen, DType::Float64), 2.0);
  Tensor labels = ops::from_vector(std::vector<int64_t>(64, 1), {64});
  for (double t : {0.01, 0.3, 0.8})
    for (Prediction p : {Prediction::Eps, Prediction::X0, Prediction::V}) {
      OracleDenoiser a(diag, vp, p), b(full, vp, p);
      Tensor tt = ops::full({64}, t, DType::Float64);
      EXPECT_LT(ops::max_abs_diff(a.predict(x, tt, Tensor()), b.predict(x, tt, Tensor())), 1e-12);
      EXPECT_LT(ops::max_abs_diff(a.predict(x, tt, labels), b.predict(x, tt, labels)), 1e-12);
    }
  const std::vector<double> la = diag.log_density(x), lb = full.log_density(x);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_NEAR(la[i], lb[i], 1e-12);
  EXPECT_EQ(diag.assign(x), full.assign(x));
}

// Drawn samples have the mixture's weights, means and full covariances.
TEST(OracleFullCovariance, SamplesHaveTheCovariances) {
  const GaussianMixture mix = demo_mixture_6d();
  const int64_t D = mix.dim(), n = 40000;
  Generator gen(5);
  GaussianMixture::Draw d = mix.sample(n, gen, DType::Float64);
  ModeStats st = mode_stats(mix, d.x);
  int64_t agree = 0;
  std::vector<int64_t> a = mix.assign(d.x);
  for (int64_t i = 0; i < n; ++i) agree += a[i] == d.component[i];
  EXPECT_GT(double(agree) / double(n), 0.999);  // well-separated modes
  for (int64_t k = 0; k < mix.components(); ++k) {
    EXPECT_NEAR(st.weights[k], mix.weights[k], 0.01);
    const double nk = st.weights[k] * double(n);
    for (int64_t i = 0; i < D; ++i) {
      EXPECT_NEAR(st.means[k][i], mix.means[k][i], 4 * std::sqrt(mix.variances[k][i] / nk));
      for (int64_t j = 0; j < D; ++j) {
        // var(C_est_ij) = (C_ij^2 + C_ii C_jj) / n for Gaussian data
        const double c = mix.covariances[k][i * D + j];
        const double se = std::sqrt((c * c + mix.variances[k][i] * mix.variances[k][j]) / nk);
        EXPECT_NEAR(st.covariances[k][i * D + j], c, 5 * se) << "mode " << k << " (" << i << ", " << j << ")";
      }
    }
  }
  // Real correlations: the covariances are not diagonal.
  double max_corr = 0;
  for (int64_t k = 0; k < mix.components(); ++k)
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < i; ++j)
        max_corr = std::max(max_corr, std::abs(mix.covariances[k][i * D + j]) /
                                          std::sqrt(mix.variances[k][i] * mix.variances[k][j]));
  EXPECT_GT(max_corr, 0.3);
}

TEST(OracleFullCovariance, BadCovariancesThrow) {
  const GaussianMixture good = demo_mixture_6d();
  EXPECT_NO_THROW(good.validate());
  GaussianMixture asym = good;
  asym.covariances[1][1] += 0.01;  // (0, 1) no longer equals (1, 0)
  EXPECT_THROW(asym.validate(), Error);
  GaussianMixture diag = good;
  diag.covariances[2][0] *= 1.5;  // diagonal no longer the variance
  EXPECT_THROW(diag.validate(), Error);
  GaussianMixture indefinite = demo_mixture_2d();
  indefinite.covariances = {{0.10, 0.2, 0.2, 0.15}, indefinite.covariance(1), indefinite.covariance(2),
                            indefinite.covariance(3)};  // |corr| > 1
  EXPECT_THROW(indefinite.validate(), Error);
  GaussianMixture wrong = good;
  wrong.covariances.pop_back();
  EXPECT_THROW(wrong.validate(), Error);
  EXPECT_THROW(cholesky({1.0, 2.0, 2.0, 1.0}, 2, "test"), Error);
}

// The per-mode check of the sampler tests (test_oracle_checks.h) compares full
// covariances: samples whose covariances have the right variances but
// correlations of the wrong sign fail it; samples of the mixture pass.
TEST(OracleFullCovariance, ModeCheckSeesTheCorrelations) {
  const GaussianMixture mix = demo_mixture_6d();
  GaussianMixture flipped = mix;  // C' = S C S, S = diag(1, -1, 1, -1, 1, -1): same diagonal, same eigenvalues
  for (auto& c : flipped.covariances)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 6; ++j) c[i * 6 + j] *= ((i + j) % 2 == 0) ? 1.0 : -1.0;
  Generator gen(9);
  const Tensor good = mix.sample(20000, gen).x, bad = flipped.sample(20000, gen).x;
  expect_moments(mix, good, "true samples");
  ::testing::TestPartResultArray results;  // the check's failures, caught
  {
    ::testing::ScopedFakeTestPartResultReporter catcher(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    expect_moments(mix, bad, "flipped correlations");
  }
  int cov_failures = 0;
  for (int i = 0; i < results.size(); ++i)
    cov_failures += std::string(results.GetTestPartResult(i).message()).find("whitened cov") != std::string::npos;
  EXPECT_GE(cov_failures, 4);  // at least one covariance entry of every mode
}
