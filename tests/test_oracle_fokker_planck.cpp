// The Fokker-Planck statement: the forward SDE, the reverse SDE and the
// probability-flow ODE all have the same marginals p_t. In 1-D, the
// Fokker-Planck equation of the VP-SDE is solved on a grid by finite
// differences; histograms of forward-SDE particles (from data), reverse-SDE
// particles and ODE particles (from the prior, with the oracle score) all
// match the numerical density at several t.
#include <gtest/gtest.h>

#include <cmath>

#include "diffusion/fokker_planck.h"
#include "diffusion/forward.h"
#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/samplers.h"

using namespace drift;
using namespace drift::diffusion;

namespace {

const double kLo = -6, kHi = 6;
const int64_t kPoints = 1200, kBins = 80, kParticles = 20000;

std::vector<double> exact_density(const GaussianMixture& mix, const std::vector<double>& grid) {
  std::vector<double> lp = mix.log_density(ops::from_vector(grid, {int64_t(grid.size()), 1}));
  for (double& v : lp) v = std::exp(v);
  return lp;
}

// Averages a fine-grid density over groups of points: the density per histogram bin.
std::vector<double> per_bin(const std::vector<double>& p, int64_t bins) {
  const size_t per = p.size() / size_t(bins);
  std::vector<double> out(size_t(bins), 0.0);
  for (size_t b = 0; b < out.size(); ++b) {
    for (size_t i = 0; i < per; ++i) out[b] += p[b * per + i];
    out[b] /= double(per);
  }
  return out;
}

std::vector<double> values(const Tensor& x) { return ops::to_vector_f64(x); }

}  // namespace

TEST(OracleFokkerPlanck, FiniteDifferencesMatchTheClosedForm) {
  SDE vp = SDE::vp();
  GaussianMixture mix = demo_mixture_1d();
  FokkerPlanck1D fp(vp, kLo, kHi, kPoints);
  fp.set_density(exact_density(mix, fp.grid()), 0.0);
  for (double t : {0.05, 0.2, 0.5, 1.0}) {
    fp.advance_to(t, 1e-3);
    std::vector<double> exact = exact_density(mix.noised(vp.alpha(t), vp.sigma(t)), fp.grid());
    const double l1 = l1_distance(fp.density(), exact, fp.dx());
    EXPECT_LT(l1, 5e-3) << "t=" << t;
    EXPECT_NEAR(fp.mass(), 1.0, 1e-9);
  }
  EXPECT_THROW(fp.advance_to(0.5), Error);  // time only moves forward
}

TEST(OracleFokkerPlanck, ForwardReverseAndOdeParticlesShareTheMarginals) {
  SDE vp = SDE::vp();
  GaussianMixture mix = demo_mixture_1d();
  OracleDenoiser oracle(mix, vp);
  FokkerPlanck1D fp(vp, kLo, kHi, kPoints);
  fp.set_density(exact_density(mix, fp.grid()), 0.0);
  Generator gen(17);
  Tensor x0 = mix.sample(kParticles, gen).x;
  const double bin = (kHi - kLo) / double(kBins);
  std::vector<double> first_hist;
  for (double t : {0.1, 0.3, 0.6}) {
    fp.advance_to(t, 1e-3);
    std::vector<double> p = per_bin(fp.density(), kBins);
    // Forward SDE from the data (Euler-Maruyama).
    Tensor fwd = sde_forward(vp, x0, 0.0, t, 400, gen);
    // Reverse SDE and probability-flow ODE from the prior at t = 1, stopped at t.
    SdeSamplerOptions so;
    so.steps = 400;
    so.common.t_end = t;
    Tensor rev = sde_sample(oracle, vp, {kParticles, 1}, gen, so).x;
    OdeOptions oo;
    oo.common.t_end = t;
    Tensor ode = ode_sample(oracle, vp, {kParticles, 1}, gen, oo).x;
    const double l_fwd = l1_distance(histogram_density(values(fwd), kLo, kHi, kBins), p, bin);
    const double l_rev = l1_distance(histogram_density(values(rev), kLo, kHi, kBins), p, bin);
    const double l_ode = l1_distance(histogram_density(values(ode), kLo, kHi, kBins), p, bin);
    std::printf("t = %.1f: L1(histogram, Fokker-Planck) forward SDE %.4f, reverse SDE %.4f, ODE %.4f\n", t, l_fwd,
                l_rev, l_ode);
    EXPECT_LT(l_fwd, 0.06) << "t=" << t;
    EXPECT_LT(l_rev, 0.06) << "t=" << t;
    EXPECT_LT(l_ode, 0.06) << "t=" << t;
    if (first_hist.empty()) {
      first_hist = histogram_density(values(ode), kLo, kHi, kBins);
    } else {
      // The check can fail: the t = 0.1 particles do not match the density at later times.
      EXPECT_GT(l1_distance(first_hist, p, bin), 0.15) << "t=" << t;
    }
  }
}
