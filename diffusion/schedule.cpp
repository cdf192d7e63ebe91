#include "diffusion/schedule.h"

#include <cmath>

#include "tensor/error.h"

namespace drift::diffusion {

DiscreteSchedule::DiscreteSchedule(std::vector<double> betas) : betas_(std::move(betas)) {
  DRIFT_CHECK(!betas_.empty(), "DiscreteSchedule: expected at least one beta, got none");
  const size_t T = betas_.size();
  alphas_.resize(T);
  alpha_bars_.resize(T);
  post_c0_.resize(T);
  post_ct_.resize(T);
  beta_tilde_.resize(T);
  double abar = 1.0;
  for (size_t t = 0; t < T; ++t) {
    const double beta = betas_[t];
    DRIFT_CHECK(beta > 0.0 && (beta < 1.0 || (beta == 1.0 && t + 1 == T)),
                "DiscreteSchedule: expected every beta in (0, 1) (the last may be 1), got beta[", t, "] = ", beta);
    const double abar_prev = abar;
    alphas_[t] = 1.0 - beta;                 // alpha_t = 1 - beta_t
    abar *= alphas_[t];                      // abar_t = prod_{s<=t} (1 - beta_s)   (DDPM eq. 4)
    alpha_bars_[t] = abar;
    // q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde I)                       (DDPM eq. 6-7)
    post_c0_[t] = std::sqrt(abar_prev) * beta / (1.0 - abar);                  // coefficient of x_0
    post_ct_[t] = std::sqrt(alphas_[t]) * (1.0 - abar_prev) / (1.0 - abar);    // coefficient of x_t
    beta_tilde_[t] = (1.0 - abar_prev) / (1.0 - abar) * beta;                  // beta_tilde_t (0 at t = 0)
  }
}

DiscreteSchedule DiscreteSchedule::linear(int64_t T, double beta_start, double beta_end) {
  DRIFT_CHECK(T >= 1, "DiscreteSchedule::linear: expected T >= 1, got ", T);
  std::vector<double> betas(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t)  // betas linear in t, as in DDPM (Ho et al. 2020, section 4)
    betas[t] = T == 1 ? beta_start : beta_start + (beta_end - beta_start) * double(t) / double(T - 1);
  return DiscreteSchedule(std::move(betas));
}

DiscreteSchedule DiscreteSchedule::cosine(int64_t T, double s, double max_beta) {
  DRIFT_CHECK(T >= 1, "DiscreteSchedule::cosine: expected T >= 1, got ", T);
  const double pi = 3.14159265358979323846;
  // f(t) = cos^2(((t/T + s) / (1 + s)) pi / 2), abar_t = f(t) / f(0)   (Nichol & Dhariwal 2021, eq. 17)
  auto f = [&](double t) {
    double c = std::cos((t / double(T) + s) / (1.0 + s) * pi / 2.0);
    return c * c;
  };
  std::vector<double> betas(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t)  // beta_t = 1 - abar_{t+1} / abar_t, clipped at 0.999
    betas[t] = std::min(1.0 - f(double(t + 1)) / f(double(t)), max_beta);
  return DiscreteSchedule(std::move(betas));
}

DiscreteSchedule DiscreteSchedule::rescaled_zero_terminal_snr() const {
  const size_t T = betas_.size();
  DRIFT_CHECK(T >= 2, "rescaled_zero_terminal_snr: expected T >= 2, got ", T);
  std::vector<double> sq(T);
  for (size_t t = 0; t < T; ++t) sq[t] = std::sqrt(alpha_bars_[t]);
  const double first = sq[0], last = sq[T - 1];
  for (double& v : sq) v = (v - last) * first / (first - last);  // Lin et al. 2024, algorithm 1
  std::vector<double> betas(T);
  double prev = 1.0;
  for (size_t t = 0; t < T; ++t) {
    const double abar = t + 1 == T ? 0.0 : sq[t] * sq[t];
    betas[t] = 1.0 - abar / prev;  // alpha_t = abar_t / abar_{t-1}; the last beta is exactly 1
    prev = abar;
  }
  return DiscreteSchedule(std::move(betas));
}

DiscreteSchedule DiscreteSchedule::make(BetaSchedule kind, int64_t T) {
  return kind == BetaSchedule::Linear ? linear(T) : cosine(T);
}

size_t DiscreteSchedule::idx(int64_t t) const {
  DRIFT_CHECK(t >= 0 && t < T(), "DiscreteSchedule: expected a step index in [0, ", T(), "), got ", t);
  return static_cast<size_t>(t);
}

double DiscreteSchedule::log_alpha_bar(double t) const {
  DRIFT_CHECK(t >= -1.0 && t <= t_max(), "DiscreteSchedule: expected a time in [-1, ", t_max(),
              "] (-1 = clean data), got ", t);
  const double lo = std::floor(t);
  const double w = t - lo;
  auto at = [&](double i) { return i < 0 ? 0.0 : std::log(alpha_bars_[static_cast<size_t>(i)]); };
  if (w == 0.0) return at(lo);
  return (1.0 - w) * at(lo) + w * at(lo + 1.0);
}

double DiscreteSchedule::alpha(double t) const { return std::exp(0.5 * log_alpha_bar(t)); }  // sqrt(abar_t)
double DiscreteSchedule::sigma(double t) const {
  return std::sqrt(-std::expm1(log_alpha_bar(t)));  // sqrt(1 - abar_t)
}

}  // namespace drift::diffusion
