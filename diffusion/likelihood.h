#pragma once
// Exact likelihood through the probability-flow ODE (Song et al. 2021,
// sec. 4.3 and appendix D.2; Chen et al. 2018 "Neural ODEs"; Grathwohl et al.
// 2019 "FFJORD"). Along dx/dt = F(x, t) = f(x, t) - 1/2 g^2 score(x, t),
//   d log p_t(x(t)) / dt = -div F(x(t), t)                   (instantaneous change of variables)
// so, integrating from t = eps up to 1,
//   log p_eps(x) = log p_1(x(1)) + int_eps^1 div F(x(t), t) dt       (Song et al. 2021, eq. 40)
// The divergence is exact (D backward passes, for small D) or the
// Skilling-Hutchinson estimate div F = E[z^T (dF/dx) z] with one backward
// pass per function evaluation (z fixed along the trajectory).
#include <cstdint>

#include "diffusion/denoiser.h"
#include "diffusion/sde.h"

namespace drift::diffusion {

enum class Divergence { Exact, Hutchinson };
enum class HutchinsonNoise { Rademacher, Gaussian };
// 8-bit images are discrete; the density of a continuous model is turned
// into a probability of a bin by uniform dequantization (Theis et al. 2016):
// x -> bin lower edge + U(0, bin width), log P(bin) >= log p(x_deq) + D log(bin width).
enum class Dequantization { None, Uniform };

struct LikelihoodOptions {
  Divergence divergence = Divergence::Hutchinson;
  HutchinsonNoise noise = HutchinsonNoise::Rademacher;
  double rtol = 1e-5, atol = 1e-5;  // RK45 tolerances
  Dequantization dequantization = Dequantization::None;
  int bits = 8;                       // bits per value of the discrete data
  double data_lo = -1, data_hi = 1;   // range the 2^bits levels were scaled to
  Guidance guidance;                  // labels for a class-conditional model
};

struct LikelihoodResult {
  Tensor log_density;   // [N] log p_eps(x) in nats (x dequantized if asked)
  Tensor bits_per_dim;  // [N] -(log p + D log(bin width)) / (D ln 2), the discrete data's bits/dim
  Tensor prior_logp;    // [N] log p_1(x(1))
  Tensor delta_logp;    // [N] int_eps^1 div F dt
  int64_t nfe = 0;      // model evaluations
};

// x: data [N, ...] (same scale as training data).
LikelihoodResult ode_likelihood(Denoiser& model, const SDE& sde, const Tensor& x, Generator& gen,
                                const LikelihoodOptions& opt = {});

// div_x F for F = ode_drift at (x, t), [N]. Exact (D backward passes) or
// Hutchinson with the given probe z (one backward pass). Differentiates
// through the model with autograd (drift::grad).
Tensor ode_divergence(GuidedModel& model, const SDE& sde, const Tensor& x, double t, Divergence method,
                      const Tensor& z, Tensor* drift_out = nullptr);

}  // namespace drift::diffusion
