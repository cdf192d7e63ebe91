// Every discrete-time and ODE sampler, driven by the exact oracle of a
// Gaussian mixture (1-D: 3 modes, 2-D: 4 modes, unequal weights), reproduces
// the data distribution on 20,000 samples: mode weights within +-2 points,
// per-mode means within 0.1 std and variances within 10% (plus 4 standard
// errors), and in 2-D a sliced Wasserstein distance to true samples at most
// 1.5x the distance between independent true sample sets.
#include "test_oracle_checks.h"

TEST(OracleSamplers, DdpmAncestral) {
  DiscreteSchedule s = DiscreteSchedule::linear();
  for (const GaussianMixture& mix : mixtures()) {
    check_sampler("DDPM sigma^2=beta", mix, s, [&](Denoiser& m, Generator& g, const Shape& sh) {
      return ddpm_sample(m, s, sh, g, DdpmVariance::Beta);
    });
    check_sampler("DDPM sigma^2=beta_tilde", mix, s, [&](Denoiser& m, Generator& g, const Shape& sh) {
      return ddpm_sample(m, s, sh, g, DdpmVariance::BetaTilde);
    });
  }
}

TEST(OracleSamplers, DdimCosineAndVPrediction) {
  // eta = 0, 100 steps, on the cosine schedule with a v-prediction model.
  DiscreteSchedule s = DiscreteSchedule::cosine();
  for (const GaussianMixture& mix : mixtures()) {
    check_sampler("DDIM eta=0 100 steps (cosine, v)", mix, s, [&](Denoiser& m, Generator& g, const Shape& sh) {
      DdimOptions o;
      o.steps = 100;
      o.spacing = Spacing::Linspace;
      return ddim_sample(m, s, sh, g, o);
    }, {}, true, Prediction::V);
  }
}

TEST(OracleSamplers, DdimLinear) {
  DiscreteSchedule s = DiscreteSchedule::linear();
  for (const GaussianMixture& mix : mixtures()) {
    check_sampler("DDIM eta=0 100 steps", mix, s, [&](Denoiser& m, Generator& g, const Shape& sh) {
      DdimOptions o;
      o.steps = 100;
      o.spacing = Spacing::Linspace;
      return ddim_sample(m, s, sh, g, o);
    });
    check_sampler("DDIM eta=0.5 500 steps (x0)", mix, s, [&](Denoiser& m, Generator& g, const Shape& sh) {
      DdimOptions o;
      o.steps = 500;
      o.eta = 0.5;
      o.spacing = Spacing::Trailing;
      return ddim_sample(m, s, sh, g, o);
    }, {}, true, Prediction::X0);
  }
}

// DPM-Solver++(2M) is a 10-20 step sampler: at 20 steps the mode weights and
// means hold, the variances are within 20% (this oracle's modes are sharp:
// std 0.22-0.45 against a spread of 4); at 30 steps it meets the sliced
// Wasserstein bound too.
TEST(OracleSamplers, DpmSolverPP2M) {
  DiscreteSchedule s = DiscreteSchedule::linear();
  for (const GaussianMixture& mix : mixtures()) {
    Tolerance loose;
    loose.var = 0.2;
    check_sampler("DPM-Solver++(2M) 20 steps", mix, s, [&](Denoiser& m, Generator& g, const Shape& sh) {
      DpmSolverOptions o;
      o.steps = 20;
      return dpm_solver_pp_2m(m, s, sh, g, o);
    }, loose, false);
    check_sampler("DPM-Solver++(2M) 30 steps", mix, s, [&](Denoiser& m, Generator& g, const Shape& sh) {
      DpmSolverOptions o;
      o.steps = 30;
      return dpm_solver_pp_2m(m, s, sh, g, o);
    }, loose);
  }
}

TEST(OracleSamplers, ProbabilityFlowOdeFixedStep) {
  SDE vp = SDE::vp();
  for (const GaussianMixture& mix : mixtures()) {
    const std::vector<std::pair<OdeSolver, int64_t>> cases = {
        {OdeSolver::Euler, 500}, {OdeSolver::Heun, 100}, {OdeSolver::RK4, 50}};
    for (auto [solver, steps] : cases) {
      const char* names[] = {"Euler", "Heun", "RK4", "RK45"};
      check_sampler(std::string("PF-ODE ") + names[int(solver)] + " " + std::to_string(steps) + " steps", mix, vp,
                    [&](Denoiser& m, Generator& g, const Shape& sh) {
                      OdeOptions o;
                      o.solver = solver;
                      o.steps = steps;
                      return ode_sample(m, vp, sh, g, o);
                    });
    }
  }
}

TEST(OracleSamplers, ProbabilityFlowOdeRK45AllSDEs) {
  for (SDE sde : {SDE::vp(), SDE::subvp(), SDE::ve()}) {
    for (const GaussianMixture& mix : mixtures()) {
      check_sampler("PF-ODE RK45 (" + sde.name() + ")", mix, sde, [&](Denoiser& m, Generator& g, const Shape& sh) {
        OdeOptions o;  // rtol = atol = 1e-5
        return ode_sample(m, sde, sh, g, o);
      });
    }
  }
}
