// The newer formulations driven by the exact oracle of the Gaussian mixtures
// (test_oracle_checks.h: 20,000 samples; mode weights within 2 points,
// per-mode means and variances, sliced Wasserstein <= 1.5x the distance
// between two true sample sets in 2-D): EDM's Heun, deterministic and
// stochastic, and flow matching (Euler, Heun, RK45). The other sigma samplers
// (euler, euler-ancestral, dpm++2m on Karras sigmas, dpm++2m-sde, heun on VP
// models) and zero terminal SNR: test_oracle_sigma_samplers_slow.cpp; the 6-D
// full-covariance mixture: test_oracle_full_covariance_slow.cpp.
#include "diffusion/sampler.h"
#include "diffusion/sigma_process.h"
#include "test_oracle_checks.h"

// EDM's Heun at 18 steps (35 evaluations) keeps the mode weights and means and
// the variances within 20% on these sharp modes (std 0.22-0.45 against a spread
// of 4) on EDM's image range of sigma; with the noise range fitted to the data
// (sigma in [0.02, 20]: about 1/10 of the sharpest mode's std and 10x the data's
// spread) it meets the sliced Wasserstein bound at 18 steps on the mean of 5
// draws and at 26 steps (51 evaluations) on one (the table in docs/DIFFUSION.md
// has every sampler at 5..200 evaluations).
TEST(OracleFormulations, EdmHeunDeterministicAndStochastic) {
  EdmProcess edm;
  Tolerance loose;
  loose.var = 0.2;
  for (const GaussianMixture& mix : mixtures()) {
    check_sampler("EDM Heun 18 steps", mix, edm, named(edm, "heun", with_steps(18)), loose, false, Prediction::X0);
    // 35 evaluations on the fitted range: the sliced Wasserstein ratio of one
    // initial-noise draw is 1.16-1.70 over seeds 7-11 (a perfect sampler's is
    // 1.21 +- 0.36, docs/DIFFUSION.md), so it is judged on the mean of 5 draws:
    // 1.46, at the edge of the bound (15 steps: 1.80, 12 steps: 2.62).
    check_sampler_over_draws("EDM Heun 18 steps, sigma in [0.02, 20]", mix, edm, named(edm, "heun", fitted(18)), 5, {},
                             Prediction::X0);
    SamplerOptions fit = fitted(26);
    check_sampler("EDM Heun 26 steps, sigma in [0.02, 20]", mix, edm, named(edm, "heun", fit), {}, true,
                  Prediction::X0);
    SamplerOptions o = fit;  // EDM's stochastic sampler (alg. 2) with churn in the middle of the range
    o.steps = 40;
    o.s_churn = 10;
    o.s_tmin = 0.05;
    o.s_tmax = 10;
    o.s_noise = 1.003;
    check_sampler("EDM Heun S_churn=10 40 steps", mix, edm, named(edm, "heun", o), loose, true, Prediction::X0);
  }
}

// Flow matching: the exact velocity field u = E[eps - x0 | x_t] of the mixture on
// x_t = (1 - t) x0 + t eps, integrated by Euler (100 steps), Heun (18 steps, 35
// evaluations) and RK45 (rtol = atol = 1e-4).
TEST(OracleFormulations, FlowMatching) {
  FlowProcess flow;
  for (const GaussianMixture& mix : mixtures()) {
    check_sampler("flow Euler 100 steps", mix, flow, named(flow, "flow-euler", with_steps(100)), {}, true,
                  Prediction::Flow);
    check_sampler("flow Heun 18 steps", mix, flow, named(flow, "flow-heun", with_steps(18)), {}, true, Prediction::Flow);
    SamplerOptions rk;
    rk.rtol = rk.atol = 1e-4;
    check_sampler("flow RK45", mix, flow, named(flow, "flow-rk45", rk), {}, true, Prediction::Flow);
  }
}
