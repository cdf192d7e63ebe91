// Sigma samplers (Karras et al. 2022, "EDM"; k-diffusion): Euler, Euler
// ancestral, EDM's Heun (deterministic, or stochastic with S_churn) and
// DPM-Solver++(2M) SDE, written in the noise level sigma of the VE form
//   x~ = x / alpha = x_0 + sigma eps,   sigma = sigma_ve(t) = sigma(t) / alpha(t),
// with the denoiser D(x~, sigma) = E[x_0 | x_t] = GuidedModel::x0(alpha x~, t(sigma)).
// On an EdmProcess alpha = 1 and t = sigma; on a VP schedule (drift's DDPM /
// VP-SDE training, eps or v models) the same step runs at t(sigma) found by
// Process::time_for_sigma_ve, which is the conversion that samples such a
// model on Karras sigmas.
#include <algorithm>
#include <cmath>

#include "diffusion/samplers_impl.h"
#include "diffusion/sigma_process.h"

namespace drift::diffusion::impl {

namespace {

// The grid's noise levels: sigma_ve at each time, 0 at clean data.
std::vector<double> sigmas_of(const SamplerContext& ctx, const std::vector<double>& ts) {
  std::vector<double> s(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) s[i] = ctx.is_clean(ts[i]) ? 0.0 : ctx.process.sigma_ve(ts[i]);
  return s;
}

// D(x~, sigma) at time t: the x0 estimate for x_t = alpha(t) x~.
Tensor denoise(SamplerContext& ctx, const Tensor& xv, double t) {
  const double a = ctx.alpha(t);
  return ctx.model.x0(a == 1.0 ? xv : mul(xv, a), t);
}

// Hands x~ at ts[i+1] to the driver (inpainting, hook) and takes it back.
Tensor done(SamplerContext& ctx, const Tensor& xv, const std::vector<double>& ts, size_t i) {
  const double a = ctx.alpha(ts[i + 1]);
  if (a == 1.0) return ctx.step_done(xv, i);
  return mul(ctx.step_done(mul(xv, a), i), 1.0 / a);
}

Tensor to_ve(SamplerContext& ctx, const Tensor& x, double t) {
  const double a = ctx.alpha(t);
  return a == 1.0 ? x : mul(x, 1.0 / a);
}

}  // namespace

// Karras sigmas (EDM eq. 5) between the options' or the process's sigma range,
// as times of the process, cut at t_start, then clean data.
std::vector<double> karras_grid(const Process& p, const SamplerOptions& o, double t_start) {
  const double lo = o.sigma_min > 0 ? o.sigma_min : p.sigma_ve(p.t_min());
  const double hi = o.sigma_max > 0 ? o.sigma_max : p.sigma_ve(p.t_max());
  std::vector<double> ts;
  for (double s : karras_sigmas(o.steps, lo, hi, o.rho))
    ts.push_back(std::clamp(p.time_for_sigma_ve(s), p.t_min(), p.t_max()));
  ts = truncate_grid(ts, t_start);
  ts.push_back(p.t_clean());
  return ts;
}

// ---- Euler ---------------------------------------------------------------------
// The probability-flow ODE in sigma, dx~/dsigma = (x~ - D(x~, sigma)) / sigma   (EDM eq. 3 with s = 1):
//   d = (x~ - D) / sigma,   x~ <- x~ + (sigma_next - sigma) d.
Tensor euler_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  const std::vector<double> sg = sigmas_of(ctx, ts);
  Tensor xv = to_ve(ctx, x, ts[0]);
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    Tensor d = mul(sub(xv, denoise(ctx, xv, ts[i])), 1.0 / sg[i]);
    xv = add(xv, mul(d, sg[i + 1] - sg[i]));
    xv = done(ctx, xv, ts, i);
  }
  return mul(xv, ctx.alpha(ts.back()));
}

// ---- Euler ancestral -----------------------------------------------------------
// Each step is DDPM-like (k-diffusion get_ancestral_step): from sigma to sigma_next
// = sqrt(sigma_down^2 + sigma_up^2) with
//   sigma_up = min(sigma_next, eta sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2)),
//   x~ <- x~ + (sigma_down - sigma) d + sigma_up z.
Tensor euler_ancestral_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  const std::vector<double> sg = sigmas_of(ctx, ts);
  const double eta = ctx.opt.ancestral_eta;
  Tensor xv = to_ve(ctx, x, ts[0]);
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double s = sg[i], sn = sg[i + 1];
    const double up = std::min(sn, eta * std::sqrt(std::max(0.0, sn * sn * (s * s - sn * sn) / (s * s))));
    const double down = std::sqrt(std::max(0.0, sn * sn - up * up));
    Tensor d = mul(sub(xv, denoise(ctx, xv, ts[i])), 1.0 / s);
    xv = add(xv, mul(d, down - s));
    if (up > 0) xv = add(xv, mul(ctx.noise(xv), up));
    xv = done(ctx, xv, ts, i);
  }
  return mul(xv, ctx.alpha(ts.back()));
}

// ---- Heun (EDM algorithm 1; with S_churn > 0, algorithm 2) -----------------------
//   gamma = min(S_churn / N, sqrt(2) - 1) if S_tmin <= sigma <= S_tmax, else 0
//   sigma^ = sigma (1 + gamma),  x^ = x~ + sqrt(sigma^2^ - sigma^2) S_noise z
//   d = (x^ - D(x^, sigma^)) / sigma^,  x' = x^ + (sigma_next - sigma^) d
//   if sigma_next > 0:  d' = (x' - D(x', sigma_next)) / sigma_next,
//                       x' = x^ + (sigma_next - sigma^) (d + d') / 2      (2nd-order correction)
Tensor heun_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  const SamplerOptions& o = ctx.opt;
  const std::vector<double> sg = sigmas_of(ctx, ts);
  const double N = double(ts.size() - 1);
  Tensor xv = to_ve(ctx, x, ts[0]);
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double s = sg[i], sn = sg[i + 1];
    const double gamma = (o.s_churn > 0 && s >= o.s_tmin && s <= o.s_tmax)
                             ? std::min(o.s_churn / N, std::sqrt(2.0) - 1.0) : 0.0;
    double t_hat = ts[i], s_hat = s;
    if (gamma > 0) {
      s_hat = s * (1.0 + gamma);
      t_hat = ctx.process.time_for_sigma_ve(s_hat);
      xv = add(xv, mul(ctx.noise(xv), std::sqrt(s_hat * s_hat - s * s) * o.s_noise));
    }
    Tensor d = mul(sub(xv, denoise(ctx, xv, t_hat)), 1.0 / s_hat);
    Tensor xn = add(xv, mul(d, sn - s_hat));
    if (sn > 0) {
      Tensor d2 = mul(sub(xn, denoise(ctx, xn, ts[i + 1])), 1.0 / sn);
      xn = add(xv, mul(add(d, d2), 0.5 * (sn - s_hat)));
    }
    xv = done(ctx, xn, ts, i);
  }
  return mul(xv, ctx.alpha(ts.back()));
}

// ---- DPM-Solver++(2M) SDE (k-diffusion sample_dpmpp_2m_sde, midpoint) ------------
// In lambda = -log sigma, h = lambda_next - lambda, with eta_h = eta h:
//   x~ <- sigma_next / sigma e^{-eta_h} x~ + (1 - e^{-h - eta_h}) D
//         + 1/2 (1 - e^{-h - eta_h}) / r (D - D_prev)        (r = h_prev / h; from the 2nd step)
//         + sigma_next sqrt(1 - e^{-2 eta_h}) z
// (Lu et al. 2022, "DPM-Solver++", sec. 5 / appendix; eta = 0 is DPM-Solver++(2M)); the last step to sigma = 0 is x~ = D.
Tensor dpmpp_2m_sde_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  const std::vector<double> sg = sigmas_of(ctx, ts);
  const double eta = ctx.opt.ancestral_eta;
  Tensor xv = to_ve(ctx, x, ts[0]);
  Tensor D_prev;
  double h_prev = 0;
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double s = sg[i], sn = sg[i + 1];
    Tensor D = denoise(ctx, xv, ts[i]);
    if (sn == 0) {
      xv = D;
    } else {
      const double h = std::log(s) - std::log(sn), eta_h = eta * h;
      const double c = -std::expm1(-h - eta_h);  // 1 - e^{-h - eta_h}
      xv = add(mul(xv, sn / s * std::exp(-eta_h)), mul(D, c));
      if (D_prev.defined()) xv = add(xv, mul(sub(D, D_prev), 0.5 * c * h / h_prev));
      if (eta > 0) xv = add(xv, mul(ctx.noise(xv), sn * std::sqrt(-std::expm1(-2.0 * eta_h))));
      h_prev = h;
    }
    D_prev = D;
    xv = done(ctx, xv, ts, i);
  }
  return mul(xv, ctx.alpha(ts.back()));
}

}  // namespace drift::diffusion::impl
