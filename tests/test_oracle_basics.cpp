// The oracle model itself, and the sampler features that do not need 20,000
// samples: prediction targets, evaluation counts, DDIM/DDPM identities,
// classifier-free guidance, SDEdit, inpainting, argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/engine.h"
#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/samplers.h"

using namespace drift;
using namespace drift::diffusion;

// The closed-form score equals the autograd gradient of the closed-form
// log-density, and the fast host path equals the differentiable tensor path.
TEST(OracleModel, ScoreIsGradientOfLogDensity) {
  SDE vp = SDE::vp();
  GaussianMixture mix = demo_mixture_2d();
  Generator gen(5);
  for (double t : {0.01, 0.2, 0.7}) {
    Tensor x = ops::add(ops::mul(ops::randn({50, 2}, gen, DType::Float64), 1.5), 0.2);
    OracleDenoiser oracle(mix, vp, Prediction::Eps);
    Tensor xg = x.detach();
    xg.set_requires_grad(true);
    Tensor logp = oracle.log_prob(xg, t);
    Tensor g = grad(sum(logp), {xg})[0];
    Tensor eps = oracle.predict(x, ops::full({50}, t, DType::Float64), Tensor());  // host path
    Tensor score = ops::mul(eps, -1.0 / vp.sigma(t));                             // score = -eps / sigma
    EXPECT_LT(ops::max_abs_diff(g, score), 1e-9 * (1 + ops::item(ops::amax(ops::abs(score))))) << "t=" << t;
    // log p_t of the tensor path = the closed form of the noised mixture.
    std::vector<double> exact = mix.noised(vp.alpha(t), vp.sigma(t)).log_density(x);
    EXPECT_LT(ops::max_abs_diff(logp.detach(), ops::from_vector(exact, {50})), 1e-9);
    for (Prediction p : {Prediction::Eps, Prediction::X0, Prediction::V}) {
      oracle.set_target(p);
      Tensor host = oracle.predict(x, ops::full({50}, t, DType::Float64), Tensor());
      Tensor tens = oracle.predict(xg, ops::full({50}, t, DType::Float64), Tensor());
      EXPECT_LT(ops::max_abs_diff(host, tens.detach()), 1e-9) << prediction_name(p);
    }
  }
}

// Drawn samples follow the mixture (the check the sampler tests rely on).
TEST(OracleModel, MixtureSamplesAndStats) {
  GaussianMixture mix = demo_mixture_2d();
  Generator gen(1);
  GaussianMixture::Draw d = mix.sample(8000, gen);
  ModeStats st = mode_stats(mix, d.x);
  for (int64_t k = 0; k < mix.components(); ++k) {
    EXPECT_NEAR(st.weights[k], mix.weights[k], 0.02);
    for (int64_t j = 0; j < 2; ++j) EXPECT_NEAR(st.variances[k][j] / mix.variances[k][j], 1.0, 0.15);
  }
  int64_t agree = 0;  // assignment recovers the true component for well-separated modes
  std::vector<int64_t> a = mix.assign(d.x);
  for (size_t i = 0; i < a.size(); ++i) agree += a[i] == d.component[i];
  EXPECT_GT(double(agree) / 8000, 0.99);
  GaussianMixture bad = mix;
  bad.weights[0] = 0.9;
  EXPECT_THROW(bad.validate(), Error);
}

// The sampler output does not depend on whether the model predicts eps, x0 or v.
TEST(OracleSamplers, PredictionTargetsAreInterchangeable) {
  DiscreteSchedule lin = DiscreteSchedule::linear();
  SDE vp = SDE::vp();
  GaussianMixture mix = demo_mixture_1d();
  Tensor ref_ddim, ref_ode;
  for (Prediction p : {Prediction::Eps, Prediction::X0, Prediction::V}) {
    OracleDenoiser o1(mix, lin, p);
    Generator g1(3);
    DdimOptions d;
    d.steps = 20;
    Tensor a = ddim_sample(o1, lin, {500, 1}, g1, d).x;
    OracleDenoiser o2(mix, vp, p);
    Generator g2(3);
    OdeOptions od;
    od.solver = OdeSolver::Heun;
    od.steps = 20;
    Tensor b = ode_sample(o2, vp, {500, 1}, g2, od).x;
    if (!ref_ddim.defined()) {
      ref_ddim = a;
      ref_ode = b;
      continue;
    }
    EXPECT_LT(ops::max_abs_diff(a, ref_ddim), 2e-3) << prediction_name(p);
    EXPECT_LT(ops::max_abs_diff(b, ref_ode), 2e-3) << prediction_name(p);
  }
}

TEST(OracleSamplers, EvaluationCounts) {
  DiscreteSchedule s = DiscreteSchedule::linear(100, 1e-3, 0.2);
  SDE vp = SDE::vp();
  GaussianMixture mix = demo_mixture_1d();
  OracleDenoiser o(mix, s), ov(mix, vp);
  Generator g(0);
  const Shape sh = {64, 1};
  EXPECT_EQ(ddpm_sample(o, s, sh, g).nfe, 100);
  DdimOptions d;
  d.steps = 10;
  EXPECT_EQ(ddim_sample(o, s, sh, g, d).nfe, 10);
  DpmSolverOptions dp;
  dp.steps = 10;
  EXPECT_EQ(dpm_solver_pp_2m(o, s, sh, g, dp).nfe, 10);
  OdeOptions od;
  od.steps = 10;
  od.solver = OdeSolver::Euler;
  EXPECT_EQ(ode_sample(ov, vp, sh, g, od).nfe, 10);
  od.solver = OdeSolver::Heun;
  EXPECT_EQ(ode_sample(ov, vp, sh, g, od).nfe, 20);
  od.solver = OdeSolver::RK4;
  EXPECT_EQ(ode_sample(ov, vp, sh, g, od).nfe, 40);
  od.solver = OdeSolver::RK45;
  SampleResult r45 = ode_sample(ov, vp, sh, g, od);
  EXPECT_EQ(r45.nfe, 6 * (r45.steps + r45.rejected) + 2);  // 6 per step (FSAL) + 2 for the initial step size
  SdeSamplerOptions se;
  se.steps = 10;
  EXPECT_EQ(sde_sample(ov, vp, sh, g, se).nfe, 10);
  PcOptions pc;
  pc.steps = 25;  // the VP discretisation needs beta(t) dt < 1: beta_max = 20, so more than 20 steps
  pc.corrector_steps = 2;
  EXPECT_EQ(pc_sample(ov, vp, sh, g, pc).nfe, 75);
  // Guidance with scale != 1 costs two evaluations per step.
  d.common.guidance.labels = ops::zeros({64}, DType::Int64);
  d.common.guidance.scale = 2.0;
  SampleResult rg = ddim_sample(o, s, sh, g, d);
  EXPECT_EQ(rg.nfe, 20);
  EXPECT_EQ(o.calls(), 100 + 10 + 10 + 20);
}

// The per-step hook sees the starting sample (step 0), then every step with
// the planned total; its last sample is the result.
TEST(OracleSamplers, StepHookSeesEveryStep) {
  DiscreteSchedule s = DiscreteSchedule::linear(100, 1e-3, 0.2);
  SDE vp = SDE::vp();
  GaussianMixture mix = demo_mixture_1d();
  OracleDenoiser o(mix, s), ov(mix, vp);
  const Shape sh = {16, 1};
  std::vector<int64_t> steps;
  Tensor last;
  // A hook that records the steps and the latest sample, and expects `want_total` planned steps.
  auto hook = [&](int64_t want_total) {
    return [&, want_total](const Tensor& x, int64_t step, int64_t total) {
      steps.push_back(step);
      EXPECT_EQ(total, want_total);
      EXPECT_EQ(x.shape(), sh);
      last = ops::clone(x);
    };
  };
  auto check = [&](const SampleResult& r, int64_t total, const char* name) {
    ASSERT_EQ(static_cast<int64_t>(steps.size()), total + 1) << name;
    for (int64_t i = 0; i <= total; ++i) EXPECT_EQ(steps[i], i) << name;
    EXPECT_EQ(ops::max_abs_diff(last, r.x), 0.0) << name << ": the last step's sample is the result";
    steps.clear();
  };
  Generator g(3);
  SampleOptions c;
  c.on_step = hook(100);
  check(ddpm_sample(o, s, sh, g, DdpmVariance::Beta, c), 100, "ddpm");
  DdimOptions d;
  d.steps = 7;
  d.common.on_step = hook(7);
  check(ddim_sample(o, s, sh, g, d), 7, "ddim");
  DpmSolverOptions dp;
  dp.steps = 5;
  dp.common.on_step = hook(5);
  check(dpm_solver_pp_2m(o, s, sh, g, dp), 5, "dpm-solver++");
  SdeSamplerOptions se;
  se.steps = 6;
  se.common.on_step = hook(6);
  check(sde_sample(ov, vp, sh, g, se), 6, "sde");
  OdeOptions od;
  od.steps = 4;
  od.solver = OdeSolver::Heun;
  od.common.on_step = hook(4);
  check(ode_sample(ov, vp, sh, g, od), 4, "ode heun");
  PcOptions pc;
  pc.steps = 20;
  pc.common.on_step = hook(20);
  check(pc_sample(ov, vp, sh, g, pc), 20, "pc");
  // Too few steps for the VP discretisation (beta(t) dt >= 1): an error, not NaN samples.
  pc.steps = 3;
  pc.common.on_step = nullptr;
  EXPECT_THROW(pc_sample(ov, vp, sh, g, pc), Error);
}

// Every sampler calls the model with autograd off (no graph is recorded
// during sampling), whatever the caller's grad mode.
namespace {
class NoGradCheckingDenoiser : public Denoiser {
 public:
  explicit NoGradCheckingDenoiser(Denoiser& inner) : inner_(inner) {}
  Tensor predict(const Tensor& x, const Tensor& t, const Tensor& labels) override {
    ++calls;
    if (grad_enabled()) ++calls_with_grad;
    return inner_.predict(x, t, labels);
  }
  Prediction target() const override { return inner_.target(); }
  int calls = 0, calls_with_grad = 0;

 private:
  Denoiser& inner_;
};
}  // namespace

TEST(OracleSamplers, ModelCallsRunWithoutAutograd) {
  ASSERT_TRUE(grad_enabled());
  DiscreteSchedule s = DiscreteSchedule::linear(100, 1e-3, 0.2);
  SDE vp = SDE::vp();
  GaussianMixture mix = demo_mixture_1d();
  OracleDenoiser od(mix, s), ov(mix, vp);
  NoGradCheckingDenoiser o(od), v(ov);
  const Shape sh = {8, 1};
  Generator g(5);
  ddpm_sample(o, s, sh, g, DdpmVariance::Beta, SampleOptions{});
  DdimOptions d;
  d.steps = 5;
  ddim_sample(o, s, sh, g, d);
  DpmSolverOptions dp;
  dp.steps = 5;
  dpm_solver_pp_2m(o, s, sh, g, dp);
  SdeSamplerOptions se;
  se.steps = 5;
  sde_sample(v, vp, sh, g, se);
  OdeOptions oo;
  oo.steps = 4;
  oo.solver = OdeSolver::Heun;
  ode_sample(v, vp, sh, g, oo);
  PcOptions pc;
  pc.steps = 25;
  pc_sample(v, vp, sh, g, pc);
  EXPECT_GT(o.calls, 100);
  EXPECT_GT(v.calls, 25);
  EXPECT_EQ(o.calls_with_grad, 0);
  EXPECT_EQ(v.calls_with_grad, 0);
  EXPECT_TRUE(grad_enabled()) << "the samplers restore the caller's grad mode";
}

// DDIM with eta = 1 over all T steps is DDPM with sigma_t^2 = beta_tilde_t,
// step for step (same noise), and eta = 0 is deterministic.
TEST(OracleSamplers, DdimEtaOneIsDdpmBetaTilde) {
  DiscreteSchedule s = DiscreteSchedule::linear(100, 1e-3, 0.2);
  GaussianMixture mix = demo_mixture_2d();
  OracleDenoiser o(mix, s);
  Generator g1(42), g2(42);
  Tensor a = ddpm_sample(o, s, {300, 2}, g1, DdpmVariance::BetaTilde).x;
  DdimOptions d;
  d.steps = 100;
  d.eta = 1.0;
  Tensor b = ddim_sample(o, s, {300, 2}, g2, d).x;
  EXPECT_LT(ops::max_abs_diff(a, b), 1e-3);
  d.eta = 0.0;
  Generator g3(5), g4(5);
  EXPECT_EQ(ops::max_abs_diff(ddim_sample(o, s, {300, 2}, g3, d).x, ddim_sample(o, s, {300, 2}, g4, d).x), 0.0);
}

// The last DDIM step goes to clean data (abar = 1): a model that knows x0
// exactly lands on it, with no leftover noise of variance 1 - abar_0.
TEST(OracleSamplers, LastStepReachesCleanData) {
  DiscreteSchedule s = DiscreteSchedule::linear();
  GaussianMixture point;  // (almost) a point mass at 0.7
  point.weights = {1.0};
  point.means = {{0.7}};
  point.variances = {{1e-8}};
  OracleDenoiser o(point, s);
  for (Spacing sp : {Spacing::Leading, Spacing::Linspace, Spacing::Trailing, Spacing::LogSNR}) {
    Generator g(1);
    DdimOptions d;
    d.steps = 10;
    d.spacing = sp;
    Tensor x = ddim_sample(o, s, {200, 1}, g, d).x;
    EXPECT_LT(ops::max_abs_diff(x, ops::full({200, 1}, 0.7)), 1e-3) << int(sp);
  }
}

// Classifier-free guidance: scale 1 samples the class-conditional mixture,
// larger scales push further into the class, scale 0 ignores the label.
TEST(OracleSamplers, ClassifierFreeGuidance) {
  DiscreteSchedule s = DiscreteSchedule::linear();
  GaussianMixture mix = demo_mixture_1d();  // classes {0, 0, 1}
  OracleDenoiser o(mix, s);
  const int64_t n = 4000;
  auto run = [&](int64_t label, double scale) {
    Generator g(9);
    DdimOptions d;
    d.steps = 50;
    d.spacing = Spacing::Linspace;
    d.common.guidance.labels = ops::full({n}, double(label), DType::Int64);
    d.common.guidance.scale = scale;
    return mode_stats(mix, ddim_sample(o, s, {n, 1}, g, d).x);
  };
  ModeStats c1 = run(1, 1.0);
  EXPECT_GT(c1.weights[2], 0.99);
  ModeStats c0 = run(0, 1.0);  // weights 0.5 / 0.8 and 0.3 / 0.8
  EXPECT_NEAR(c0.weights[0], 0.625, 0.03);
  EXPECT_NEAR(c0.weights[1], 0.375, 0.03);
  EXPECT_LT(c0.weights[2], 0.01);
  ModeStats g3 = run(0, 3.0);
  EXPECT_LT(g3.weights[2], 0.005);
  ModeStats g0 = run(1, 0.0);  // unconditional
  EXPECT_NEAR(g0.weights[0], 0.5, 0.03);
  EXPECT_NEAR(g0.weights[2], 0.2, 0.03);
}

// SDEdit: a small strength keeps the input; strength 1 forgets it.
TEST(OracleSamplers, SDEditStrength) {
  SDE vp = SDE::vp();
  DiscreteSchedule s = DiscreteSchedule::linear();
  GaussianMixture mix = demo_mixture_1d();
  OracleDenoiser ov(mix, vp), o(mix, s);
  Generator g(4);
  const int64_t n = 2000;
  Tensor init = ops::full({n, 1}, 0.5);  // all at the centre of mode 1
  SdeSamplerOptions se;
  se.steps = 200;
  se.common.x_init = init;
  se.common.strength = 0.05;
  Tensor near = sde_sample(ov, vp, {}, g, se).x;
  EXPECT_LT(ops::item(ops::mean(ops::abs(ops::sub(near, init)))), 0.25);
  EXPECT_GT(mode_stats(mix, near).weights[1], 0.99);
  DdimOptions d;
  d.steps = 50;
  d.common.x_init = init;
  d.common.strength = 1.0;
  ModeStats far = mode_stats(mix, ddim_sample(o, s, {}, g, d).x);
  EXPECT_NEAR(far.weights[0], 0.5, 0.04);
  d.common.strength = 0.15;  // moderate noise: still mostly mode 1
  ModeStats mid = mode_stats(mix, ddim_sample(o, s, {}, g, d).x);
  EXPECT_GT(mid.weights[1], 0.9);
  EXPECT_LT(mid.weights[1], 1.0);
}

// Inpainting: coordinate 0 is known (x0 = -1.5, the first coordinate of mode 0),
// coordinate 1 should then follow p(x1 | x0) = N(-1, 0.15) (mode 0's). Plain
// replacement keeps the known pixels but lets the unknown one pick its mode
// before the known one matters; RePaint resampling makes the two agree.
TEST(OracleSamplers, InpaintingFollowsTheConditional) {
  DiscreteSchedule s = DiscreteSchedule::linear(100, 1e-3, 0.2);
  SDE vp = SDE::vp();
  GaussianMixture mix = demo_mixture_2d();
  OracleDenoiser o(mix, s), ov(mix, vp);
  const int64_t n = 1000;
  std::vector<float> known(static_cast<size_t>(2 * n), 0.0f);
  for (int64_t i = 0; i < n; ++i) known[2 * i] = -1.5f;
  SampleOptions opt;
  opt.x_known = ops::from_vector(known, {n, 2});
  opt.inpaint_mask = ops::from_vector(std::vector<float>{1.0f, 0.0f}, {1, 2});
  Generator g(8);
  Tensor plain = ddpm_sample(o, s, {n, 2}, g, DdpmVariance::Beta, opt).x;
  opt.inpaint_resample = 10;
  Tensor repaint = ddpm_sample(o, s, {n, 2}, g, DdpmVariance::Beta, opt).x;
  for (const Tensor& x : {plain, repaint})
    EXPECT_EQ(ops::max_abs_diff(ops::select(x, 1, 0), ops::full({n}, -1.5)), 0.0);  // known pixels kept exactly
  auto in_mode0 = [&](const Tensor& x) {
    std::vector<float> v = ops::to_vector_f32(ops::select(x, 1, 1));
    double c = 0;
    for (float y : v) c += std::abs(y + 1.0f) < 3 * std::sqrt(0.15f);
    return c / double(n);
  };
  const double frac_plain = in_mode0(plain), frac_repaint = in_mode0(repaint);
  std::printf("fraction of x1 in mode 0: replacement %.3f, RePaint(10) %.3f\n", frac_plain, frac_repaint);
  EXPECT_GT(frac_repaint, 0.9);
  EXPECT_GT(frac_repaint, frac_plain + 0.1);
  // Other samplers keep the known pixels too (exactly, at the end).
  SdeSamplerOptions se;
  se.steps = 50;
  se.common = opt;
  Tensor xs = sde_sample(ov, vp, {n, 2}, g, se).x;
  EXPECT_EQ(ops::max_abs_diff(ops::select(xs, 1, 0), ops::full({n}, -1.5)), 0.0);
  OdeOptions od;
  od.common = opt;
  EXPECT_THROW(ode_sample(ov, vp, {n, 2}, g, od), Error);  // RK45 does not inpaint
}

TEST(OracleSamplers, BadArgumentsThrow) {
  SDE vp = SDE::vp();
  DiscreteSchedule s = DiscreteSchedule::linear(50);
  OracleDenoiser o(demo_mixture_1d(), vp), os(demo_mixture_1d(), s);
  Generator g(0);
  SdeSamplerOptions se;
  se.steps = 5;
  se.common.guidance.labels = ops::zeros({3}, DType::Int64);  // batch is 8
  EXPECT_THROW(sde_sample(o, vp, {8, 1}, g, se), Error);
  DdimOptions d;
  d.eta = 1.5;
  EXPECT_THROW(ddim_sample(os, s, {8, 1}, g, d), Error);
  d.eta = 0;
  d.steps = 51;
  EXPECT_THROW(ddim_sample(os, s, {8, 1}, g, d), Error);
  d.steps = 5;
  d.common.x_init = ops::zeros({8, 1});
  d.common.strength = 0;
  EXPECT_THROW(ddim_sample(os, s, {8, 1}, g, d), Error);
  EXPECT_THROW(o.predict(ops::zeros({8, 3}), ops::zeros({8}), Tensor()), Error);  // wrong dimension
  d.common = {};
  d.common.guidance.labels = ops::full({8}, 7.0, DType::Int64);  // no component has class 7
  EXPECT_THROW(ddim_sample(os, s, {8, 1}, g, d), Error);
}
