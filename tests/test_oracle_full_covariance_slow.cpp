// A representative set of samplers and parameterisations on the 6-D mixture
// with full covariances (demo_mixture_6d: 4 modes, rotated anisotropic
// covariances, std 0.14-0.5, correlations up to 0.8), driven by its exact
// oracle (component k of x_t is N(alpha mu_k, alpha^2 C_k + sigma^2 I)), with
// the criteria of test_oracle_checks.h on 20,000 samples: mode weights within
// 2 points; per mode, in the whitened coordinates of the true covariance, the
// mean within 0.1 std and the covariance within 10% (off-diagonal 5%) plus 4
// standard errors; sliced Wasserstein <= 1.5x the distance between two true
// sample sets. The sigma samplers use the data-fitted range sigma in [0.02, 20]
// (test_oracle_sigma_samplers_slow.cpp says why).
#include "diffusion/sampler.h"
#include "diffusion/sigma_process.h"
#include "test_oracle_checks.h"

// Discrete-time: DDIM (100 steps, linear schedule, eps) and DPM-Solver++(2M)
// on Karras sigmas (25 steps, eps).
TEST(OracleFullCovariance6D, DdimAndDpmSolver) {
  const GaussianMixture mix = demo_mixture_6d();
  DiscreteSchedule lin = DiscreteSchedule::linear();
  SamplerOptions ddim;
  ddim.steps = 100;
  ddim.spacing = Spacing::Linspace;
  check_sampler("DDIM eta=0 100 steps", mix, lin, named(lin, "ddim", ddim));
  SamplerOptions k = fitted(25);
  k.spacing = Spacing::Karras;
  check_sampler("DPM++ 2M Karras 25 steps (DDPM linear, eps)", mix, lin, named(lin, "dpm++2m", k));
}

// EDM's Heun (26 steps, 51 evaluations, x0 model) and flow matching's Heun
// (18 steps, 35 evaluations, velocity model).
TEST(OracleFullCovariance6D, EdmHeunAndFlowHeun) {
  const GaussianMixture mix = demo_mixture_6d();
  EdmProcess edm;
  FlowProcess flow;
  check_sampler("EDM Heun 26 steps", mix, edm, named(edm, "heun", fitted(26)), {}, true, Prediction::X0);
  SamplerOptions f;
  f.steps = 18;
  check_sampler("flow Heun 18 steps", mix, flow, named(flow, "flow-heun", f), {}, true, Prediction::Flow);
}

// Euler ancestral (400 steps, eps model), SW over three noise draws.
TEST(OracleFullCovariance6D, EulerAncestral) {
  const GaussianMixture mix = demo_mixture_6d();
  EdmProcess edm;
  check_sampler_over_draws("Euler ancestral 400 steps", mix, edm, named(edm, "euler-ancestral", fitted(400)), 3);
}
