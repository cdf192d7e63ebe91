#include "diffusion/likelihood.h"

#include <cmath>

#include "diffusion/samplers.h"

namespace drift::diffusion {

namespace {

// Turns grad mode on for a scope (the likelihood needs gradients even when the caller is in no-grad mode).
struct GradModeOn {
  GradModeOn() : prev(grad_enabled()) { set_grad_enabled(true); }
  ~GradModeOn() { set_grad_enabled(prev); }
  bool prev;
};

std::vector<int64_t> non_batch_dims(const Tensor& x) {
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

}  // namespace

Tensor ode_divergence(GuidedModel& model, const SDE& sde, const Tensor& x_in, double t, Divergence method,
                      const Tensor& z, Tensor* drift_out) {
  GradModeOn grad_on;
  Tensor x = x_in.detach();
  x.set_requires_grad(true);
  Tensor F = ode_drift(model, sde, x, t);  // F(x, t) = f - 1/2 g^2 score
  const int64_t N = x.size(0), D = x.numel() / N;
  Tensor div;
  if (method == Divergence::Hutchinson) {
    DRIFT_CHECK(z.defined() && z.shape() == x.shape(), "ode_divergence: expected a probe z of shape ",
                shape_str(x.shape()), ", got ", z.defined() ? shape_str(z.shape()) : std::string("none"));
    // div F ~ z^T (dF/dx) z = z . grad_x (F . z)      (Skilling 1989; Hutchinson 1990)
    Tensor g = grad(sum(mul(F, z)), {x})[0];
    div = x.dim() > 1 ? sum(mul(g, z), non_batch_dims(x)) : mul(g, z);
  } else {
    // Exact trace: sum_j dF_j / dx_j, one backward pass per dimension j.
    Tensor Ff = reshape(F, {N, D});
    div = ops::zeros({N}, x.dtype(), x.device());
    for (int64_t j = 0; j < D; ++j) {
      Tensor g = grad(sum(select(Ff, 1, j)), {x}, Tensor(), /*retain_graph=*/j + 1 < D)[0];
      div = add(div, select(reshape(g, {N, D}), 1, j));
    }
  }
  if (drift_out) *drift_out = F.detach();
  return div.detach();
}

LikelihoodResult ode_likelihood(Denoiser& model, const SDE& sde, const Tensor& x_data, Generator& gen,
                                const LikelihoodOptions& opt) {
  DRIFT_CHECK(x_data.dim() >= 1 && x_data.size(0) >= 1, "ode_likelihood: expected data [N, ...], got ",
              shape_str(x_data.shape()));
  const int64_t N = x_data.size(0), D = x_data.numel() / N;
  const double levels = std::ldexp(1.0, opt.bits);             // 2^bits
  const double bin = (opt.data_hi - opt.data_lo) / levels;     // bin width in data units
  Tensor x = x_data;
  if (opt.dequantization == Dequantization::Uniform) {
    // k = round((x - lo) / (hi - lo) (2^bits - 1)); x_deq = lo + (k + u) bin, u ~ U(0, 1)
    Tensor k = ops::affine(x_data, (levels - 1) / (opt.data_hi - opt.data_lo),
                           -opt.data_lo * (levels - 1) / (opt.data_hi - opt.data_lo));
    std::vector<double> kv = ops::to_vector_f64(k);
    for (double& v : kv) v = std::round(v);
    Tensor kt = ops::to(ops::from_vector(kv, x_data.shape(), x_data.device()), x_data.dtype());
    Tensor u = ops::rand(x_data.shape(), gen, x_data.dtype(), x_data.device());
    x = ops::affine(ops::add(kt, u), bin, opt.data_lo);
  }
  // One probe z for the whole trajectory (as in FFJORD).
  Tensor z;
  if (opt.divergence == Divergence::Hutchinson) {
    z = ops::randn(x.shape(), gen, x.dtype(), x.device());
    if (opt.noise == HutchinsonNoise::Rademacher) z = ops::sign(z);  // +-1 with probability 1/2
  }
  GuidedModel m(model, sde, opt.guidance);
  // State (x, delta): dx/dt = F(x, t), d delta/dt = div F(x, t), from t = eps to 1.
  OdeFn f = [&](double t, const OdeState& y) {
    Tensor F;
    Tensor div = ode_divergence(m, sde, y[0], t, opt.divergence, z, &F);
    return OdeState{F, div};
  };
  Rk45Stats stats;
  OdeState y = rk45_integrate(f, {x, ops::zeros({N}, x.dtype(), x.device())}, sde.t_min(), 1.0, opt.rtol, opt.atol,
                              &stats);
  LikelihoodResult r;
  r.prior_logp = sde.prior_log_prob(y[0]);                 // log p_1(x(1)) under the prior
  r.delta_logp = y[1];
  r.log_density = ops::add(r.prior_logp, r.delta_logp);    // log p_eps(x) = log p_1(x(1)) + int div F dt
  // bits/dim = -(log p + D log(bin width)) / (D ln 2)     (e.g. +7 for 8-bit data in [-1, 1])
  r.bits_per_dim = ops::affine(r.log_density, -1.0 / (double(D) * std::log(2.0)), -std::log2(bin));
  r.nfe = m.nfe();
  return r;
}

}  // namespace drift::diffusion
