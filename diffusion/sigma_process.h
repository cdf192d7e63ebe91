#pragma once
// Processes parameterised by the noise level or by straight-line time, and
// the Karras sigma schedule:
//   EdmProcess   x_sigma = x_0 + sigma eps, t = sigma in [sigma_min, sigma_max]
//                (Karras et al. 2022, "Elucidating the design space of
//                diffusion-based generative models" (EDM), sec. 2-5)
//   FlowProcess  x_t = (1 - t) x_0 + t eps, t in [0, 1] (rectified flow, Liu et al.
//                2023; flow matching with the optimal-transport path, Lipman et al. 2023)
// Any process is also a VE process in sigma_ve = sigma / alpha (Process::sigma_ve),
// which is how the sigma samplers (samplers_sigma.cpp) run on VP schedules too.
#include <vector>

#include "diffusion/process.h"

namespace drift::diffusion {

class EdmProcess : public Process {
 public:
  // EDM's defaults: sigma in [0.002, 80], data standard deviation 0.5.
  explicit EdmProcess(double sigma_min = 0.002, double sigma_max = 80.0, double sigma_data = 0.5);
  double alpha(double) const override { return 1.0; }
  double sigma(double t) const override { return t; }  // t is sigma
  double t_max() const override { return sigma_max_; }
  double t_min() const override { return sigma_min_; }
  double t_clean() const override { return 0.0; }
  std::string name() const override { return "edm"; }
  double prior_std() const override { return sigma_max_; }  // x_T ~ N(0, sigma_max^2 I)   (EDM alg. 1)
  // dx = sqrt(2 sigma) dW in the time t = sigma: f = 0, g^2 = d sigma^2 / dt = 2 t   (EDM eq. 4 with s = 1)
  double drift_scale(double) const override { return 0.0; }
  double diffusion(double t) const override;
  double dalpha(double) const override { return 0.0; }
  double dsigma(double) const override { return 1.0; }
  double time_for_sigma_ve(double s) const override { return s; }
  double sigma_data() const { return sigma_data_; }

 private:
  double sigma_min_, sigma_max_, sigma_data_;
};

class FlowProcess : public Process {
 public:
  // t_min: the smallest time a model is evaluated at (0: flow models are fine at t = 0).
  explicit FlowProcess(double t_min = 0.0) : t_min_(t_min) {}
  double alpha(double t) const override { return 1.0 - t; }
  double sigma(double t) const override { return t; }
  double t_max() const override { return 1.0; }
  double t_min() const override { return t_min_; }
  double t_clean() const override { return 0.0; }
  std::string name() const override { return "flow"; }
  double prior_std() const override { return 1.0; }  // x_1 = eps ~ N(0, I)
  // f = d log alpha / dt = -1 / (1 - t), g^2 = d sigma^2/dt - 2 f sigma^2 = 2 t / (1 - t)
  double drift_scale(double t) const override { return -1.0 / (1.0 - t); }
  double diffusion(double t) const override;
  double dalpha(double) const override { return -1.0; }
  double dsigma(double) const override { return 1.0; }
  // sigma_ve = t / (1 - t)  <=>  t = sigma_ve / (1 + sigma_ve)
  double time_for_sigma_ve(double s) const override { return s / (1.0 + s); }

 private:
  double t_min_;
};

// The Karras et al. 2022 noise levels (EDM eq. 5), n of them, descending:
//   sigma_i = (sigma_max^(1/rho) + i / (n - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,  rho = 7.
std::vector<double> karras_sigmas(int64_t n, double sigma_min, double sigma_max, double rho = 7.0);

// The EDM preconditioning (EDM table 1, "Preconditioning" column) of a
// network F: D(x, sigma) = c_skip x + c_out F(c_in x, c_noise) with
//   c_skip = sigma_d^2 / (sigma^2 + sigma_d^2),  c_out = sigma sigma_d / sqrt(sigma^2 + sigma_d^2),
//   c_in = 1 / sqrt(sigma^2 + sigma_d^2),         c_noise = ln(sigma) / 4,
// and its loss weight lambda(sigma) = (sigma^2 + sigma_d^2) / (sigma sigma_d)^2, which
// makes the effective target of F, (x_0 - c_skip x) / c_out, unit-variance.
struct EdmPrecond {
  double c_skip, c_out, c_in, c_noise, weight;
};
EdmPrecond edm_precond(double sigma, double sigma_data);

}  // namespace drift::diffusion
