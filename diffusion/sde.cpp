#include "diffusion/sde.h"

#include <cmath>

#include "autograd/functions.h"

namespace drift::diffusion {

SDE::SDE(SDEConfig cfg) : cfg_(cfg) {
  if (cfg_.kind == SDEKind::VE) {
    DRIFT_CHECK(cfg_.sigma_min > 0 && cfg_.sigma_max > cfg_.sigma_min,
                "SDE: expected 0 < sigma_min < sigma_max, got sigma_min = ", cfg_.sigma_min, ", sigma_max = ",
                cfg_.sigma_max);
  } else {
    DRIFT_CHECK(cfg_.beta_min > 0 && cfg_.beta_max >= cfg_.beta_min,
                "SDE: expected 0 < beta_min <= beta_max, got beta_min = ", cfg_.beta_min, ", beta_max = ",
                cfg_.beta_max);
  }
  DRIFT_CHECK(cfg_.eps > 0 && cfg_.eps < 1, "SDE: expected eps in (0, 1), got ", cfg_.eps);
}

SDE SDE::vp(double beta_min, double beta_max) {
  SDEConfig c;
  c.kind = SDEKind::VP;
  c.beta_min = beta_min;
  c.beta_max = beta_max;
  return SDE(c);
}
SDE SDE::subvp(double beta_min, double beta_max) {
  SDEConfig c;
  c.kind = SDEKind::SubVP;
  c.beta_min = beta_min;
  c.beta_max = beta_max;
  return SDE(c);
}
SDE SDE::ve(double sigma_min, double sigma_max) {
  SDEConfig c;
  c.kind = SDEKind::VE;
  c.sigma_min = sigma_min;
  c.sigma_max = sigma_max;
  return SDE(c);
}

std::string SDE::name() const {
  switch (cfg_.kind) {
    case SDEKind::VP: return "vp";
    case SDEKind::SubVP: return "subvp";
    case SDEKind::VE: return "ve";
  }
  return "?";
}

double SDE::beta(double t) const { return cfg_.beta_min + t * (cfg_.beta_max - cfg_.beta_min); }
double SDE::beta_integral(double t) const {
  return cfg_.beta_min * t + 0.5 * t * t * (cfg_.beta_max - cfg_.beta_min);
}
double SDE::ve_sigma(double t) const { return cfg_.sigma_min * std::pow(cfg_.sigma_max / cfg_.sigma_min, t); }

double SDE::drift_scale(double t) const {
  if (cfg_.kind == SDEKind::VE) return 0.0;  // VE: f = 0                    (Song et al. 2021, eq. 9)
  return -0.5 * beta(t);                     // VP, sub-VP: f = -1/2 beta(t) x  (eq. 11, 12)
}

Tensor SDE::drift(const Tensor& x, double t) const { return mul(x, drift_scale(t)); }

double SDE::diffusion(double t) const {
  switch (cfg_.kind) {
    case SDEKind::VP: return std::sqrt(beta(t));  // g = sqrt(beta(t))                        (eq. 11)
    case SDEKind::SubVP:                          // g = sqrt(beta(t) (1 - e^{-2 B(t)}))      (eq. 12)
      return std::sqrt(beta(t) * -std::expm1(-2.0 * beta_integral(t)));
    case SDEKind::VE:  // g = sqrt(d sigma^2 / dt) = sigma(t) sqrt(2 log(sigma_max / sigma_min))  (eq. 9)
      return ve_sigma(t) * std::sqrt(2.0 * std::log(cfg_.sigma_max / cfg_.sigma_min));
  }
  return 0.0;
}

double SDE::alpha(double t) const {
  if (cfg_.kind == SDEKind::VE) return 1.0;
  return std::exp(-0.5 * beta_integral(t));  // mean coefficient exp(-1/2 int_0^t beta)  (eq. 29, 30)
}

double SDE::sigma(double t) const {
  switch (cfg_.kind) {
    case SDEKind::VP: return std::sqrt(-std::expm1(-beta_integral(t)));  // sqrt(1 - e^{-B})  (eq. 29)
    case SDEKind::SubVP: return -std::expm1(-beta_integral(t));          // 1 - e^{-B}        (eq. 30)
    case SDEKind::VE: {
      // Variance added since t = 0: sigma(t)^2 - sigma(0)^2 (eq. 31 without the sigma_min offset).
      double s = ve_sigma(t), s0 = cfg_.sigma_min;
      return std::sqrt(std::max(0.0, s * s - s0 * s0));
    }
  }
  return 0.0;
}

double SDE::prior_std() const { return cfg_.kind == SDEKind::VE ? cfg_.sigma_max : 1.0; }

Tensor SDE::prior_sample(const Shape& shape, Generator& gen, DType dtype) const {
  return ops::mul(ops::randn(shape, gen, dtype), prior_std());
}

Tensor SDE::prior_log_prob(const Tensor& x) const {
  // log N(x; 0, s^2 I) = -D/2 log(2 pi s^2) - |x|^2 / (2 s^2)
  const double s = prior_std();
  const double pi = 3.14159265358979323846;
  int64_t D = x.numel() / x.size(0);
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < x.dim(); ++d) dims.push_back(d);
  Tensor sq = dims.empty() ? square(x) : sum(square(x), dims);
  return add(mul(sq, -0.5 / (s * s)), -0.5 * double(D) * std::log(2.0 * pi * s * s));
}

SDE::Discretized SDE::discretize(double t, double dt) const {
  switch (cfg_.kind) {
    case SDEKind::VP: {
      const double b = beta(t) * dt;                    // beta_i = beta(t) / N
      DRIFT_CHECK(b < 1.0, "VP SDE: the discretisation x_{i+1} = sqrt(1 - beta_i) x_i + sqrt(beta_i) z needs ",
                  "beta_i = beta(t) dt < 1, got beta(", t, ") * ", dt, " = ", b, " (take more steps)");
      return {std::sqrt(1.0 - b) - 1.0, std::sqrt(b)};  // x_{i+1} = sqrt(1 - beta_i) x_i + sqrt(beta_i) z
    }
    case SDEKind::VE: {
      const double s = ve_sigma(t), sp = t - dt > 0 ? ve_sigma(t - dt) : 0.0;
      return {0.0, std::sqrt(s * s - sp * sp)};  // x_{i+1} = x_i + sqrt(sigma_{i+1}^2 - sigma_i^2) z
    }
    case SDEKind::SubVP: return {drift_scale(t) * dt, diffusion(t) * std::sqrt(dt)};
  }
  return {0.0, 0.0};
}

double SDE::langevin_alpha(double t, double dt) const {
  if (cfg_.kind != SDEKind::VP) return 1.0;
  const double a = 1.0 - beta(t) * dt;  // alpha_i = 1 - beta_i
  DRIFT_CHECK(a > 0.0, "VP SDE: Langevin step size needs alpha_i = 1 - beta(t) dt > 0, got 1 - beta(", t, ") * ", dt,
              " = ", a, " (take more steps)");
  return a;
}

}  // namespace drift::diffusion
