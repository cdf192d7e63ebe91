#pragma once
// The forward (noising) process: in closed form and as a step-by-step chain.
#include <cstdint>

#include "diffusion/prediction.h"
#include "diffusion/schedule.h"
#include "diffusion/sde.h"

namespace drift::diffusion {

// x_t = alpha x_0 + sigma eps  (DDPM eq. 4 with alpha = sqrt(abar_t), sigma = sqrt(1 - abar_t)).
// alpha, sigma: doubles, or tensors broadcastable to x0 (one time per sample).
template <class C>
Tensor q_sample(const Tensor& x0, const Tensor& eps, const C& alpha, const C& sigma) {
  return add(mul(x0, alpha), mul(eps, sigma));
}
// The same with fresh noise at time t of `process`.
Tensor q_sample(const Process& process, const Tensor& x0, double t, Generator& gen);

// Per-sample coefficients alpha(t_i), sigma(t_i) for a batch of times t [N],
// shaped [N, 1, ..., 1] to broadcast against a tensor of rank `rank`.
struct Coefs { Tensor alpha, sigma; };
Coefs coefs_for(const Process& process, const Tensor& t, int64_t rank, DType dtype);

// Runs the Markov chain q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)
// (DDPM eq. 2) from x_0 through step t_end (inclusive), one step at a time.
Tensor q_sample_chain(const DiscreteSchedule& schedule, const Tensor& x0, int64_t t_end, Generator& gen);

// Simulates the forward SDE dx = f dt + g dW from x at time t0 to t1 > t0
// with `steps` Euler-Maruyama steps (Kloeden & Platen; Song et al. 2021, eq. 5).
Tensor sde_forward(const SDE& sde, const Tensor& x, double t0, double t1, int64_t steps, Generator& gen);

}  // namespace drift::diffusion
