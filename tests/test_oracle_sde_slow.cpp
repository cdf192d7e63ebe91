// Reverse-time SDE (Euler-Maruyama) for VP, sub-VP and VE, and
// predictor-corrector sampling, with the exact oracle of a Gaussian mixture:
// same criteria as test_oracle_samplers_slow.cpp. Also the two limits:
// DDIM with many steps and eta = 0 is the probability-flow ODE, and DDPM
// with all T steps is the reverse SDE.
#include "test_oracle_checks.h"

TEST(OracleSDE, EulerMaruyamaReverseSDE) {
  for (SDE sde : {SDE::vp(), SDE::subvp(), SDE::ve()}) {
    for (const GaussianMixture& mix : mixtures()) {
      check_sampler("reverse SDE Euler-Maruyama 1000 steps (" + sde.name() + ")", mix, sde,
                    [&](Denoiser& m, Generator& g, const Shape& sh) {
                      SdeSamplerOptions o;
                      o.steps = 1000;
                      return sde_sample(m, sde, sh, g, o);
                    });
    }
  }
}

TEST(OracleSDE, PredictorCorrector) {
  struct Case {
    SDE sde;
    Predictor predictor;
    const char* name;
  };
  const std::vector<Case> cases = {{SDE::vp(), Predictor::ReverseDiffusion, "PC reverse-diffusion + Langevin (vp)"},
                                   {SDE::vp(), Predictor::EulerMaruyama, "PC Euler-Maruyama + Langevin (vp)"},
                                   {SDE::ve(), Predictor::ReverseDiffusion, "PC reverse-diffusion + Langevin (ve)"}};
  for (const Case& c : cases) {
    for (const GaussianMixture& mix : mixtures()) {
      check_sampler(c.name, mix, c.sde, [&](Denoiser& m, Generator& g, const Shape& sh) {
        PcOptions o;
        o.steps = 500;
        o.predictor = c.predictor;
        o.corrector_steps = 1;
        o.snr = 0.16;
        return pc_sample(m, c.sde, sh, g, o);
      });
    }
  }
}

// DDIM (eta = 0) over 1000 uniform steps of the VP-SDE and the adaptive RK45
// solution of the probability-flow ODE map the same starting noise to the
// same points.
TEST(OracleSDE, DdimWithManyStepsIsTheODE) {
  SDE vp = SDE::vp();
  for (const GaussianMixture& mix : mixtures()) {
    OracleDenoiser o(mix, vp);
    const Shape sh = {kSamples, mix.dim()};
    Generator g1(21), g2(21);  // the same prior sample x(1) for both
    std::vector<double> ts = make_timesteps(vp, 1000, Spacing::Linspace);
    Tensor ddim = ddim_sample(o, vp, ts, sh, g1, 0.0).x;
    OdeOptions od;
    od.rtol = od.atol = 1e-6;
    Tensor ode = ode_sample(o, vp, sh, g2, od).x;
    const double mad = ops::item(ops::mean(ops::abs(ops::sub(ddim, ode))));
    std::vector<int64_t> a = mix.assign(ddim), b = mix.assign(ode);
    double same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    same /= double(a.size());
    std::printf("  %ld-D: mean |DDIM - ODE| = %.5f, same mode for %.4f of the points\n", long(mix.dim()), mad, same);
    EXPECT_LT(mad, 0.01);
    EXPECT_GT(same, 0.995);
  }
}

// DDPM ancestral sampling over all T = 1000 steps of the linear schedule and
// Euler-Maruyama on the VP-SDE (its continuous limit) driven by the same
// Gaussian increments end on nearly the same points, and both match the data.
TEST(OracleSDE, DdpmWithAllStepsIsTheReverseSDE) {
  DiscreteSchedule lin = DiscreteSchedule::linear();
  SDE vp = SDE::vp();
  for (const GaussianMixture& mix : mixtures()) {
    OracleDenoiser od(mix, lin), os(mix, vp);
    const Shape sh = {kSamples, mix.dim()};
    Generator g1(33), g2(33);  // same prior sample and the same z at every step
    Tensor ddpm = ddpm_sample(od, lin, sh, g1, DdpmVariance::Beta).x;
    SdeSamplerOptions so;
    so.steps = 1000;
    Tensor sde = sde_sample(os, vp, sh, g2, so).x;
    std::vector<int64_t> a = mix.assign(ddpm), b = mix.assign(sde);
    double same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    same /= double(a.size());
    const double mad = ops::item(ops::mean(ops::abs(ops::sub(ddpm, sde))));
    std::printf("  %ld-D: mean |DDPM - SDE| = %.4f, same mode for %.4f of the paths\n", long(mix.dim()), mad, same);
    EXPECT_GT(same, 0.97);
    EXPECT_LT(mad, 0.1);
    ModeStats sa = mode_stats(mix, ddpm), sb = mode_stats(mix, sde);
    for (int64_t k = 0; k < mix.components(); ++k) EXPECT_NEAR(sa.weights[k], sb.weights[k], 0.01);
  }
}
