#include "diffusion/sigma_process.h"

#include <cmath>

#include "tensor/tensor.h"

namespace drift::diffusion {

EdmProcess::EdmProcess(double sigma_min, double sigma_max, double sigma_data)
    : sigma_min_(sigma_min), sigma_max_(sigma_max), sigma_data_(sigma_data) {
  DRIFT_CHECK(sigma_min > 0 && sigma_max > sigma_min && sigma_data > 0,
              "EdmProcess: expected 0 < sigma_min < sigma_max and sigma_data > 0, got ", sigma_min, ", ", sigma_max,
              ", ", sigma_data);
}

double EdmProcess::diffusion(double t) const { return std::sqrt(2.0 * t); }  // g^2 = d sigma^2 / dt = 2 sigma

double FlowProcess::diffusion(double t) const { return std::sqrt(2.0 * t / (1.0 - t)); }

std::vector<double> karras_sigmas(int64_t n, double sigma_min, double sigma_max, double rho) {
  DRIFT_CHECK(n >= 1, "karras_sigmas: expected at least one noise level, got ", n);
  DRIFT_CHECK(sigma_min > 0 && sigma_max > sigma_min && rho > 0,
              "karras_sigmas: expected 0 < sigma_min < sigma_max and rho > 0, got ", sigma_min, ", ", sigma_max, ", ",
              rho);
  std::vector<double> s(static_cast<size_t>(n));
  const double a = std::pow(sigma_max, 1.0 / rho), b = std::pow(sigma_min, 1.0 / rho);
  for (int64_t i = 0; i < n; ++i) {
    const double f = n == 1 ? 0.0 : double(i) / double(n - 1);
    s[i] = std::pow(a + f * (b - a), rho);  // (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho
  }
  return s;
}

EdmPrecond edm_precond(double sigma, double sd) {
  const double s2 = sigma * sigma + sd * sd;
  EdmPrecond p;
  p.c_skip = sd * sd / s2;                   // sigma_d^2 / (sigma^2 + sigma_d^2)
  p.c_out = sigma * sd / std::sqrt(s2);      // sigma sigma_d / sqrt(sigma^2 + sigma_d^2)
  p.c_in = 1.0 / std::sqrt(s2);              // 1 / sqrt(sigma^2 + sigma_d^2)
  p.c_noise = 0.25 * std::log(sigma);        // ln(sigma) / 4
  p.weight = s2 / (sigma * sd * sigma * sd);  // (sigma^2 + sigma_d^2) / (sigma sigma_d)^2
  return p;
}

}  // namespace drift::diffusion
