// Continuous-time samplers on the forward SDE dx = f dt + g dW of any Process
// (Process::drift_scale, Process::diffusion): the reverse SDE with
// Euler-Maruyama, the probability-flow ODE (fixed-step and adaptive RK45) and
// predictor-corrector sampling.
#include <algorithm>
#include <cmath>

#include "diffusion/samplers_impl.h"

namespace drift::diffusion {

Tensor ode_drift(GuidedModel& model, const Process& process, const Tensor& x, double t) {
  const double g = process.diffusion(t);
  // dx/dt = f(x, t) - 1/2 g(t)^2 grad log p_t(x)                          (Song et al. 2021, eq. 13)
  return sub(mul(x, process.drift_scale(t)), mul(model.score(x, t), 0.5 * g * g));
}

namespace impl {

namespace {

// Where the SDE samplers stop: opt.t_end, or t_min (eps).
double end_time(const Process& p, const SampleOptions& opt) { return opt.t_end >= 0 ? opt.t_end : p.t_min(); }

// One Euler-Maruyama step of the reverse SDE from t to t - dt:
//   dx = [f(x, t) - g^2 grad log p_t(x)] dt + g dW_bar                    (Song et al. 2021, eq. 6)
// stepped backwards by dt > 0; `noise` false on the last step.
Tensor reverse_sde_step(SamplerContext& ctx, const Tensor& x, double t, double dt, bool noise) {
  const double g = ctx.process.diffusion(t);
  Tensor score = ctx.model.score(x, t);
  Tensor rev_drift = sub(mul(x, ctx.process.drift_scale(t)), mul(score, g * g));
  Tensor y = sub(x, mul(rev_drift, dt));
  if (noise) y = add(y, mul(ctx.noise(x), g * std::sqrt(dt)));
  return y;
}

// Mean over the batch of the per-sample L2 norms.
double mean_norm(const Tensor& x) {
  Tensor flat = reshape(x, {x.size(0), -1});
  return ops::item(mean(sqrt(sum(square(flat), {1}))));
}

}  // namespace

std::vector<double> sde_grid(const Process& p, const SamplerOptions& o, double t_start) {
  return uniform_grid(t_start, end_time(p, o.common), o.steps);
}

std::vector<double> endpoints_grid(const Process& p, const SamplerOptions& o, double t_start) {
  return uniform_grid(t_start, end_time(p, o.common), 1);
}

// ---- reverse-time SDE ----------------------------------------------------------

Tensor euler_maruyama_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    x = reverse_sde_step(ctx, x, ts[i], ts[i] - ts[i + 1], i + 2 < ts.size());  // the last step adds no noise
    x = ctx.step_done(x, i);
  }
  return x;
}

// ---- probability-flow ODE ------------------------------------------------------

Tensor ode_fixed_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  auto F = [&](const Tensor& y, double t) { return ode_drift(ctx.model, ctx.process, y, t); };
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double t = ts[i], h = ts[i + 1] - ts[i];  // h < 0
    Tensor k1 = F(x, t);
    switch (ctx.opt.solver) {
      case OdeSolver::Euler: x = add(x, mul(k1, h)); break;  // x += h f(x, t)
      case OdeSolver::Heun: {                                 // trapezoid with an Euler predictor
        Tensor k2 = F(add(x, mul(k1, h)), t + h);
        x = add(x, mul(add(k1, k2), 0.5 * h));
        break;
      }
      case OdeSolver::RK4: {  // x += h/6 (k1 + 2 k2 + 2 k3 + k4)
        Tensor k2 = F(add(x, mul(k1, 0.5 * h)), t + 0.5 * h);
        Tensor k3 = F(add(x, mul(k2, 0.5 * h)), t + 0.5 * h);
        Tensor k4 = F(add(x, mul(k3, h)), t + h);
        x = add(x, mul(add(add(k1, mul(k2, 2.0)), add(mul(k3, 2.0), k4)), h / 6.0));
        break;
      }
      case OdeSolver::RK45: throw Error("ode: the adaptive RK45 solver is the sampler ode-rk45");
    }
    x = ctx.step_done(x, i);
  }
  return x;
}

Tensor ode_rk45_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  DRIFT_CHECK(!ctx.opt.common.inpaint_mask.defined(), "ode_sample: inpainting needs a fixed-step solver, not RK45");
  DRIFT_CHECK(!ctx.opt.common.rows.active(), "ode_sample: RK45's step sizes depend on the whole batch, so it cannot be "
              "split over processes; use a fixed-step solver (heun, euler) or one process");
  Rk45Stats st;
  OdeFn f = [&](double t, const OdeState& y) { return OdeState{ode_drift(ctx.model, ctx.process, y[0], t)}; };
  OdeState y = rk45_integrate(f, {x}, ts.front(), ts.back(), ctx.opt.rtol, ctx.opt.atol, &st);
  ctx.result.steps = st.accepted;
  ctx.result.rejected = st.rejected;
  return y[0];
}

// ---- predictor-corrector -------------------------------------------------------

Tensor pc_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  const SamplerOptions& o = ctx.opt;
  DRIFT_CHECK(!o.common.rows.active(), "pc_sample: the corrector's step size depends on the norms over the whole "
              "batch, so it cannot be split over processes; use another sampler or one process");
  DRIFT_CHECK(o.snr > 0 && o.corrector_steps >= 0, "pc_sample: expected snr > 0 and corrector_steps >= 0, got ",
              o.snr, " and ", o.corrector_steps);
  const Process& p = ctx.process;
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double t = ts[i], dt = ts[i] - ts[i + 1];
    const bool last = i + 2 == ts.size();
    // Corrector: Langevin MCMC at time t                                     (Song et al. 2021, alg. 4-5)
    for (int64_t j = 0; j < o.corrector_steps; ++j) {
      Tensor grad = ctx.model.score(x, t);
      Tensor z = ctx.noise(x);
      const double ratio = o.snr * mean_norm(z) / mean_norm(grad);
      const double step = 2.0 * p.langevin_alpha(t, dt) * ratio * ratio;  // eps_i = 2 alpha_i (r ||z|| / ||s||)^2
      x = add(add(x, mul(grad, step)), mul(z, std::sqrt(2.0 * step)));   // x += eps s + sqrt(2 eps) z
    }
    // Predictor: one step from t to t - dt (none: the corrector alone, annealed Langevin)
    if (o.predictor == Predictor::ReverseDiffusion) {
      Tensor score = ctx.model.score(x, t);
      Process::Discretized d = p.discretize(t, dt);
      // x_i = x_{i+1} - f_{i+1} + G_{i+1}^2 s + G_{i+1} z                    (Song et al. 2021, eq. 47)
      x = add(sub(x, mul(x, d.f_scale)), mul(score, d.G * d.G));
      if (!last) x = add(x, mul(ctx.noise(x), d.G));
    } else if (o.predictor == Predictor::EulerMaruyama) {
      x = reverse_sde_step(ctx, x, t, dt, !last);
    }
    x = ctx.step_done(x, i);
  }
  return x;
}

}  // namespace impl

// ---- typed wrappers -----------------------------------------------------------

SampleResult sde_sample(Denoiser& model, const SDE& sde, const Shape& shape, Generator& gen,
                        const SdeSamplerOptions& opt) {
  SamplerOptions o;
  o.steps = opt.steps;
  o.common = opt.common;
  return sample("sde", model, sde, shape, gen, o);
}

SampleResult ode_sample(Denoiser& model, const SDE& sde, const Shape& shape, Generator& gen, const OdeOptions& opt) {
  SamplerOptions o;
  o.solver = opt.solver;
  o.steps = opt.steps;
  o.rtol = opt.rtol;
  o.atol = opt.atol;
  o.common = opt.common;
  return sample(opt.solver == OdeSolver::RK45 ? "ode-rk45" : "ode", model, sde, shape, gen, o);
}

SampleResult pc_sample(Denoiser& model, const SDE& sde, const Shape& shape, Generator& gen, const PcOptions& opt) {
  SamplerOptions o;
  o.steps = opt.steps;
  o.predictor = opt.predictor;
  o.corrector_steps = opt.corrector_steps;
  o.snr = opt.snr;
  o.common = opt.common;
  return sample("pc", model, sde, shape, gen, o);
}

}  // namespace drift::diffusion
