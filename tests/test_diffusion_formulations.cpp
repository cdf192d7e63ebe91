// The pieces of the newer formulations that need no 20,000-sample oracle run:
// Karras sigmas and EDM preconditioning, the zero-terminal-SNR schedule,
// x0 clipping and dynamic thresholding, training-time distributions and the
// sampler registry (EDM / flow-matching training: test_diffusion_training_slow.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/sampler.h"
#include "diffusion/sigma_process.h"
#include "diffusion/toy.h"
#include "diffusion/trainer.h"

using namespace drift;
using namespace drift::diffusion;

TEST(DiffusionFormulations, KarrasSigmasAndEdmPreconditioning) {
  std::vector<double> s = karras_sigmas(18, 0.002, 80.0, 7.0);
  ASSERT_EQ(s.size(), 18u);
  EXPECT_NEAR(s.front(), 80.0, 1e-12);
  EXPECT_NEAR(s.back(), 0.002, 1e-15);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_LT(s[i], s[i - 1]);
  // sigma^(1/rho) is linear in i
  const double a = std::pow(80.0, 1.0 / 7), b = std::pow(0.002, 1.0 / 7);
  EXPECT_NEAR(std::pow(s[6], 1.0 / 7), a + 6.0 / 17.0 * (b - a), 1e-12);
  EXPECT_THROW(karras_sigmas(5, 1.0, 0.5), Error);
  // c_skip -> 1, c_out -> 0 as sigma -> 0; unit input scale and unit-variance target for sigma_d-variance data.
  const double sd = 0.5;
  EdmPrecond p0 = edm_precond(1e-4, sd), p = edm_precond(1.3, sd);
  EXPECT_NEAR(p0.c_skip, 1.0, 1e-7);
  EXPECT_NEAR(p0.c_out, 1e-4, 1e-8);
  EXPECT_NEAR(p.c_in * std::sqrt(1.3 * 1.3 + sd * sd), 1.0, 1e-12);
  // Var of the effective target (x0 - c_skip (x0 + sigma n)) / c_out for Var x0 = sd^2 is 1.
  const double var_target = (std::pow(1 - p.c_skip, 2) * sd * sd + std::pow(p.c_skip * 1.3, 2)) / (p.c_out * p.c_out);
  EXPECT_NEAR(var_target, 1.0, 1e-12);
  EXPECT_NEAR(p.weight, 1.0 / (p.c_out * p.c_out), 1e-12);  // lambda = 1 / c_out^2
  // Processes: sigma_ve and its inverse.
  EdmProcess edm;
  FlowProcess flow;
  SDE vp = SDE::vp();
  DiscreteSchedule lin = DiscreteSchedule::linear();
  for (double sv : {0.05, 0.5, 3.0, 40.0}) {  // inside every range (VP: sigma_ve(t_min) = 0.0105)
    EXPECT_NEAR(edm.sigma_ve(edm.time_for_sigma_ve(sv)), sv, 1e-12);
    EXPECT_NEAR(flow.sigma_ve(flow.time_for_sigma_ve(sv)), sv, 1e-9 * sv);
    EXPECT_NEAR(vp.sigma_ve(vp.time_for_sigma_ve(sv)), sv, 1e-9 * sv);
    EXPECT_NEAR(lin.sigma_ve(lin.time_for_sigma_ve(sv)), sv, 1e-9 * sv);
  }
  // The SDE form derived from the marginals by finite differences matches the closed forms.
  for (double t : {0.1, 0.5, 0.9}) {
    EXPECT_NEAR(vp.Process::drift_scale(t), vp.drift_scale(t), 1e-6);
    EXPECT_NEAR(vp.Process::diffusion(t), vp.diffusion(t), 1e-5);
    EXPECT_NEAR(flow.Process::diffusion(t), flow.diffusion(t), 1e-5);
  }
}

TEST(DiffusionFormulations, ZeroTerminalSnrSchedule) {
  DiscreteSchedule lin = DiscreteSchedule::linear();
  DiscreteSchedule z = lin.rescaled_zero_terminal_snr();
  ASSERT_EQ(z.T(), lin.T());
  EXPECT_EQ(z.alpha_bar(z.T() - 1), 0.0);  // zero terminal SNR
  EXPECT_EQ(z.beta(z.T() - 1), 1.0);
  EXPECT_NEAR(z.alpha_bar(0), lin.alpha_bar(0), 1e-12);  // first step unchanged
  // sqrt(abar) is an affine function of the original sqrt(abar)
  const double k = (std::sqrt(z.alpha_bar(500)) - std::sqrt(z.alpha_bar(0))) /
                   (std::sqrt(lin.alpha_bar(500)) - std::sqrt(lin.alpha_bar(0)));
  EXPECT_NEAR(std::sqrt(z.alpha_bar(800)) - std::sqrt(z.alpha_bar(0)),
              k * (std::sqrt(lin.alpha_bar(800)) - std::sqrt(lin.alpha_bar(0))), 1e-12);
  EXPECT_EQ(z.sigma(double(z.T() - 1)), 1.0);
  EXPECT_EQ(make_timesteps(z, 10, Spacing::Trailing).front(), 999.0);  // trailing starts at pure noise
  EXPECT_THROW(DiscreteSchedule({0.5, 1.0, 0.5}), Error);  // beta = 1 only as the last step
  // DDPM ancestral sampling starts at alpha = 0, where the eps form of the step would divide by
  // alpha_{t|s} = 0: a model whose x0 is a constant gives that constant, not nan.
  struct ConstantX0 : Denoiser {
    Tensor predict(const Tensor& x, const Tensor&, const Tensor&) override { return ops::full_like(x, 0.3); }
    Prediction target() const override { return Prediction::X0; }
  } model;
  Generator gen(1);
  for (double v : ops::to_vector_f64(ddpm_sample(model, z, {4, 2}, gen).x)) EXPECT_NEAR(v, 0.3, 1e-4);
}

TEST(DiffusionFormulations, X0ClippingAndDynamicThresholding) {
  Tensor x = ops::from_vector(std::vector<double>{0.5, -3.0, 2.0, 0.1, 0.2, -0.3, 0.9, 0.0}, {2, 4});
  X0Clip c;
  c.mode = X0ClipMode::Clip;
  EXPECT_EQ(ops::to_vector_f64(clip_x0(x, c)), (std::vector<double>{0.5, -1.0, 1.0, 0.1, 0.2, -0.3, 0.9, 0.0}));
  c.mode = X0ClipMode::Dynamic;
  c.percentile = 1.0;  // s = max |x0| per sample, at least 1
  EXPECT_EQ(ops::to_vector_f64(clip_x0(x, c)),
            (std::vector<double>{0.5 / 3, -1.0, 2.0 / 3, 0.1 / 3, 0.2, -0.3, 0.9, 0.0}));  // row 2 in range: unchanged
  c.percentile = 0.75;  // the 3rd of 4 sorted |x0| values: row 1 -> s = 2
  std::vector<double> d = ops::to_vector_f64(clip_x0(x, c));
  EXPECT_DOUBLE_EQ(d[0], 0.25);
  EXPECT_DOUBLE_EQ(d[1], -1.0);
  EXPECT_DOUBLE_EQ(d[2], 1.0);
  c.percentile = 0;
  EXPECT_THROW(clip_x0(x, c), Error);

  // Data inside [-1, 1] (two modes at +-0.75), strong guidance toward class 1 pushes
  // x0 estimates out of range; with clipping or thresholding every sample stays in [-1, 1].
  GaussianMixture mix;
  mix.weights = {0.5, 0.5};
  mix.means = {{-0.75}, {0.75}};
  mix.variances = {{0.02}, {0.02}};
  mix.classes = {0, 1};
  DiscreteSchedule lin = DiscreteSchedule::linear();
  OracleDenoiser o(mix, lin);
  const int64_t n = 4000;
  auto run = [&](X0ClipMode mode) {
    SamplerOptions so;
    so.steps = 20;
    so.common.guidance.labels = ops::full({n}, 1.0, DType::Int64);
    so.common.guidance.scale = 6.0;
    so.common.x0_clip.mode = mode;
    Generator g(3);
    return ops::to_vector_f64(sample("ddim", o, lin, {n, 1}, g, so).x);
  };
  auto outside = [](const std::vector<double>& v) {
    return std::count_if(v.begin(), v.end(), [](double y) { return std::abs(y) > 1.0; });
  };
  const std::vector<double> plain = run(X0ClipMode::None), clipped = run(X0ClipMode::Clip),
                            dynamic = run(X0ClipMode::Dynamic);
  std::printf("samples outside [-1, 1] at guidance 6: none %ld, clip %ld, dynamic %ld\n", long(outside(plain)),
              long(outside(clipped)), long(outside(dynamic)));
  EXPECT_GT(outside(plain), n / 100);
  EXPECT_EQ(outside(clipped), 0);
  EXPECT_EQ(outside(dynamic), 0);
}

TEST(DiffusionFormulations, TrainingTimeDistributions) {
  MlpDenoiser mlp(MlpConfig{});
  EdmProcess edm;
  FlowProcess flow;
  TrainerConfig tc;
  tc.time_sampling = TimeSampling::LogNormal;
  Trainer te(mlp, mlp, edm, tc);
  std::vector<double> t = ops::to_vector_f64(te.sample_times(20000, DType::Float64, Device::CPU));
  double m = 0, v = 0;
  for (double s : t) m += std::log(s) / double(t.size());
  for (double s : t) v += std::pow(std::log(s) - m, 2) / double(t.size());
  EXPECT_NEAR(m, -1.2, 0.03);            // ln sigma ~ N(-1.2, 1.2^2), a few clamped at the range ends
  EXPECT_NEAR(std::sqrt(v), 1.2, 0.03);
  tc.time_sampling = TimeSampling::LogitNormal;
  Trainer tf(mlp, mlp, flow, tc);
  t = ops::to_vector_f64(tf.sample_times(20000, DType::Float64, Device::CPU));
  double lm = 0, below = 0;
  for (double s : t) {
    lm += std::log(s / (1 - s)) / double(t.size());
    below += s < 0.5;
  }
  EXPECT_NEAR(lm, 0.0, 0.03);
  EXPECT_NEAR(below / double(t.size()), 0.5, 0.02);
  DiscreteSchedule lin = DiscreteSchedule::linear();
  Trainer td(mlp, mlp, lin, tc);
  EXPECT_THROW(td.sample_times(4, DType::Float32, Device::CPU), Error);  // logit-normal needs continuous time
}

TEST(DiffusionFormulations, RegistryNamesEverySampler) {
  std::vector<std::string> names;
  for (const SamplerEntry& e : sampler_registry()) names.push_back(e.name);
  for (const char* want : {"ddpm", "ddim", "dpm++2m", "sde", "ode", "ode-rk45", "pc", "euler", "euler-ancestral",
                           "heun", "dpm++2m-sde", "flow-euler", "flow-heun", "flow-rk45"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  EXPECT_THROW(find_sampler("nope"), Error);
  // NFE: Heun on n sigmas costs 2n - 1 evaluations (no second evaluation at sigma = 0).
  EdmProcess edm;
  OracleDenoiser o(demo_mixture_1d(), edm, Prediction::X0);
  SamplerOptions so;
  so.steps = 18;
  Generator g(1);
  EXPECT_EQ(sample("heun", o, edm, {16, 1}, g, so).nfe, 35);
  EXPECT_EQ(sample("dpm++2m-sde", o, edm, {16, 1}, g, so).nfe, 18);
}

// Spacing::Karras gives dpm++2m the grid of the sigma samplers, with the
// options' sigma range and rho (not the process's full range).
TEST(DiffusionFormulations, KarrasSpacingUsesTheSigmaOptions) {
  EdmProcess edm;
  DiscreteSchedule lin = DiscreteSchedule::linear();
  for (const Process* p : {static_cast<const Process*>(&edm), static_cast<const Process*>(&lin)}) {
    OracleDenoiser o(demo_mixture_1d(), *p, Prediction::Eps);
    SamplerOptions so;
    so.steps = 7;
    so.spacing = Spacing::Karras;
    so.sigma_min = 0.05;
    so.sigma_max = 10;
    so.rho = 5;
    const std::vector<double> want = karras_sigmas(7, 0.05, 10, 5);
    Generator g(1);
    SampleResult r = sample("dpm++2m", o, *p, {8, 1}, g, so);
    EXPECT_EQ(r.steps, 7) << p->name();
    // The grid itself: karras_sigmas(7, 0.05, 10, 5) as times, then clean data.
    const std::vector<double> ts = find_sampler("dpm++2m").grid(*p, so, p->t_max());
    ASSERT_EQ(ts.size(), 8u) << p->name();
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(p->sigma_ve(ts[i]), want[i], 1e-6 * want[i]) << p->name();
    EXPECT_EQ(ts.back(), p->t_clean());
  }
}
