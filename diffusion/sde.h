#pragma once
// Continuous-time forward SDEs dx = f(x, t) dt + g(t) dW on t in [0, 1]
// (Song et al. 2021, "Score-based generative modeling through SDEs", eq. 5):
//   VP     f = -1/2 beta(t) x,  g = sqrt(beta(t))                          (eq. 11)
//   sub-VP f = -1/2 beta(t) x,  g = sqrt(beta(t) (1 - exp(-2 int_0^t beta)))  (eq. 12)
//   VE     f = 0,  g = sigma(t) sqrt(2 log(sigma_max / sigma_min)),
//          sigma(t) = sigma_min (sigma_max / sigma_min)^t                  (eq. 9)
// beta(t) = beta_min + t (beta_max - beta_min). All coefficients in double.
#include <cstdint>

#include "diffusion/process.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace drift::diffusion {

enum class SDEKind { VP, SubVP, VE };

struct SDEConfig {
  SDEKind kind = SDEKind::VP;
  double beta_min = 0.1, beta_max = 20.0;     // VP and sub-VP
  double sigma_min = 0.01, sigma_max = 50.0;  // VE
  double eps = 1e-3;                          // smallest time samplers go down to
};

class SDE : public Process {
 public:
  explicit SDE(SDEConfig cfg = {});
  static SDE vp(double beta_min = 0.1, double beta_max = 20.0);
  static SDE subvp(double beta_min = 0.1, double beta_max = 20.0);
  static SDE ve(double sigma_min = 0.01, double sigma_max = 50.0);

  SDEKind kind() const { return cfg_.kind; }
  const SDEConfig& config() const { return cfg_; }

  double beta(double t) const;           // beta(t) = beta_min + t (beta_max - beta_min)
  double beta_integral(double t) const;  // int_0^t beta(s) ds = beta_min t + 1/2 t^2 (beta_max - beta_min)
  double ve_sigma(double t) const;       // sigma_min (sigma_max / sigma_min)^t

  // Drift coefficient: f(x, t) = drift_scale(t) * x (0 for VE).
  double drift_scale(double t) const override;
  Tensor drift(const Tensor& x, double t) const;
  double diffusion(double t) const override;  // g(t)

  // Marginal q(x_t | x_0) = N(alpha(t) x_0, sigma(t)^2 I):
  //   VP:     alpha = exp(-1/2 B(t)), sigma = sqrt(1 - exp(-B(t)))         (Song et al. 2021, eq. 29)
  //   sub-VP: alpha = exp(-1/2 B(t)), sigma = 1 - exp(-B(t))               (eq. 30)
  //   VE:     alpha = 1, sigma = sqrt(sigma(t)^2 - sigma_min^2)  (exact; 0 at t = 0)
  double alpha(double t) const override;
  double sigma(double t) const override;
  double t_max() const override { return 1.0; }
  double t_min() const override { return cfg_.eps; }
  std::string name() const override;

  // The prior at t = 1 that sampling starts from: N(0, prior_std^2 I)
  // (1 for VP and sub-VP, sigma_max for VE).
  double prior_std() const override;
  Tensor prior_sample(const Shape& shape, Generator& gen, DType dtype = DType::Float32) const;
  // log N(x; 0, prior_std^2 I) summed over all but the first dim -> [N].
  Tensor prior_log_prob(const Tensor& x) const;

  // One step of the forward chain x_{i+1} = x_i + f_i + G_i z used by the
  // reverse-diffusion predictor (Song et al. 2021, appendix E, eq. 45-47):
  //   VP:     f_i = (sqrt(1 - beta_i) - 1) x, G_i = sqrt(beta_i), beta_i = beta(t) dt
  //   VE:     f_i = 0, G_i = sqrt(sigma(t)^2 - sigma(t - dt)^2)
  //   sub-VP: Euler-Maruyama, f_i = f(x, t) dt, G_i = g(t) sqrt(dt)
  Discretized discretize(double t, double dt) const override;  // f_i = f_scale * x
  // alpha_i in the Langevin step size 2 alpha_i (r ||z|| / ||s||)^2 (Song et al. 2021, algorithm 4-5):
  // 1 - beta(t) dt for VP, 1 otherwise.
  double langevin_alpha(double t, double dt) const override;

 private:
  SDEConfig cfg_;
};

}  // namespace drift::diffusion
