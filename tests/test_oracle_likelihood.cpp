// Likelihood through the probability-flow ODE: with the oracle of a Gaussian
// mixture, the ODE's log-density of points equals the exact mixture
// log-density (to 1%), with the exact divergence and with the
// Skilling-Hutchinson estimate (one autograd backward pass per evaluation).
#include <gtest/gtest.h>

#include <cmath>

#include "diffusion/likelihood.h"
#include "diffusion/oracle.h"

using namespace drift;
using namespace drift::diffusion;

namespace {

// Exact log p_eps(x): the mixture noised to the ODE's first time.
std::vector<double> exact_log_density(const GaussianMixture& mix, const SDE& sde, const Tensor& x) {
  return mix.noised(sde.alpha(sde.t_min()), sde.sigma(sde.t_min())).log_density(x);
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

}  // namespace

TEST(OracleLikelihood, ExactDivergenceMatchesMixtureDensity) {
  for (SDE sde : {SDE::vp(), SDE::subvp()}) {
    for (const GaussianMixture& mix : {demo_mixture_1d(), demo_mixture_2d()}) {
      OracleDenoiser oracle(mix, sde);
      Generator gen(3);
      Tensor x = mix.sample(100, gen, DType::Float64).x;
      LikelihoodOptions opt;
      opt.divergence = Divergence::Exact;
      LikelihoodResult r = ode_likelihood(oracle, sde, x, gen, opt);
      std::vector<double> ode = ops::to_vector_f64(r.log_density), exact = exact_log_density(mix, sde, x);
      double worst = 0;
      for (size_t i = 0; i < exact.size(); ++i) {
        const double err = std::abs(ode[i] - exact[i]);
        worst = std::max(worst, err / std::max(1.0, std::abs(exact[i])));
        EXPECT_LE(err, 0.01 * std::max(1.0, std::abs(exact[i]))) << sde.name() << " point " << i;
      }
      std::printf("%s %ld-D: mean log p ODE %.5f exact %.5f, worst relative error %.2e, nfe %ld\n",
                  sde.name().c_str(), long(mix.dim()), mean_of(ode), mean_of(exact), worst, long(r.nfe));
    }
  }
}

// The Hutchinson estimate is unbiased: per point it scatters around the exact
// value (Gaussian probes more than Rademacher ones), and its mean over many
// points matches the exact mean log-density. In 1-D, Rademacher probes have
// z^2 = 1 and give the exact divergence.
TEST(OracleLikelihood, HutchinsonEstimateIsUnbiased) {
  SDE vp = SDE::vp();
  for (const GaussianMixture& mix : {demo_mixture_1d(), demo_mixture_2d()}) {
    OracleDenoiser oracle(mix, vp);
    Generator gen(4);
    Tensor x = mix.sample(4000, gen, DType::Float64).x;
    std::vector<double> exact = exact_log_density(mix, vp, x);
    for (HutchinsonNoise noise : {HutchinsonNoise::Rademacher, HutchinsonNoise::Gaussian}) {
      LikelihoodOptions opt;
      opt.divergence = Divergence::Hutchinson;
      opt.noise = noise;
      opt.rtol = opt.atol = 1e-4;
      LikelihoodResult r = ode_likelihood(oracle, vp, x, gen, opt);
      std::vector<double> ode = ops::to_vector_f64(r.log_density);
      double md = 0, sd = 0;  // mean and standard deviation of (estimate - exact)
      for (size_t i = 0; i < ode.size(); ++i) md += (ode[i] - exact[i]) / double(ode.size());
      for (size_t i = 0; i < ode.size(); ++i) sd += (ode[i] - exact[i] - md) * (ode[i] - exact[i] - md);
      sd = std::sqrt(sd / double(ode.size() - 1));
      const double se = sd / std::sqrt(double(ode.size()));
      const double m_exact = mean_of(exact);
      const bool rademacher = noise == HutchinsonNoise::Rademacher;
      std::printf("%ld-D %s: mean log p Hutchinson %.5f exact %.5f (per-point sd %.3f, se %.4f, nfe %ld)\n",
                  long(mix.dim()), rademacher ? "Rademacher" : "Gaussian", m_exact + md, m_exact, sd, se, long(r.nfe));
      EXPECT_LE(std::abs(md), 4 * se + 1e-3);  // unbiased
      if (rademacher) {
        EXPECT_LE(std::abs(md), 0.01 * std::abs(m_exact));  // within 1% on average
      } else {
        EXPECT_GT(sd, 0.05);  // really an estimate
      }
      if (rademacher && mix.dim() == 1) {
        EXPECT_LT(sd, 1e-2);  // exact in 1-D
      }
    }
  }
}

// bits/dim = -(log p + D log(bin width)) / (D ln 2), and uniform dequantization
// moves 8-bit values within their bin.
TEST(OracleLikelihood, BitsPerDimAndDequantization) {
  SDE vp = SDE::vp();
  GaussianMixture mix = demo_mixture_2d();
  OracleDenoiser oracle(mix, vp);
  Generator gen(5);
  // Points on the 8-bit grid of [-1, 1] scaled by 2 (data range [-2, 2]).
  std::vector<double> pts = {-1.5 + 4.0 / 255 * 3, -1.0, 1.5, -0.5 + 4.0 / 255, 0.0, 1.8};
  for (double& v : pts) v = -2.0 + std::round((v + 2.0) / 4.0 * 255.0) * 4.0 / 255.0;
  Tensor x = ops::from_vector(pts, {3, 2});
  LikelihoodOptions opt;
  opt.divergence = Divergence::Exact;
  opt.data_lo = -2;
  opt.data_hi = 2;
  LikelihoodResult r = ode_likelihood(oracle, vp, x, gen, opt);
  std::vector<double> lp = ops::to_vector_f64(r.log_density), bpd = ops::to_vector_f64(r.bits_per_dim);
  for (size_t i = 0; i < lp.size(); ++i)
    EXPECT_NEAR(bpd[i], -(lp[i] + 2 * std::log(4.0 / 256)) / (2 * std::log(2.0)), 1e-9);
  EXPECT_LT(ops::max_abs_diff(ops::add(r.prior_logp, r.delta_logp), r.log_density), 1e-12);
  // Dequantized: the log-density is that of a point inside the bin, so close to the undequantized one.
  opt.dequantization = Dequantization::Uniform;
  LikelihoodResult rq = ode_likelihood(oracle, vp, x, gen, opt);
  std::vector<double> lq = ops::to_vector_f64(rq.log_density);
  for (size_t i = 0; i < lp.size(); ++i) EXPECT_NEAR(lq[i], lp[i], 0.3) << i;
  EXPECT_THROW(ode_likelihood(oracle, vp, ops::zeros({0, 2}, DType::Float64), gen, opt), Error);
}
