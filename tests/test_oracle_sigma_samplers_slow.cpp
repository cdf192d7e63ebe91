// The sigma samplers of k-diffusion / EDM (euler, euler-ancestral, dpm++2m on
// Karras sigmas, dpm++2m-sde, heun on a VP model's Karras sigmas) and zero
// terminal SNR, driven by the exact oracle of the 1-D and 2-D Gaussian
// mixtures (test_oracle_checks.h: 20,000 samples; mode weights within 2
// points, per-mode means and variances, sliced Wasserstein <= 1.5x the
// distance between two true sample sets).
//
// The noise range is fitted to the data, sigma in [0.02, 20], as EDM fits
// [0.002, 80] to images in [-1, 1]: sigma_min about 1/10 of the sharpest
// mode's std (0.22), because the last step to sigma = 0 returns the denoiser's
// x0 = E[x_0 | x], whose variance within a mode of variance v is
// v^2 / (v + sigma_min^2), i.e. v (1 - 0.8%) here; sigma_max 14x the data's std
// (1.45), so the start N(0, (1 + sigma_max^2) I) is the noised data's marginal
// within 0.1%. EDM's image range [0.002, 80] spends most steps outside
// [0.05, 3], where this data is decided: with it, Heun at 18 steps leaves each
// mode's std 6-7% too large (exact for a Gaussian: the linear ODE
// dy/dsigma = sigma y / (v + sigma^2) with Heun on the grid) and the modes
// 2.5% too far out; docs/DIFFUSION.md section 8 has the table of every
// sampler against model evaluations.
#include "diffusion/sampler.h"
#include "diffusion/sigma_process.h"
#include "test_oracle_checks.h"

// First order: Euler's mode variances are 1 - O(1/n) (exact for a Gaussian:
// 0.95 at 100 steps); Euler ancestral's deficit is about twice that (0.95 at
// 200 steps, 0.97 at 400) and its sliced Wasserstein ratio is checked over
// three noise draws (test_oracle_checks.h).
TEST(OracleSigmaSamplers, EulerAndEulerAncestral) {
  EdmProcess edm;
  for (const GaussianMixture& mix : mixtures()) {
    check_sampler("Euler 100 steps", mix, edm, named(edm, "euler", fitted(100)), {}, true, Prediction::X0);
    check_sampler_over_draws("Euler ancestral 400 steps", mix, edm, named(edm, "euler-ancestral", fitted(400)), 3);
  }
}

// "DPM++ 2M Karras" at 25 steps on an EDM (x0) model and on a DDPM eps model
// (the same numbers: the sampler sees only x0 at the same sigmas), and DPM++ 2M
// SDE at 35 steps.
TEST(OracleSigmaSamplers, DpmPP2MKarrasAndSde) {
  EdmProcess edm;
  DiscreteSchedule lin = DiscreteSchedule::linear();
  for (const GaussianMixture& mix : mixtures()) {
    SamplerOptions k = fitted(25);
    k.spacing = Spacing::Karras;
    check_sampler("DPM++ 2M Karras 25 steps (EDM)", mix, edm, named(edm, "dpm++2m", k), {}, true, Prediction::X0);
    check_sampler("DPM++ 2M Karras 25 steps (DDPM linear, eps)", mix, lin, named(lin, "dpm++2m", k));
    check_sampler_over_draws("DPM++ 2M SDE 35 steps (EDM)", mix, edm, named(edm, "dpm++2m-sde", fitted(35)), 3, {},
                             Prediction::X0);
  }
}

// A model of drift's VP training (eps on the DDPM linear schedule, v on the
// VP SDE) sampled with EDM's Heun on Karras sigmas: times t(sigma) with
// sigma(t) / alpha(t) = sigma (bisection; the discrete schedule interpolated
// between its steps). At 18 steps (35 evaluations) the weights, means and
// variances hold, and the sliced Wasserstein bound on the mean of 5 noise
// draws (one draw: 1.68 with seed 7); at 26 steps (51 evaluations) on one
// draw, as for the EDM model (test_oracle_formulations_slow.cpp).
TEST(OracleSigmaSamplers, HeunOnVpModels) {
  DiscreteSchedule lin = DiscreteSchedule::linear();
  SDE vp = SDE::vp();
  for (const GaussianMixture& mix : mixtures()) {
    check_sampler_over_draws("Heun 18 steps (DDPM linear, eps)", mix, lin, named(lin, "heun", fitted(18)), 5);
    check_sampler("Heun 26 steps (DDPM linear, eps)", mix, lin, named(lin, "heun", fitted(26)));
    check_sampler("Heun 26 steps (VP SDE, v)", mix, vp, named(vp, "heun", fitted(26)), {}, true, Prediction::V);
  }
}

// Zero terminal SNR (Lin et al. 2024): the rescaled linear schedule reaches
// abar_{T-1} = 0, trailing spacing starts from pure noise, the model predicts
// v. At 100 steps the last step denoises from t = 9 (sigma / alpha = 0.044);
// at 50 steps it is from t = 19 (0.076), whose x0 = E[x_0 | x_t] keeps only
// v / (v + 0.076^2) = 90% of the sharpest mode's variance (SW ratio 1.89).
TEST(OracleSigmaSamplers, ZeroTerminalSnrTrailingV) {
  DiscreteSchedule z = DiscreteSchedule::linear().rescaled_zero_terminal_snr();
  for (const GaussianMixture& mix : mixtures()) {
    SamplerOptions o;
    o.steps = 100;
    o.spacing = Spacing::Trailing;
    check_sampler("DDIM 100 trailing (zero terminal SNR, v)", mix, z, named(z, "ddim", o), {}, true, Prediction::V);
  }
}
