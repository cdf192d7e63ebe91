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
#include <cstdint>
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

  // The time of clean data, where alpha = 1 and sigma = 0 exactly: -1 for a
  // discrete schedule ("abar_{-1} = 1"), 0 for an SDE. Samplers step to it last;
  // a model is never evaluated there.
  virtual double t_clean() const { return 0.0; }
  // T for a discrete schedule (integer times), 0 for continuous time.
  virtual int64_t discrete_steps() const { return 0; }
  // Standard deviation of the prior N(0, prior_std^2 I) that sampling starts
  // from: sqrt(alpha^2 + sigma^2) at t_max (1 for VP, about sigma_max for VE).
  virtual double prior_std() const;

  // The forward process as an SDE dx = f(x, t) dt + g(t) dW with f = drift_scale(t) x
  // (what the reverse-SDE, probability-flow ODE and predictor-corrector samplers need).
  // From the marginals (Kingma et al. 2021, appendix; Song et al. 2021, eq. 5):
  //   drift_scale = d log alpha / dt,   g^2 = d sigma^2 / dt - 2 drift_scale sigma^2.
  // The defaults take these derivatives by central differences; SDE overrides
  // them with its closed forms.
  virtual double drift_scale(double t) const;
  virtual double diffusion(double t) const;
  // One step of the forward chain x_{i+1} = x_i + f_i + G_i z (Song et al. 2021,
  // appendix E, eq. 45-47), f_i = f_scale x_i; default: Euler-Maruyama,
  // f_scale = drift_scale(t) dt, G = g(t) sqrt(dt).
  struct Discretized { double f_scale, G; };
  virtual Discretized discretize(double t, double dt) const;
  // d alpha / dt and d sigma / dt: the probability-flow velocity of any process is
  // dx/dt = alpha'(t) E[x_0 | x_t] + sigma'(t) E[eps | x_t] (for flow matching,
  // alpha = 1 - t, sigma = t: the velocity eps - x_0). Defaults: central differences.
  virtual double dalpha(double t) const;
  virtual double dsigma(double t) const;
  // The sigma-parameterisation of Karras et al. 2022 (EDM), sec. 4: x_t / alpha =
  // x_0 + (sigma / alpha) eps, so any process is a VE process in the noise level
  // sigma_ve(t) = sigma(t) / alpha(t). time_for_sigma_ve inverts it on
  // [t_min, t_max] (bisection by default; exact where the process knows it).
  double sigma_ve(double t) const { return sigma(t) / alpha(t); }
  virtual double time_for_sigma_ve(double s) const;
  // alpha_i of the Langevin corrector's step size 2 alpha_i (r ||z|| / ||s||)^2 (Song et al. 2021, alg. 4-5).
  virtual double langevin_alpha(double /*t*/, double /*dt*/) const { return 1.0; }
};

}  // namespace drift::diffusion
