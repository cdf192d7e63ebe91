#include "diffusion/samplers.h"

#include <algorithm>
#include <cmath>

#include "autograd/engine.h"
#include "diffusion/forward.h"

namespace drift::diffusion {

namespace {

// ---- shared pieces ------------------------------------------------------------

// The shape of the samples: x_init's if given, else `shape`.
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

// Fresh noise N(0, I) like x: for a data-parallel rank (opt.rows), its rows
// of the whole batch's draw (tensor/random_rows.h).
Tensor noise(const Shape& shape, Generator& gen, DType dtype, Device device, const SampleOptions& opt) {
  return ops::randn_rows(shape, opt.rows, gen, dtype, device);
}

// The starting sample at time t: the prior, or (SDEdit) x_init noised to t.
Tensor initial_sample(const Process& process, double t, const Shape& shape, Generator& gen,
                      const SampleOptions& opt) {
  if (opt.x_init.defined()) {
    DRIFT_CHECK(!opt.rows.active(), "SDEdit (x_init) is not split over processes");
    return q_sample(process, opt.x_init, t, gen);  // x_t = alpha x_init + sigma z
  }
  double std;
  if (auto* sde = dynamic_cast<const SDE*>(&process))
    std = sde->prior_std();  // N(0, I) for VP / sub-VP, N(0, sigma_max^2 I) for VE
  else
    std = std::sqrt(process.alpha(t) * process.alpha(t) + process.sigma(t) * process.sigma(t));  // 1 for VP
  return ops::mul(noise(shape, gen, sample_dtype(opt), sample_device(opt), opt), std);
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
}

// Inpainting: known pixels <- x_known noised to time (alpha, sigma) (sigma = 0: clean).
Tensor inpaint(const Tensor& x, double alpha, double sigma, Generator& gen, const SampleOptions& opt) {
  if (!opt.inpaint_mask.defined()) return x;
  Tensor m = ops::to(ops::to(opt.inpaint_mask, x.device()), x.dtype());
  Tensor known = mul(opt.x_known, alpha);
  if (sigma > 0) known = add(known, mul(noise(x.shape(), gen, x.dtype(), x.device(), opt), sigma));
  return add(mul(m, known), mul(rsub(1.0, m), x));  // m * known + (1 - m) * x
}

// Descending uniform grid t_start = t_0 > ... > t_steps = eps.
std::vector<double> uniform_grid(double t_start, double t_end, int64_t steps) {
  DRIFT_CHECK(steps >= 1, "sampler: expected at least one step, got ", steps);
  DRIFT_CHECK(t_start > t_end, "sampler: expected the start time ", t_start, " above the end time ", t_end);
  std::vector<double> g(static_cast<size_t>(steps + 1));
  for (int64_t i = 0; i <= steps; ++i) g[i] = t_start + (t_end - t_start) * double(i) / double(steps);
  return g;
}

// Where the SDE samplers stop: opt.t_end, or eps.
double end_time(const SDE& sde, const SampleOptions& opt) { return opt.t_end >= 0 ? opt.t_end : sde.t_min(); }

// Mean over the batch of the per-sample L2 norms.
double mean_norm(const Tensor& x) {
  Tensor flat = reshape(x, {x.size(0), -1});
  return ops::item(mean(sqrt(sum(square(flat), {1}))));
}

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

// ---- time grids ---------------------------------------------------------------

std::vector<double> make_timesteps(const Process& process, int64_t n, Spacing spacing) {
  DRIFT_CHECK(n >= 1, "make_timesteps: expected at least one step, got ", n);
  std::vector<double> ts;
  const double tmax = process.t_max(), tmin = process.t_min();
  if (auto* d = dynamic_cast<const DiscreteSchedule*>(&process)) {
    const int64_t T = d->T();
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

// Keeps the times at or below t_start (SDEdit) and checks the grid.
static std::vector<double> truncate_grid(const std::vector<double>& ts, double t_start) {
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

// Calls the caller's per-step hook, if any.
void report_step(const SampleOptions& opt, const Tensor& x, int64_t step, int64_t total) {
  if (opt.on_step) opt.on_step(x, step, total);
}

}  // namespace

// ---- DDPM ---------------------------------------------------------------------

SampleResult ddpm_sample(Denoiser& model, const DiscreteSchedule& sch, const Shape& shape_in, Generator& gen,
                         DdpmVariance variance, const SampleOptions& opt) {
  NoGradGuard no_grad;
  const Shape shape = sample_shape(shape_in, opt);
  check_options(shape, opt);
  GuidedModel m(model, sch, opt.guidance);
  int64_t t_start = sch.T() - 1;
  if (opt.x_init.defined()) t_start = std::clamp<int64_t>(int64_t(std::ceil(start_time(sch, opt))), 0, sch.T() - 1);
  Tensor x = initial_sample(sch, double(t_start), shape, gen, opt);
  SampleResult r;
  DRIFT_CHECK(opt.inpaint_resample >= 1, "ddpm_sample: expected inpaint_resample >= 1, got ", opt.inpaint_resample);
  const int64_t repeats = opt.inpaint_mask.defined() ? opt.inpaint_resample : 1;
  report_step(opt, x, 0, t_start + 1);
  for (int64_t t = t_start; t >= 0; --t) {
    for (int64_t u = 0; u < repeats; ++u) {
      Tensor eps = m.eps(x, double(t));
      const double beta = sch.beta(t), abar = sch.alpha_bar(t);
      // mean = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps)         (DDPM eq. 11)
      Tensor x_prev = mul(sub(x, mul(eps, beta / std::sqrt(1.0 - abar))), 1.0 / std::sqrt(sch.alpha_step(t)));
      if (t > 0) {
        // sigma_t^2 = beta_t or beta_tilde_t                                  (DDPM sec. 3.2)
        const double var = variance == DdpmVariance::Beta ? beta : sch.posterior_variance(t);
        x_prev = add(x_prev, mul(noise(shape, gen, x.dtype(), x.device(), opt), std::sqrt(var)));
      }
      x_prev = inpaint(x_prev, sch.alpha(double(t - 1)), sch.sigma(double(t - 1)), gen, opt);
      if (u + 1 < repeats && t > 0) {
        // RePaint: back to x_t ~ N(sqrt(1 - beta_t) x_{t-1}, beta_t I)      (DDPM eq. 2)
        x = add(mul(x_prev, std::sqrt(1.0 - beta)), mul(noise(shape, gen, x.dtype(), x.device(), opt), std::sqrt(beta)));
      } else {
        x = x_prev;
        break;
      }
    }
    ++r.steps;
    report_step(opt, x, r.steps, t_start + 1);
  }
  r.x = inpaint(x, 1.0, 0.0, gen, opt);
  r.nfe = m.nfe();
  return r;
}

// ---- DDIM ---------------------------------------------------------------------

SampleResult ddim_sample(Denoiser& model, const Process& process, const std::vector<double>& timesteps_in,
                         const Shape& shape_in, Generator& gen, double eta, const SampleOptions& opt) {
  NoGradGuard no_grad;
  DRIFT_CHECK(eta >= 0 && eta <= 1, "ddim_sample: expected eta in [0, 1], got ", eta);
  const Shape shape = sample_shape(shape_in, opt);
  check_options(shape, opt);
  std::vector<double> ts = truncate_grid(timesteps_in, start_time(process, opt));
  GuidedModel m(model, process, opt.guidance);
  Tensor x = initial_sample(process, ts[0], shape, gen, opt);
  SampleResult r;
  report_step(opt, x, 0, static_cast<int64_t>(ts.size()));
  for (size_t i = 0; i < ts.size(); ++i) {
    const double t = ts[i];
    const bool last = i + 1 == ts.size();
    // The step after the last listed time goes to clean data: alpha = 1, sigma = 0 (abar_{-1} = 1).
    const double a_t = process.alpha(t), s_t = process.sigma(t);
    const double a_s = last ? 1.0 : process.alpha(ts[i + 1]), s_s = last ? 0.0 : process.sigma(ts[i + 1]);
    GuidedModel::Pred p = m.eps_x0(x, t);
    // sigma_{t|s}^2 = sigma_t^2 - (alpha_t / alpha_s)^2 sigma_s^2; c = eta sigma_s sigma_{t|s} / sigma_t  (DDIM eq. 16)
    const double ratio = a_t / a_s;
    const double s_ts = std::sqrt(std::max(0.0, s_t * s_t - ratio * ratio * s_s * s_s));
    const double c = eta * s_s * s_ts / s_t;
    // x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z                    (DDIM eq. 12)
    x = add(mul(p.x0, a_s), mul(p.eps, std::sqrt(std::max(0.0, s_s * s_s - c * c))));
    if (c > 0) x = add(x, mul(noise(shape, gen, x.dtype(), x.device(), opt), c));
    x = inpaint(x, a_s, s_s, gen, opt);
    ++r.steps;
    report_step(opt, x, r.steps, static_cast<int64_t>(ts.size()));
  }
  r.x = inpaint(x, 1.0, 0.0, gen, opt);
  r.nfe = m.nfe();
  return r;
}

SampleResult ddim_sample(Denoiser& model, const Process& process, const Shape& shape, Generator& gen,
                         const DdimOptions& opt) {
  return ddim_sample(model, process, make_timesteps(process, opt.steps, opt.spacing), shape, gen, opt.eta, opt.common);
}

// ---- DPM-Solver++(2M) ----------------------------------------------------------

SampleResult dpm_solver_pp_2m(Denoiser& model, const Process& process, const Shape& shape_in, Generator& gen,
                              const DpmSolverOptions& opt) {
  NoGradGuard no_grad;
  const Shape shape = sample_shape(shape_in, opt.common);
  check_options(shape, opt.common);
  std::vector<double> ts = truncate_grid(make_timesteps(process, opt.steps, opt.spacing),
                                         start_time(process, opt.common));
  GuidedModel m(model, process, opt.common.guidance);
  Tensor x = initial_sample(process, ts[0], shape, gen, opt.common);
  SampleResult r;
  report_step(opt.common, x, 0, static_cast<int64_t>(ts.size()));
  Tensor x0_prev;      // x0 prediction at the previous time
  double h_prev = 0;   // previous step size in lambda
  for (size_t i = 0; i < ts.size(); ++i) {
    const double t = ts[i];
    Tensor x0 = m.x0(x, t);
    if (i + 1 == ts.size()) {
      x = x0;  // final step to sigma = 0: first order, x = alpha_0 x0 with alpha_0 = 1
    } else {
      const double s = ts[i + 1];
      const double a_s = process.alpha(s), s_s = process.sigma(s), s_t = process.sigma(t);
      const double h = process.log_alpha_over_sigma(s) - process.log_alpha_over_sigma(t);  // h_i = lambda_s - lambda_t
      Tensor D = x0;  // first order for the first step
      if (x0_prev.defined()) {
        const double r_i = h_prev / h;  // r_i = h_{i-1} / h_i
        // D_i = (1 + 1/(2 r_i)) x0_{i-1} - 1/(2 r_i) x0_{i-2}             (DPM-Solver++ algorithm 2)
        D = sub(mul(x0, 1.0 + 0.5 / r_i), mul(x0_prev, 0.5 / r_i));
      }
      // x_s = sigma_s / sigma_t x_t - alpha_s (e^{-h} - 1) D               (DPM-Solver++ eq. 9 / alg. 2)
      x = sub(mul(x, s_s / s_t), mul(D, a_s * std::expm1(-h)));
      h_prev = h;
      x = inpaint(x, a_s, s_s, gen, opt.common);
    }
    if (i + 1 == ts.size()) x = inpaint(x, 1.0, 0.0, gen, opt.common);
    x0_prev = x0;
    ++r.steps;
    report_step(opt.common, x, r.steps, static_cast<int64_t>(ts.size()));
  }
  r.x = inpaint(x, 1.0, 0.0, gen, opt.common);
  r.nfe = m.nfe();
  return r;
}

// ---- reverse-time SDE ----------------------------------------------------------

SampleResult sde_sample(Denoiser& model, const SDE& sde, const Shape& shape_in, Generator& gen,
                        const SdeSamplerOptions& opt) {
  NoGradGuard no_grad;
  const Shape shape = sample_shape(shape_in, opt.common);
  check_options(shape, opt.common);
  std::vector<double> grid = uniform_grid(start_time(sde, opt.common), end_time(sde, opt.common), opt.steps);
  GuidedModel m(model, sde, opt.common.guidance);
  Tensor x = initial_sample(sde, grid[0], shape, gen, opt.common);
  SampleResult r;
  report_step(opt.common, x, 0, opt.steps);
  for (int64_t i = 0; i < opt.steps; ++i) {
    const double t = grid[i], dt = grid[i] - grid[i + 1];  // dt > 0, time runs backwards
    const double g = sde.diffusion(t);
    Tensor score = m.score(x, t);
    // dx = [f(x, t) - g^2 score] dt + g dW_bar, stepped backwards by dt      (Song et al. 2021, eq. 6)
    Tensor rev_drift = sub(sde.drift(x, t), mul(score, g * g));
    x = sub(x, mul(rev_drift, dt));
    if (i + 1 < opt.steps) x = add(x, mul(noise(shape, gen, x.dtype(), x.device(), opt.common), g * std::sqrt(dt)));
    x = inpaint(x, sde.alpha(grid[i + 1]), sde.sigma(grid[i + 1]), gen, opt.common);
    ++r.steps;
    report_step(opt.common, x, r.steps, opt.steps);
  }
  r.x = inpaint(x, 1.0, 0.0, gen, opt.common);
  r.nfe = m.nfe();
  return r;
}

// ---- probability-flow ODE ------------------------------------------------------

Tensor ode_drift(GuidedModel& model, const SDE& sde, const Tensor& x, double t) {
  const double g = sde.diffusion(t);
  // dx/dt = f(x, t) - 1/2 g(t)^2 grad log p_t(x)                          (Song et al. 2021, eq. 13)
  return sub(sde.drift(x, t), mul(model.score(x, t), 0.5 * g * g));
}

namespace {

// y + h * sum_j c_j k_j, component by component.
OdeState combine(const OdeState& y, double h, const std::vector<const OdeState*>& ks, const std::vector<double>& c) {
  OdeState out(y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    Tensor acc;
    for (size_t j = 0; j < ks.size(); ++j) {
      if (c[j] == 0.0) continue;
      Tensor term = mul((*ks[j])[i], h * c[j]);
      acc = acc.defined() ? add(acc, term) : term;
    }
    out[i] = acc.defined() ? add(y[i], acc) : y[i];
  }
  return out;
}

// sqrt(mean((e / (atol + rtol * max(|a|, |b|)))^2)) over every element of every component.
double rms_norm(const OdeState& e, const OdeState& a, const OdeState& b, double rtol, double atol) {
  double total = 0;
  int64_t count = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    Tensor scale = add(mul(maximum(abs(a[i]), abs(b[i])), rtol), atol);
    total += ops::item(sum(square(div(e[i], scale))));
    count += e[i].numel();
  }
  return std::sqrt(total / double(std::max<int64_t>(count, 1)));
}

}  // namespace

OdeState rk45_integrate(const OdeFn& f, OdeState y, double t0, double t1, double rtol, double atol,
                        Rk45Stats* stats) {
  // Dormand-Prince 5(4) tableau (Dormand & Prince 1980; Hairer, Norsett & Wanner, table 5.2).
  static const double c[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
  static const std::vector<std::vector<double>> A = {
      {},
      {1.0 / 5},
      {3.0 / 40, 9.0 / 40},
      {44.0 / 45, -56.0 / 15, 32.0 / 9},
      {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
      {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
      {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
  // error weights b5 - b4
  static const std::vector<double> E = {71.0 / 57600,  0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200,
                                        22.0 / 525, -1.0 / 40};
  Rk45Stats st;
  const double dir = t1 > t0 ? 1.0 : -1.0;
  const double span = std::abs(t1 - t0);
  OdeState k1 = f(t0, y);
  ++st.nfe;
  // Initial step (Hairer, Norsett & Wanner, sec. II.4; as scipy's select_initial_step).
  double h;
  {
    const double d0 = rms_norm(y, y, y, rtol, atol), d1 = rms_norm(k1, y, y, rtol, atol);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    h0 = std::min(h0, span);
    OdeState y1 = combine(y, dir * h0, {&k1}, {1.0});
    OdeState f1 = f(t0 + dir * h0, y1);
    ++st.nfe;
    OdeState diff = combine(f1, -1.0, {&k1}, {1.0});
    const double d2 = rms_norm(diff, y, y, rtol, atol) / h0;
    const double h1 = std::max(d1, d2) <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / std::max(d1, d2), 0.2);
    h = std::min({100 * h0, h1, span});
  }
  double t = t0;
  while (dir * (t1 - t) > 1e-12 * span) {
    h = std::min(h, std::abs(t1 - t));
    const double hs = dir * h;
    std::vector<OdeState> k(8);  // k[0..6] stages, k[7] = y_new
    k[0] = k1;
    std::vector<const OdeState*> ks = {&k[0]};
    for (int s = 1; s < 7; ++s) {
      OdeState ys = combine(y, hs, ks, A[s]);  // s = 6: the 5th-order solution y_new
      k[s] = f(t + c[s] * hs, ys);             // k[6] = f(y_new) is reused as the next k1 (FSAL)
      ++st.nfe;
      ks.push_back(&k[s]);
      if (s == 6) k[7] = ys;
    }
    OdeState y_new = k[7];
    OdeState zeros;
    for (auto& v : y) zeros.push_back(ops::zeros_like(v));
    OdeState err = combine(zeros, hs, ks, E);  // local error estimate h sum_j (b5_j - b4_j) k_j
    const double en = rms_norm(err, y, y_new, rtol, atol);
    if (en <= 1.0) {
      t += hs;
      y = y_new;
      k1 = k[6];
      ++st.accepted;
      const double factor = en == 0 ? 10.0 : std::min(10.0, 0.9 * std::pow(en, -0.2));
      h *= factor;
    } else {
      ++st.rejected;
      h *= std::max(0.2, 0.9 * std::pow(en, -0.2));
      DRIFT_CHECK(h > 1e-12 * span, "rk45_integrate: step size underflow at t = ", t);
    }
  }
  if (stats) *stats = st;
  return y;
}

SampleResult ode_sample(Denoiser& model, const SDE& sde, const Shape& shape_in, Generator& gen,
                        const OdeOptions& opt) {
  NoGradGuard no_grad;
  const Shape shape = sample_shape(shape_in, opt.common);
  check_options(shape, opt.common);
  GuidedModel m(model, sde, opt.common.guidance);
  const double t_start = start_time(sde, opt.common);
  Tensor x = initial_sample(sde, t_start, shape, gen, opt.common);
  SampleResult r;
  if (opt.solver == OdeSolver::RK45) {
    DRIFT_CHECK(!opt.common.inpaint_mask.defined(), "ode_sample: inpainting needs a fixed-step solver, not RK45");
    DRIFT_CHECK(!opt.common.rows.active(), "ode_sample: RK45's step sizes depend on the whole batch, so it cannot be "
                "split over processes; use a fixed-step solver (heun, euler) or one process");
    Rk45Stats st;
    OdeFn f = [&](double t, const OdeState& y) { return OdeState{ode_drift(m, sde, y[0], t)}; };
    OdeState y = rk45_integrate(f, {x}, t_start, end_time(sde, opt.common), opt.rtol, opt.atol, &st);
    r.x = y[0];
    r.steps = st.accepted;
    r.rejected = st.rejected;
    r.nfe = m.nfe();
    return r;
  }
  std::vector<double> grid = uniform_grid(t_start, end_time(sde, opt.common), opt.steps);
  report_step(opt.common, x, 0, opt.steps);
  for (int64_t i = 0; i < opt.steps; ++i) {
    const double t = grid[i], h = grid[i + 1] - grid[i];  // h < 0
    Tensor k1 = ode_drift(m, sde, x, t);
    switch (opt.solver) {
      case OdeSolver::Euler: x = add(x, mul(k1, h)); break;  // x += h f(x, t)
      case OdeSolver::Heun: {                                 // trapezoid with an Euler predictor
        Tensor k2 = ode_drift(m, sde, add(x, mul(k1, h)), t + h);
        x = add(x, mul(add(k1, k2), 0.5 * h));
        break;
      }
      case OdeSolver::RK4: {  // x += h/6 (k1 + 2 k2 + 2 k3 + k4)
        Tensor k2 = ode_drift(m, sde, add(x, mul(k1, 0.5 * h)), t + 0.5 * h);
        Tensor k3 = ode_drift(m, sde, add(x, mul(k2, 0.5 * h)), t + 0.5 * h);
        Tensor k4 = ode_drift(m, sde, add(x, mul(k3, h)), t + h);
        x = add(x, mul(add(add(k1, mul(k2, 2.0)), add(mul(k3, 2.0), k4)), h / 6.0));
        break;
      }
      case OdeSolver::RK45: break;
    }
    x = inpaint(x, sde.alpha(grid[i + 1]), sde.sigma(grid[i + 1]), gen, opt.common);
    ++r.steps;
    report_step(opt.common, x, r.steps, opt.steps);
  }
  r.x = inpaint(x, 1.0, 0.0, gen, opt.common);
  r.nfe = m.nfe();
  return r;
}

// ---- predictor-corrector -------------------------------------------------------

SampleResult pc_sample(Denoiser& model, const SDE& sde, const Shape& shape_in, Generator& gen, const PcOptions& opt) {
  NoGradGuard no_grad;
  DRIFT_CHECK(!opt.common.rows.active(), "pc_sample: the corrector's step size depends on the norms over the whole "
              "batch, so it cannot be split over processes; use another sampler or one process");
  DRIFT_CHECK(opt.snr > 0 && opt.corrector_steps >= 0, "pc_sample: expected snr > 0 and corrector_steps >= 0, got ",
              opt.snr, " and ", opt.corrector_steps);
  const Shape shape = sample_shape(shape_in, opt.common);
  check_options(shape, opt.common);
  std::vector<double> grid = uniform_grid(start_time(sde, opt.common), end_time(sde, opt.common), opt.steps);
  GuidedModel m(model, sde, opt.common.guidance);
  Tensor x = initial_sample(sde, grid[0], shape, gen, opt.common);
  SampleResult r;
  report_step(opt.common, x, 0, opt.steps);
  for (int64_t i = 0; i < opt.steps; ++i) {
    const double t = grid[i], dt = grid[i] - grid[i + 1];
    const bool last = i + 1 == opt.steps;
    // Corrector: Langevin MCMC at time t                                     (Song et al. 2021, alg. 4-5)
    for (int64_t j = 0; j < opt.corrector_steps; ++j) {
      Tensor grad = m.score(x, t);
      Tensor z = noise(shape, gen, x.dtype(), x.device(), opt.common);
      const double ratio = opt.snr * mean_norm(z) / mean_norm(grad);
      const double step = 2.0 * sde.langevin_alpha(t, dt) * ratio * ratio;  // eps_i = 2 alpha_i (r ||z|| / ||s||)^2
      x = add(add(x, mul(grad, step)), mul(z, std::sqrt(2.0 * step)));     // x += eps s + sqrt(2 eps) z
    }
    // Predictor: one step from t to t - dt (none: the corrector alone, annealed Langevin)
    if (opt.predictor == Predictor::ReverseDiffusion) {
      Tensor score = m.score(x, t);
      SDE::Discretized d = sde.discretize(t, dt);
      // x_i = x_{i+1} - f_{i+1} + G_{i+1}^2 s + G_{i+1} z                    (Song et al. 2021, eq. 47)
      x = add(sub(x, mul(x, d.f_scale)), mul(score, d.G * d.G));
      if (!last) x = add(x, mul(noise(shape, gen, x.dtype(), x.device(), opt.common), d.G));
    } else if (opt.predictor == Predictor::EulerMaruyama) {
      Tensor score = m.score(x, t);
      const double g = sde.diffusion(t);
      x = sub(x, mul(sub(sde.drift(x, t), mul(score, g * g)), dt));  // reverse SDE, eq. 6
      if (!last) x = add(x, mul(noise(shape, gen, x.dtype(), x.device(), opt.common), g * std::sqrt(dt)));
    }
    x = inpaint(x, sde.alpha(grid[i + 1]), sde.sigma(grid[i + 1]), gen, opt.common);
    ++r.steps;
    report_step(opt.common, x, r.steps, opt.steps);
  }
  r.x = inpaint(x, 1.0, 0.0, gen, opt.common);
  r.nfe = m.nfe();
  return r;
}

}  // namespace drift::diffusion
