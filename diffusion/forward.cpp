#include "diffusion/forward.h"

#include <cmath>

namespace drift::diffusion {

Tensor q_sample(const Process& process, const Tensor& x0, double t, Generator& gen) {
  Tensor eps = ops::randn(x0.shape(), gen, x0.dtype(), x0.device());
  return q_sample(x0, eps, process.alpha(t), process.sigma(t));  // x_t = alpha x0 + sigma eps
}

Coefs coefs_for(const Process& process, const Tensor& t, int64_t rank, DType dtype) {
  DRIFT_CHECK(t.dim() == 1, "coefs_for: expected times of shape [N], got ", shape_str(t.shape()));
  std::vector<double> tv = ops::to_vector_f64(t);
  std::vector<double> a(tv.size()), s(tv.size());
  for (size_t i = 0; i < tv.size(); ++i) {
    a[i] = process.alpha(tv[i]);
    s[i] = process.sigma(tv[i]);
  }
  Shape shape(static_cast<size_t>(std::max<int64_t>(rank, 1)), 1);
  shape[0] = t.size(0);
  Tensor at = ops::to(ops::from_vector(a, shape, t.device()), dtype);
  Tensor st = ops::to(ops::from_vector(s, shape, t.device()), dtype);
  return {at, st};
}

Tensor q_sample_chain(const DiscreteSchedule& schedule, const Tensor& x0, int64_t t_end, Generator& gen) {
  DRIFT_CHECK(t_end >= 0 && t_end < schedule.T(), "q_sample_chain: expected t_end in [0, ", schedule.T(),
              "), got ", t_end);
  Tensor x = x0;
  for (int64_t t = 0; t <= t_end; ++t) {
    Tensor z = ops::randn(x.shape(), gen, x.dtype(), x.device());
    const double b = schedule.beta(t);
    x = add(mul(x, std::sqrt(1.0 - b)), mul(z, std::sqrt(b)));  // x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z  (DDPM eq. 2)
  }
  return x;
}

Tensor sde_forward(const SDE& sde, const Tensor& x_start, double t0, double t1, int64_t steps, Generator& gen) {
  DRIFT_CHECK(steps >= 1 && t1 >= t0, "sde_forward: expected steps >= 1 and t1 >= t0, got steps = ", steps,
              ", t0 = ", t0, ", t1 = ", t1);
  Tensor x = x_start;
  const double dt = (t1 - t0) / double(steps);
  for (int64_t i = 0; i < steps; ++i) {
    const double t = t0 + dt * double(i);
    Tensor z = ops::randn(x.shape(), gen, x.dtype(), x.device());
    // x_{t+dt} = x_t + f(x_t, t) dt + g(t) sqrt(dt) z   (Euler-Maruyama on Song et al. 2021, eq. 5)
    x = add(add(x, mul(sde.drift(x, t), dt)), mul(z, sde.diffusion(t) * std::sqrt(dt)));
  }
  return x;
}

}  // namespace drift::diffusion
