// Schedules, SDEs, prediction conversions and the forward process.
#include <gtest/gtest.h>

#include <cmath>

#include "diffusion/forward.h"
#include "diffusion/oracle.h"
#include "diffusion/prediction.h"
#include "diffusion/samplers.h"
#include "diffusion/schedule.h"
#include "diffusion/sde.h"

using namespace drift;
using namespace drift::diffusion;

TEST(DiffusionSchedule, LinearMatchesDDPM) {
  DiscreteSchedule s = DiscreteSchedule::linear();
  ASSERT_EQ(s.T(), 1000);
  EXPECT_DOUBLE_EQ(s.beta(0), 1e-4);
  EXPECT_NEAR(s.beta(999), 0.02, 1e-15);
  // abar_{T-1} = prod (1 - beta_t) for the DDPM schedule is about 4.0e-5.
  double abar = 1;
  for (int64_t t = 0; t < 1000; ++t) abar *= 1 - (1e-4 + (0.02 - 1e-4) * t / 999.0);
  EXPECT_NEAR(s.alpha_bar(999), abar, 1e-15);
  EXPECT_NEAR(s.alpha_bar(999), 4.0358e-5, 1e-8);
  EXPECT_DOUBLE_EQ(s.alpha_bar(-1), 1.0);  // clean data
  EXPECT_DOUBLE_EQ(s.alpha(-1), 1.0);
  EXPECT_DOUBLE_EQ(s.sigma(-1), 0.0);
  for (int64_t t = 1; t < 1000; ++t) {
    EXPECT_LT(s.alpha_bar(t), s.alpha_bar(t - 1));
    EXPECT_LT(s.snr_at(t), s.snr_at(t - 1));
  }
}

TEST(DiffusionSchedule, PosteriorIsConsistentWithMarginals) {
  for (BetaSchedule kind : {BetaSchedule::Linear, BetaSchedule::Cosine}) {
    DiscreteSchedule s = DiscreteSchedule::make(kind, 1000);
    EXPECT_DOUBLE_EQ(s.posterior_variance(0), 0.0);
    for (int64_t t = 0; t < s.T(); t += 37) {
      const double c0 = s.posterior_mean_coef_x0(t), ct = s.posterior_mean_coef_xt(t);
      // Averaging q(x_{t-1} | x_t, x0) over q(x_t | x0) must give q(x_{t-1} | x0):
      // mean: c0 + ct sqrt(abar_t) = sqrt(abar_{t-1}); variance: ct^2 (1 - abar_t) + beta_tilde = 1 - abar_{t-1}.
      EXPECT_NEAR(c0 + ct * std::sqrt(s.alpha_bar(t)), std::sqrt(s.alpha_bar_prev(t)), 1e-12) << "t=" << t;
      EXPECT_NEAR(ct * ct * (1 - s.alpha_bar(t)) + s.posterior_variance(t), 1 - s.alpha_bar_prev(t), 1e-12);
      EXPECT_LE(s.posterior_variance(t), s.beta(t));
      EXPECT_NEAR(s.alpha(double(t)) * s.alpha(double(t)) + s.sigma(double(t)) * s.sigma(double(t)), 1.0, 1e-12);
    }
  }
}

TEST(DiffusionSchedule, CosineMatchesNicholDhariwal) {
  DiscreteSchedule s = DiscreteSchedule::cosine(1000);
  const double pi = 3.14159265358979323846;
  auto f = [&](double t) { double c = std::cos((t / 1000.0 + 0.008) / 1.008 * pi / 2); return c * c; };
  for (int64_t t = 0; t < 990; t += 61) EXPECT_NEAR(s.alpha_bar(t), f(t + 1) / f(0), 1e-9) << "t=" << t;
  for (int64_t t = 0; t < 1000; ++t) EXPECT_LE(s.beta(t), 0.999);
  EXPECT_DOUBLE_EQ(s.beta(999), 0.999);  // clipped
  // The cosine schedule destroys information more slowly than the linear one in the middle.
  EXPECT_GT(s.alpha_bar(500), DiscreteSchedule::linear().alpha_bar(500));
}

TEST(DiffusionSchedule, BadInputThrows) {
  EXPECT_THROW(DiscreteSchedule(std::vector<double>{0.1, 1.5}), Error);
  EXPECT_THROW(DiscreteSchedule::linear(0), Error);
  DiscreteSchedule s = DiscreteSchedule::linear(10);
  EXPECT_THROW(s.beta(10), Error);
  EXPECT_THROW(s.alpha(-2.0), Error);
  EXPECT_THROW(make_timesteps(s, 11, Spacing::Trailing), Error);
  EXPECT_THROW(SDE::ve(1.0, 0.5), Error);
}

TEST(DiffusionSchedule, TimestepSpacings) {
  DiscreteSchedule s = DiscreteSchedule::linear(1000);
  EXPECT_EQ(make_timesteps(s, 10, Spacing::Leading),
            (std::vector<double>{900, 800, 700, 600, 500, 400, 300, 200, 100, 0}));
  EXPECT_EQ(make_timesteps(s, 10, Spacing::Trailing),
            (std::vector<double>{999, 899, 799, 699, 599, 499, 399, 299, 199, 99}));
  std::vector<double> lin = make_timesteps(s, 10, Spacing::Linspace);
  EXPECT_EQ(lin.front(), 999);
  EXPECT_EQ(lin[1], 888);
  EXPECT_EQ(lin.back(), 0);
  std::vector<double> all = make_timesteps(s, 1000, Spacing::Trailing);
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(all[i], 999 - i);  // every step exactly once
  std::vector<double> lsnr = make_timesteps(s, 20, Spacing::LogSNR);
  EXPECT_EQ(lsnr.front(), 999);
  EXPECT_EQ(lsnr.back(), 0);
  for (size_t i = 1; i < lsnr.size(); ++i) EXPECT_LT(lsnr[i], lsnr[i - 1]);
  SDE vp = SDE::vp();
  std::vector<double> c = make_timesteps(vp, 5, Spacing::Linspace);
  EXPECT_DOUBLE_EQ(c.front(), 1.0);
  EXPECT_DOUBLE_EQ(c.back(), vp.t_min());
}

// The SDE coefficients and the closed-form marginals belong together:
// d alpha/dt = a(t) alpha and d sigma^2/dt = 2 a(t) sigma^2 + g(t)^2 for f = a(t) x.
TEST(DiffusionSDE, MarginalsSolveTheMomentEquations) {
  for (SDE sde : {SDE::vp(), SDE::subvp(), SDE::ve()}) {
    for (double t : {0.05, 0.2, 0.5, 0.9}) {
      const double h = 1e-6;
      const double dalpha = (sde.alpha(t + h) - sde.alpha(t - h)) / (2 * h);
      auto var = [&](double s) { return sde.sigma(s) * sde.sigma(s); };
      const double dvar = (var(t + h) - var(t - h)) / (2 * h);
      const double g = sde.diffusion(t);
      EXPECT_NEAR(dalpha, sde.drift_scale(t) * sde.alpha(t), 1e-6 * std::max(1.0, std::abs(dalpha))) << sde.name();
      EXPECT_NEAR(dvar, 2 * sde.drift_scale(t) * var(t) + g * g, 1e-5 * std::max(1.0, std::abs(dvar)))
          << sde.name() << " t=" << t;
    }
  }
  SDE vp = SDE::vp(), svp = SDE::subvp(), ve = SDE::ve();
  EXPECT_NEAR(vp.alpha(1.0), std::exp(-0.5 * (0.1 + 0.5 * 19.9)), 1e-12);
  EXPECT_NEAR(vp.sigma(0.3) * vp.sigma(0.3) + vp.alpha(0.3) * vp.alpha(0.3), 1.0, 1e-12);
  EXPECT_LT(svp.sigma(0.3), vp.sigma(0.3));  // sub-VP: variance below VP's
  EXPECT_DOUBLE_EQ(ve.alpha(0.7), 1.0);
  EXPECT_NEAR(ve.sigma(1.0), std::sqrt(50.0 * 50.0 - 0.01 * 0.01), 1e-9);
  EXPECT_DOUBLE_EQ(ve.prior_std(), 50.0);
  // The VP-SDE is the continuous limit of the linear DDPM schedule (beta_i = beta(t_i) / T).
  DiscreteSchedule lin = DiscreteSchedule::linear();
  // (They differ by the second-order terms sum beta_i^2 / 2 of log(1 - beta_i): a few percent at the end.)
  for (int64_t i : {99, 499, 999})
    EXPECT_NEAR(std::log(lin.alpha(double(i))), std::log(vp.alpha((i + 1) / 1000.0)), 0.04) << "step " << i;
}

TEST(DiffusionPrediction, ConversionsRoundTrip) {
  Generator gen(3);
  Tensor x0 = ops::randn({64, 3}, gen, DType::Float64), eps = ops::randn({64, 3}, gen, DType::Float64);
  // VP-like, VE-like and sub-VP-like coefficient pairs.
  for (auto [a, s] : {std::pair<double, double>{0.8, 0.6}, {1.0, 5.0}, {0.9, 0.19}}) {
    Tensor xt = q_sample(x0, eps, a, s);
    Tensor v = v_from(eps, x0, a, s);
    for (Prediction p : {Prediction::Eps, Prediction::X0, Prediction::V}) {
      Tensor out = target_from(p, eps, x0, a, s);
      EXPECT_LT(ops::max_abs_diff(eps_from(p, out, xt, a, s), eps), 1e-12) << prediction_name(p);
      EXPECT_LT(ops::max_abs_diff(x0_from(p, out, xt, a, s), x0), 1e-12) << prediction_name(p);
      for (Prediction q : {Prediction::Eps, Prediction::X0, Prediction::V})
        EXPECT_LT(ops::max_abs_diff(convert(p, q, out, xt, a, s), target_from(q, eps, x0, a, s)), 1e-12);
    }
    // score = -eps / sigma
    EXPECT_LT(ops::max_abs_diff(score_from_eps(eps, s), ops::mul(eps, -1.0 / s)), 1e-12);
    EXPECT_LT(ops::max_abs_diff(eps_from_score(score_from_eps(eps, s), s), eps), 1e-12);
  }
  // Per-sample coefficients as tensors [N, 1].
  std::vector<double> av(64), sv(64);
  for (int i = 0; i < 64; ++i) {
    av[i] = std::cos(0.02 * i);
    sv[i] = std::sin(0.02 * i + 0.01);
  }
  Tensor at = ops::from_vector(av, {64, 1}), st = ops::from_vector(sv, {64, 1});
  Tensor xt = q_sample(x0, eps, at, st);
  Tensor v = target_from(Prediction::V, eps, x0, at, st);
  EXPECT_LT(ops::max_abs_diff(x0_from(Prediction::V, v, xt, at, st), x0), 1e-12);
  EXPECT_LT(ops::max_abs_diff(eps_from(Prediction::V, v, xt, at, st), eps), 1e-12);
}

// x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps in one shot and the chain
// x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z step by step have the same
// marginal moments (and the SDE's Euler-Maruyama chain approaches them).
TEST(DiffusionForward, ClosedFormAndChainAgree) {
  GaussianMixture mix = demo_mixture_1d();
  double m0 = 0, v0 = 0;  // data mean and variance
  for (int k = 0; k < 3; ++k) m0 += mix.weights[k] * mix.means[k][0];
  for (int k = 0; k < 3; ++k)
    v0 += mix.weights[k] * (mix.variances[k][0] + (mix.means[k][0] - m0) * (mix.means[k][0] - m0));
  DiscreteSchedule s = DiscreteSchedule::linear();
  Generator gen(11);
  const int64_t n = 10000;
  Tensor x0 = mix.sample(n, gen, DType::Float64).x;
  for (int64_t t : {50, 400}) {
    Tensor closed = q_sample(s, x0, double(t), gen);
    Tensor chain = q_sample_chain(s, x0, t, gen);
    const double a = std::sqrt(s.alpha_bar(t));
    const double mean_exact = a * m0, var_exact = a * a * v0 + 1 - s.alpha_bar(t);
    for (const Tensor& x : {closed, chain}) {
      const double mean = ops::item(ops::mean(x)), var = ops::item(ops::var(x));
      EXPECT_NEAR(mean, mean_exact, 4 * std::sqrt(var_exact / n)) << "t=" << t;
      EXPECT_NEAR(var / var_exact, 1.0, 0.05) << "t=" << t;
    }
    // The same x0 and the same noise give the same per-sample distribution: compare quantiles.
    EXPECT_NEAR(ops::item(ops::mean(ops::abs(closed))), ops::item(ops::mean(ops::abs(chain))), 0.03) << "t=" << t;
  }
  for (SDE sde : {SDE::vp(), SDE::subvp(), SDE::ve(0.01, 5.0)}) {
    for (double t : {0.1, 0.5}) {
      Tensor x = sde_forward(sde, x0, 0.0, t, 100, gen);
      const double a = sde.alpha(t), sg = sde.sigma(t);
      const double var_exact = a * a * v0 + sg * sg;
      EXPECT_NEAR(ops::item(ops::mean(x)), a * m0, 4 * std::sqrt(var_exact / n) + 0.01) << sde.name();
      EXPECT_NEAR(ops::item(ops::var(x)) / var_exact, 1.0, 0.05) << sde.name() << " t=" << t;
    }
  }
}
