// Discrete-time samplers: DDPM ancestral, DDIM, DPM-Solver++(2M). Written
// for any Process through alpha(t), sigma(t); on a DiscreteSchedule they walk
// its integer steps and end at t_clean = -1 (abar_{-1} = 1).
#include <algorithm>
#include <cmath>

#include "diffusion/samplers_impl.h"

namespace drift::diffusion {
namespace impl {

// ---- grids --------------------------------------------------------------------

// DDPM: every integer step from ceil(t_start) down to 0, then clean data; on a
// continuous process, `steps` uniform steps from t_start to t_min, then clean data.
std::vector<double> ddpm_grid(const Process& p, const SamplerOptions& o, double t_start) {
  std::vector<double> ts;
  if (const int64_t T = p.discrete_steps(); T > 0) {
    const int64_t first = std::clamp<int64_t>(int64_t(std::ceil(t_start)), 0, T - 1);
    for (int64_t t = first; t >= 0; --t) ts.push_back(double(t));
  } else {
    ts = uniform_grid(t_start, p.t_min(), std::max<int64_t>(1, o.steps - 1));
  }
  ts.push_back(p.t_clean());
  return ts;
}

// The listed times (o.timesteps, or make_timesteps(steps, spacing)) at or
// below t_start, then clean data. Spacing::Karras is the grid of the sigma
// samplers (karras_grid), so the options' sigma_min, sigma_max and rho apply
// to "DPM++ 2M Karras" as to euler / heun.
std::vector<double> listed_grid(const Process& p, const SamplerOptions& o, double t_start) {
  if (o.timesteps.empty() && o.spacing == Spacing::Karras) return karras_grid(p, o, t_start);
  std::vector<double> ts = truncate_grid(o.timesteps.empty() ? make_timesteps(p, o.steps, o.spacing) : o.timesteps,
                                         t_start);
  DRIFT_CHECK(ts.back() > p.t_clean(), "sampler: expected times above the clean-data time ", p.t_clean(), ", got ",
              ts.back());
  ts.push_back(p.t_clean());
  return ts;
}

// ---- DDPM ---------------------------------------------------------------------

Tensor ddpm_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double t = ts[i], s = ts[i + 1];
    // One step t -> s of the posterior q(x_s | x_t, x0). With alpha_{t|s} = alpha_t / alpha_s,
    // sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2 (on consecutive DDPM steps:
    // alpha_{t|s}^2 = alpha_t = 1 - beta_t, sigma_{t|s}^2 = beta_t):
    //   mean = 1/alpha_{t|s} (x_t - sigma_{t|s}^2 / sigma_t eps)           (DDPM eq. 11)
    const double a_t = ctx.alpha(t), s_t = ctx.sigma(t), a_s = ctx.alpha(s), s_s = ctx.sigma(s);
    const double a_ts = a_t / a_s;
    const double var_ts = std::max(0.0, s_t * s_t - a_ts * a_ts * s_s * s_s);  // beta_t
    if (a_t > 0) {
      Tensor eps = ctx.model.eps(x, t);
      x = mul(sub(x, mul(eps, var_ts / s_t)), 1.0 / a_ts);
    } else {
      // alpha_t = 0 (zero terminal SNR: x_t is pure noise): the same mean in its x0 form,
      // alpha_s sigma_{t|s}^2 / sigma_t^2 x0 + alpha_{t|s} sigma_s^2 / sigma_t^2 x_t = alpha_s x0   (DDPM eq. 7)
      x = mul(ctx.model.x0(x, t), a_s);
    }
    if (!ctx.is_clean(s)) {
      // sigma^2 = beta_t, or beta_tilde_t = sigma_s^2 / sigma_t^2 beta_t         (DDPM sec. 3.2, eq. 7)
      const double var = ctx.opt.variance == DdpmVariance::Beta ? var_ts : var_ts * s_s * s_s / (s_t * s_t);
      x = add(x, mul(ctx.noise(x), std::sqrt(var)));
    }
    x = ctx.step_done(x, i);
  }
  return x;
}

// ---- DDIM ---------------------------------------------------------------------

Tensor ddim_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  const double eta = ctx.opt.eta;
  DRIFT_CHECK(eta >= 0 && eta <= 1, "ddim_sample: expected eta in [0, 1], got ", eta);
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double t = ts[i], s = ts[i + 1];
    const double a_t = ctx.alpha(t), s_t = ctx.sigma(t), a_s = ctx.alpha(s), s_s = ctx.sigma(s);
    GuidedModel::Pred p = ctx.model.eps_x0(x, t);
    // sigma_{t|s}^2 = sigma_t^2 - (alpha_t / alpha_s)^2 sigma_s^2; c = eta sigma_s sigma_{t|s} / sigma_t  (DDIM eq. 16)
    const double ratio = a_t / a_s;
    const double s_ts = std::sqrt(std::max(0.0, s_t * s_t - ratio * ratio * s_s * s_s));
    const double c = eta * s_s * s_ts / s_t;
    // x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z                    (DDIM eq. 12)
    x = add(mul(p.x0, a_s), mul(p.eps, std::sqrt(std::max(0.0, s_s * s_s - c * c))));
    if (c > 0) x = add(x, mul(ctx.noise(x), c));
    x = ctx.step_done(x, i);
  }
  return x;
}

// ---- DPM-Solver++(2M) ----------------------------------------------------------

Tensor dpmpp_2m_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  const Process& p = ctx.process;
  Tensor x0_prev;     // x0 prediction at the previous time
  double h_prev = 0;  // previous step size in lambda
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double t = ts[i], s = ts[i + 1];
    Tensor x0 = ctx.model.x0(x, t);
    if (ctx.is_clean(s)) {
      x = x0;  // final step to sigma = 0: first order, x = alpha_0 x0 with alpha_0 = 1
    } else {
      const double a_s = ctx.alpha(s), s_s = ctx.sigma(s), s_t = ctx.sigma(t);
      const double h = p.log_alpha_over_sigma(s) - p.log_alpha_over_sigma(t);  // h_i = lambda_s - lambda_t
      Tensor D = x0;  // first order for the first step
      if (x0_prev.defined()) {
        const double r_i = h_prev / h;  // r_i = h_{i-1} / h_i
        // D_i = (1 + 1/(2 r_i)) x0_{i-1} - 1/(2 r_i) x0_{i-2}             (DPM-Solver++ algorithm 2)
        D = sub(mul(x0, 1.0 + 0.5 / r_i), mul(x0_prev, 0.5 / r_i));
      }
      // x_s = sigma_s / sigma_t x_t - alpha_s (e^{-h} - 1) D               (DPM-Solver++ eq. 9 / alg. 2)
      x = sub(mul(x, s_s / s_t), mul(D, a_s * std::expm1(-h)));
      h_prev = h;
    }
    x0_prev = x0;
    x = ctx.step_done(x, i);
  }
  return x;
}

}  // namespace impl

// ---- typed wrappers -----------------------------------------------------------

SampleResult ddpm_sample(Denoiser& model, const DiscreteSchedule& schedule, const Shape& shape, Generator& gen,
                         DdpmVariance variance, const SampleOptions& opt) {
  SamplerOptions o;
  o.variance = variance;
  o.common = opt;
  return sample("ddpm", model, schedule, shape, gen, o);
}

SampleResult ddim_sample(Denoiser& model, const Process& process, const std::vector<double>& timesteps,
                         const Shape& shape, Generator& gen, double eta, const SampleOptions& opt) {
  SamplerOptions o;
  o.timesteps = timesteps;
  o.eta = eta;
  o.common = opt;
  return sample("ddim", model, process, shape, gen, o);
}

SampleResult ddim_sample(Denoiser& model, const Process& process, const Shape& shape, Generator& gen,
                         const DdimOptions& opt) {
  SamplerOptions o;
  o.steps = opt.steps;
  o.spacing = opt.spacing;
  o.eta = opt.eta;
  o.common = opt.common;
  return sample("ddim", model, process, shape, gen, o);
}

SampleResult dpm_solver_pp_2m(Denoiser& model, const Process& process, const Shape& shape, Generator& gen,
                              const DpmSolverOptions& opt) {
  SamplerOptions o;
  o.steps = opt.steps;
  o.spacing = opt.spacing;
  o.common = opt.common;
  return sample("dpm++2m", model, process, shape, gen, o);
}

}  // namespace drift::diffusion
