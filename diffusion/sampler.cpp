#include "diffusion/sampler.h"

#include <algorithm>
#include <cmath>

#include "autograd/engine.h"
#include "diffusion/forward.h"
#include "diffusion/samplers_impl.h"
#include "diffusion/sigma_process.h"

namespace drift::diffusion {

// ---- the registry -------------------------------------------------------------
// One row per sampler: name, help, grid function, step function, stateless, adaptive.

const std::vector<SamplerEntry>& sampler_registry() {
  using namespace impl;
  static const std::vector<SamplerEntry> table = {
      {"ddpm", "DDPM ancestral sampling over every step (Ho et al. 2020, eq. 11)", ddpm_grid, ddpm_steps, true},
      {"ddim", "DDIM with eta (Song, Meng & Ermon 2021, eq. 12)", listed_grid, ddim_steps, true},
      {"dpm++2m", "DPM-Solver++(2M), multistep in log-SNR (Lu et al. 2022, alg. 2)", listed_grid, dpmpp_2m_steps},
      {"sde", "reverse SDE, Euler-Maruyama (Song et al. 2021, eq. 6)", sde_grid, euler_maruyama_steps},
      {"ode", "probability-flow ODE, fixed-step Euler / Heun / RK4 (Song et al. 2021, eq. 13)", sde_grid,
       ode_fixed_steps},
      {"ode-rk45", "probability-flow ODE, adaptive Dormand-Prince RK45", endpoints_grid, ode_rk45_steps, false, true},
      {"pc", "predictor-corrector with Langevin steps (Song et al. 2021, alg. 2-5)", sde_grid, pc_steps},
      {"euler", "Euler on the ODE in sigma, Karras sigmas (Karras et al. 2022, eq. 3)", karras_grid, euler_steps,
       true},
      {"euler-ancestral", "Euler ancestral in sigma, Karras sigmas (k-diffusion)", karras_grid,
       euler_ancestral_steps, true},
      {"heun", "EDM Heun, deterministic or stochastic with S_churn (Karras et al. 2022, alg. 1-2)", karras_grid,
       heun_steps},
      {"dpm++2m-sde", "DPM-Solver++(2M) SDE in sigma, Karras sigmas (Lu et al. 2022; k-diffusion)", karras_grid,
       dpmpp_2m_sde_steps},
      {"flow-euler", "Euler on the velocity ODE dx/dt = u(x, t) (rectified flow / flow matching)", flow_grid,
       flow_euler_steps, true},
      {"flow-heun", "Heun on the velocity ODE (last step Euler)", flow_grid, flow_heun_steps, true},
      {"flow-rk45", "adaptive Dormand-Prince RK45 on the velocity ODE", endpoints_grid, flow_rk45_steps, false, true},
  };
  return table;
}

const SamplerEntry& find_sampler(const std::string& name) {
  std::string known;
  for (const SamplerEntry& e : sampler_registry()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  throw Error(str("unknown sampler '", name, "' (expected one of: ", known, ")"));
}

// ---- shared pieces ------------------------------------------------------------

// Fresh N(0, I) like x: for a data-parallel rank (common.rows), its rows of the
// whole batch's draw (tensor/random_rows.h).
Tensor SamplerContext::noise(const Tensor& x) const {
  return ops::randn_rows(x.shape(), opt.common.rows, gen, x.dtype(), x.device());
}

namespace {

// The shape, dtype and device of the samples: x_init's if given, else the options'.
Shape sample_shape(const Shape& shape, const SampleOptions& opt) {
  return opt.x_init.defined() ? opt.x_init.shape() : shape;
}
DType sample_dtype(const SampleOptions& opt) { return opt.x_init.defined() ? opt.x_init.dtype() : opt.dtype; }
Device sample_device(const SampleOptions& opt) { return opt.x_init.defined() ? opt.x_init.device() : opt.device; }

// Latest time the sampler starts at: strength * t_max with SDEdit, else t_max.
double start_time(const Process& process, const SampleOptions& opt) {
  if (!opt.x_init.defined()) return process.t_max();
  DRIFT_CHECK(opt.strength > 0 && opt.strength <= 1, "SDEdit: expected strength in (0, 1], got ", opt.strength);
  return opt.strength * process.t_max();
}

// The starting sample at time t: the prior N(0, prior_std^2 I), or (SDEdit) x_init noised to t.
Tensor initial_sample(const Process& process, double t, const Shape& shape, Generator& gen,
                      const SampleOptions& opt) {
  if (opt.x_init.defined()) {
    DRIFT_CHECK(!opt.rows.active(), "SDEdit (x_init) is not split over processes");
    return q_sample(process, opt.x_init, t, gen);  // x_t = alpha x_init + sigma z
  }
  // At t_max: the process's prior; below it (a grid that starts lower, e.g. Karras with a
  // smaller sigma_max): the std of x_t for unit-variance data, sqrt(alpha^2 + sigma^2).
  const double std = t >= process.t_max() ? process.prior_std()
                                          : std::sqrt(process.alpha(t) * process.alpha(t) + process.sigma(t) * process.sigma(t));
  return ops::mul(ops::randn_rows(shape, opt.rows, gen, sample_dtype(opt), sample_device(opt)), std);
}

void check_options(const Shape& shape, const SampleOptions& opt) {
  if (opt.inpaint_mask.defined() || opt.x_known.defined()) {
    DRIFT_CHECK(opt.inpaint_mask.defined() && opt.x_known.defined(),
                "inpainting: expected both inpaint_mask and x_known, got only one of them");
    DRIFT_CHECK(opt.x_known.shape() == shape, "inpainting: expected x_known of shape ", shape_str(shape),
                ", got ", shape_str(opt.x_known.shape()));
    broadcast_shapes(opt.inpaint_mask.shape(), shape);  // throws if the mask does not broadcast
  }
  if (opt.guidance.labels.defined())
    DRIFT_CHECK(opt.guidance.labels.dim() == 1 && opt.guidance.labels.size(0) == shape[0],
                "guidance: expected labels of shape [", shape[0], "], got ", shape_str(opt.guidance.labels.shape()));
  DRIFT_CHECK(opt.inpaint_resample >= 1, "inpainting: expected inpaint_resample >= 1, got ", opt.inpaint_resample);
}

// Inpainting: known pixels <- x_known noised to (alpha, sigma) (sigma = 0: clean).
Tensor inpaint(const Tensor& x, double alpha, double sigma, Generator& gen, const SampleOptions& opt) {
  if (!opt.inpaint_mask.defined()) return x;
  Tensor m = ops::to(ops::to(opt.inpaint_mask, x.device()), x.dtype());
  Tensor known = mul(opt.x_known, alpha);
  if (sigma > 0) known = add(known, mul(ops::randn_rows(x.shape(), opt.rows, gen, x.dtype(), x.device()), sigma));
  return add(mul(m, known), mul(rsub(1.0, m), x));  // m * known + (1 - m) * x
}

void report_step(const SampleOptions& opt, const Tensor& x, int64_t step, int64_t total) {
  if (opt.on_step) opt.on_step(x, step, total);
}

}  // namespace

// ---- the driver ---------------------------------------------------------------

SampleResult run_sampler(const SamplerEntry& entry, Denoiser& model, const Process& process, const Shape& shape_in,
                         Generator& gen, const SamplerOptions& opt) {
  NoGradGuard no_grad;
  const SampleOptions& c = opt.common;
  const Shape shape = sample_shape(shape_in, c);
  check_options(shape, c);
  const std::vector<double> ts = entry.grid(process, opt, start_time(process, c));
  DRIFT_CHECK(ts.size() >= 2, "sampler ", entry.name, ": expected a time grid of at least 2 points, got ", ts.size());
  for (size_t i = 1; i < ts.size(); ++i)
    DRIFT_CHECK(ts[i] < ts[i - 1], "sampler ", entry.name, ": expected strictly descending times, got ", ts[i - 1],
                " then ", ts[i]);
  // RePaint resampling needs steps that depend only on (x, t, s): the stateless samplers (ddpm, ddim); others ignore it.
  const int64_t repeats = c.inpaint_mask.defined() && entry.stateless ? c.inpaint_resample : 1;
  GuidedModel m(model, process, c.guidance, c.x0_clip);
  SampleResult r;
  SamplerContext ctx{m, process, gen, opt, r, nullptr};
  Tensor x = initial_sample(process, ts[0], shape, gen, c);
  const int64_t total = static_cast<int64_t>(ts.size()) - 1;
  if (!entry.adaptive) report_step(c, x, 0, total);
  // After the step to ts[i+1]: known pixels noised to that time, then the hook.
  auto finish_step = [&](const Tensor& y, size_t i) {
    Tensor out = inpaint(y, ctx.alpha(ts[i + 1]), ctx.sigma(ts[i + 1]), gen, c);
    ++r.steps;
    report_step(c, out, r.steps, total);
    return out;
  };
  if (repeats == 1) {
    ctx.step_done = finish_step;
    x = entry.run(ctx, x, ts);
  } else {
    // RePaint (Lugmayr et al. 2022, algorithm 1, jump length 1): step t -> s and
    // inpaint, then go back to x_t ~ q(x_t | x_s) = N(alpha_{t|s} x_s, sigma_{t|s}^2 I)
    // (alpha_{t|s} = alpha_t / alpha_s, sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2),
    // `repeats` times; the last pass is kept.
    for (size_t i = 0; i + 1 < ts.size(); ++i) {
      const std::vector<double> one = {ts[i], ts[i + 1]};
      for (int64_t u = 0; u < repeats; ++u) {
        ctx.step_done = [&](const Tensor& y, size_t) {
          return inpaint(y, ctx.alpha(ts[i + 1]), ctx.sigma(ts[i + 1]), gen, c);
        };
        Tensor xs = entry.run(ctx, x, one);
        if (u + 1 == repeats || ctx.is_clean(ts[i + 1])) {
          x = xs;
          break;
        }
        const double a_ts = ctx.alpha(ts[i]) / ctx.alpha(ts[i + 1]);
        const double s_ts = std::sqrt(std::max(0.0, ctx.sigma(ts[i]) * ctx.sigma(ts[i]) -
                                                        a_ts * a_ts * ctx.sigma(ts[i + 1]) * ctx.sigma(ts[i + 1])));
        x = add(mul(xs, a_ts), mul(ctx.noise(xs), s_ts));
      }
      ++r.steps;
      report_step(c, x, r.steps, total);
    }
  }
  r.x = inpaint(x, 1.0, 0.0, gen, c);  // known pixels exactly at the end
  r.nfe = m.nfe();
  return r;
}

SampleResult sample(const std::string& name, Denoiser& model, const Process& process, const Shape& shape,
                    Generator& gen, const SamplerOptions& opt) {
  return run_sampler(find_sampler(name), model, process, shape, gen, opt);
}

// ---- time grids ---------------------------------------------------------------

std::vector<double> uniform_grid(double t_start, double t_end, int64_t steps) {
  DRIFT_CHECK(steps >= 1, "sampler: expected at least one step, got ", steps);
  DRIFT_CHECK(t_start > t_end, "sampler: expected the start time ", t_start, " above the end time ", t_end);
  std::vector<double> g(static_cast<size_t>(steps + 1));
  for (int64_t i = 0; i <= steps; ++i) g[i] = t_start + (t_end - t_start) * double(i) / double(steps);
  return g;
}

std::vector<double> truncate_grid(const std::vector<double>& ts, double t_start) {
  std::vector<double> out;
  for (double t : ts)
    if (t <= t_start + 1e-9) out.push_back(t);
  DRIFT_CHECK(!out.empty(), "sampler: no time step at or below the SDEdit start time ", t_start);
  for (size_t i = 1; i < out.size(); ++i)
    DRIFT_CHECK(out[i] < out[i - 1], "sampler: expected strictly descending time steps, got ", out[i - 1], " then ",
                out[i]);
  return out;
}

namespace {
// Finds t in [lo, hi] with lambda(t) = target (lambda decreases with t).
double time_for_lambda(const Process& p, double target, double lo, double hi) {
  for (int it = 0; it < 200; ++it) {
    double mid = 0.5 * (lo + hi);
    if (p.log_alpha_over_sigma(mid) > target) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}
}  // namespace

std::vector<double> make_timesteps(const Process& process, int64_t n, Spacing spacing) {
  DRIFT_CHECK(n >= 1, "make_timesteps: expected at least one step, got ", n);
  std::vector<double> ts;
  const double tmax = process.t_max(), tmin = process.t_min();
  if (spacing == Spacing::Karras) {  // sigma_ve on the Karras grid (EDM eq. 5), mapped back to times
    for (double s : karras_sigmas(n, process.sigma_ve(tmin), process.sigma_ve(tmax)))
      ts.push_back(std::clamp(process.time_for_sigma_ve(s), tmin, tmax));
    return ts;
  }
  if (const int64_t T = process.discrete_steps(); T > 0) {
    DRIFT_CHECK(n <= T, "make_timesteps: expected at most T = ", T, " steps, got ", n);
    switch (spacing) {
      case Spacing::Leading:  // (n-1-i) * floor(T / n)
        for (int64_t i = 0; i < n; ++i) ts.push_back(double((n - 1 - i) * (T / n)));
        break;
      case Spacing::Linspace:  // round(linspace(T-1, 0, n))
        for (int64_t i = 0; i < n; ++i)
          ts.push_back(n == 1 ? double(T - 1) : std::round(double(T - 1) * double(n - 1 - i) / double(n - 1)));
        break;
      case Spacing::Trailing:  // round(T - i T / n) - 1
        for (int64_t i = 0; i < n; ++i) ts.push_back(std::round(double(T) - double(i) * double(T) / double(n)) - 1.0);
        break;
      case Spacing::LogSNR: {  // uniform in lambda, rounded to steps, duplicates dropped
        const double l0 = process.log_alpha_over_sigma(tmax), l1 = process.log_alpha_over_sigma(tmin);
        for (int64_t i = 0; i < n; ++i) {
          double lam = n == 1 ? l0 : l0 + (l1 - l0) * double(i) / double(n - 1);
          double t = std::round(time_for_lambda(process, lam, tmin, tmax));
          if (ts.empty() || t < ts.back()) ts.push_back(t);
        }
        break;
      }
      case Spacing::Karras: break;  // handled above
    }
    return ts;
  }
  if (spacing == Spacing::LogSNR) {
    const double l0 = process.log_alpha_over_sigma(tmax), l1 = process.log_alpha_over_sigma(tmin);
    for (int64_t i = 0; i < n; ++i) {
      double lam = n == 1 ? l0 : l0 + (l1 - l0) * double(i) / double(n - 1);
      ts.push_back(i == 0 ? tmax : i == n - 1 ? tmin : time_for_lambda(process, lam, tmin, tmax));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) ts.push_back(n == 1 ? tmax : tmax + (tmin - tmax) * double(i) / double(n - 1));
  }
  return ts;
}

}  // namespace drift::diffusion
