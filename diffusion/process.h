#pragma once
// The one thing every sampler needs to know about a forward process: the
// marginal q(x_t | x_0) = N(alpha(t) x_0, sigma(t)^2 I), i.e.
//   x_t = alpha(t) x_0 + sigma(t) eps,   eps ~ N(0, I).
//
// Time convention (shared by models, samplers and the trainer):
//   * a DiscreteSchedule (DDPM) uses the integer step index t in [0, T)
//     (t = 0 is the first, least noisy step; alpha(t)^2 = abar_t), and the
//     value t = -1 means clean data (alpha = 1, sigma = 0);
//   * an SDE uses continuous time t in [0, 1] (t = 0 is the data).
// A model is always called with the time in its process's own units, so a
// U-Net trained with integer steps sees integer steps at sampling time too.
#include <cmath>
#include <string>

namespace drift::diffusion {

class Process {
 public:
  virtual ~Process() = default;
  virtual double alpha(double t) const = 0;  // mean coefficient of x_0 in x_t
  virtual double sigma(double t) const = 0;  // standard deviation of the noise in x_t
  // Signal-to-noise ratio alpha^2 / sigma^2 (Kingma et al. 2021, "Variational diffusion models").
  double snr(double t) const {
    double s = sigma(t);
    return alpha(t) * alpha(t) / (s * s);
  }
  // lambda(t) = log(alpha / sigma): half the log-SNR, the time variable of DPM-Solver (Lu et al. 2022).
  double log_alpha_over_sigma(double t) const { return std::log(alpha(t)) - std::log(sigma(t)); }
  // The noisiest time (T-1 for a discrete schedule, 1 for an SDE).
  virtual double t_max() const = 0;
  // The least noisy time a model may be evaluated at (0 for a discrete schedule, eps for an SDE).
  virtual double t_min() const = 0;
  virtual std::string name() const = 0;
};

}  // namespace drift::diffusion
