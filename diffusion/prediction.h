#pragma once
// What a denoising model predicts, and the conversions between the targets.
// Everything follows from x_t = alpha x_0 + sigma eps (see process.h):
//   eps   = (x_t - alpha x_0) / sigma
//   x_0   = (x_t - sigma eps) / alpha
//   v     = alpha eps - sigma x_0            (Salimans & Ho 2022, "Progressive distillation", sec. 4)
//   score = grad_x log p_t(x) = -eps / sigma  (Vincent 2011; Song et al. 2021, eq. 7 with Gaussian kernel)
// and, solving the two linear equations for x_0 and eps given v:
//   x_0 = (alpha x_t - sigma v) / (alpha^2 + sigma^2),  eps = (sigma x_t + alpha v) / (alpha^2 + sigma^2)
// (alpha^2 + sigma^2 = 1 for VP processes; the general form also serves VE and sub-VP).
// Flow matching's velocity target (Lipman et al. 2023; Liu et al. 2023, "rectified flow"):
//   u = eps - x_0   (= dx_t/dt for x_t = (1 - t) x_0 + t eps), and from (x_t, u):
//   x_0 = (x_t - sigma u) / (alpha + sigma),  eps = (x_t + alpha u) / (alpha + sigma)
// (alpha + sigma = 1 on the flow path).
//
// The coefficients may be doubles (one time for the batch, as in samplers) or
// tensors broadcastable to x (one time per sample, as in training, e.g. [N, 1, 1, 1]).
// All conversions are differentiable (autograd/functions.h).
#include "autograd/functions.h"
#include "nn/config_enum.h"

namespace drift::diffusion {

enum class Prediction { Eps, X0, V, Flow };
DRIFT_CONFIG_ENUM(Prediction, {Prediction::Eps, "eps"}, {Prediction::X0, "x0"}, {Prediction::V, "v"},
                  {Prediction::Flow, "flow"})
inline const char* prediction_name(Prediction p) { return config::enum_name(p); }

namespace detail {
inline double sumsq(double a, double s) { return a * a + s * s; }
inline Tensor sumsq(const Tensor& a, const Tensor& s) { return add(square(a), square(s)); }
inline double sum2(double a, double s) { return a + s; }
inline Tensor sum2(const Tensor& a, const Tensor& s) { return add(a, s); }
inline Tensor divc(const Tensor& x, double c) { return mul(x, 1.0 / c); }
inline Tensor divc(const Tensor& x, const Tensor& c) { return div(x, c); }
}  // namespace detail

// eps from a model output `out` of kind p at x_t.
template <class C>
Tensor eps_from(Prediction p, const Tensor& out, const Tensor& x_t, const C& alpha, const C& sigma) {
  switch (p) {
    case Prediction::Eps: return out;
    case Prediction::X0: return detail::divc(sub(x_t, mul(out, alpha)), sigma);  // eps = (x_t - alpha x0) / sigma
    case Prediction::V:  // eps = (sigma x_t + alpha v) / (alpha^2 + sigma^2)
      return detail::divc(add(mul(x_t, sigma), mul(out, alpha)), detail::sumsq(alpha, sigma));
    case Prediction::Flow:  // eps = (x_t + alpha u) / (alpha + sigma)
      return detail::divc(add(x_t, mul(out, alpha)), detail::sum2(alpha, sigma));
  }
  return out;
}

// x_0 from a model output `out` of kind p at x_t.
template <class C>
Tensor x0_from(Prediction p, const Tensor& out, const Tensor& x_t, const C& alpha, const C& sigma) {
  switch (p) {
    case Prediction::Eps: return detail::divc(sub(x_t, mul(out, sigma)), alpha);  // x0 = (x_t - sigma eps) / alpha
    case Prediction::X0: return out;
    case Prediction::V:  // x0 = (alpha x_t - sigma v) / (alpha^2 + sigma^2)
      return detail::divc(sub(mul(x_t, alpha), mul(out, sigma)), detail::sumsq(alpha, sigma));
    case Prediction::Flow:  // x0 = (x_t - sigma u) / (alpha + sigma)
      return detail::divc(sub(x_t, mul(out, sigma)), detail::sum2(alpha, sigma));
  }
  return out;
}

// v = alpha eps - sigma x_0.
template <class C>
Tensor v_from(const Tensor& eps, const Tensor& x0, const C& alpha, const C& sigma) {
  return sub(mul(eps, alpha), mul(x0, sigma));
}

// The output of kind p that corresponds to (eps, x_0): the training target.
template <class C>
Tensor target_from(Prediction p, const Tensor& eps, const Tensor& x0, const C& alpha, const C& sigma) {
  switch (p) {
    case Prediction::Eps: return eps;
    case Prediction::X0: return x0;
    case Prediction::V: return v_from(eps, x0, alpha, sigma);
    case Prediction::Flow: return sub(eps, x0);  // u = eps - x0
  }
  return eps;
}

// Model output of kind `to` from an output of kind `from` at x_t.
template <class C>
Tensor convert(Prediction from, Prediction to, const Tensor& out, const Tensor& x_t, const C& alpha, const C& sigma) {
  if (from == to) return out;
  Tensor eps = eps_from(from, out, x_t, alpha, sigma);
  Tensor x0 = x0_from(from, out, x_t, alpha, sigma);
  return target_from(to, eps, x0, alpha, sigma);
}

// score = grad_x log p_t(x) = -eps / sigma.
template <class C>
Tensor score_from_eps(const Tensor& eps, const C& sigma) {
  return neg(detail::divc(eps, sigma));
}
// eps = -sigma * score.
template <class C>
Tensor eps_from_score(const Tensor& score, const C& sigma) {
  return neg(mul(score, sigma));
}

}  // namespace drift::diffusion
