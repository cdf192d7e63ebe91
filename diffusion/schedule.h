#pragma once
// Discrete noise schedules (DDPM): betas, alphas, cumulative products and the
// posterior q(x_{t-1} | x_t, x_0), all in double and looked up per step.
#include <cstdint>
#include <vector>

#include "diffusion/process.h"
#include "nn/config_enum.h"

namespace drift::diffusion {

enum class BetaSchedule {
  Linear,  // betas linear from 1e-4 to 0.02 (Ho et al. 2020, "DDPM")
  Cosine,  // abar_t = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2) (Nichol & Dhariwal 2021, eq. 17)
};
DRIFT_CONFIG_ENUM(BetaSchedule, {BetaSchedule::Linear, "linear"}, {BetaSchedule::Cosine, "cosine"})

class DiscreteSchedule : public Process {
 public:
  // Linear: beta_start..beta_end over T steps. Cosine: offset s = 0.008, betas clipped at 0.999.
  static DiscreteSchedule linear(int64_t T = 1000, double beta_start = 1e-4, double beta_end = 0.02);
  static DiscreteSchedule cosine(int64_t T = 1000, double s = 0.008, double max_beta = 0.999);
  static DiscreteSchedule make(BetaSchedule kind, int64_t T = 1000);
  // Any betas in (0, 1); the last may be 1 (zero terminal SNR: abar_{T-1} = 0).
  explicit DiscreteSchedule(std::vector<double> betas);
  // Zero terminal SNR (Lin et al. 2024, "Common diffusion noise schedules and
  // sample steps are flawed", algorithm 1): sqrt(abar) shifted so that its last
  // value is 0 and scaled so that its first is unchanged,
  //   sqrt(abar)' = (sqrt(abar) - sqrt(abar_{T-1})) sqrt(abar_0) / (sqrt(abar_0) - sqrt(abar_{T-1})),
  // betas recomputed from the new abar. x_{T-1} is then pure noise, so sample
  // with Spacing::Trailing (which starts at T-1) and a v-prediction model.
  DiscreteSchedule rescaled_zero_terminal_snr() const;

  int64_t T() const { return static_cast<int64_t>(betas_.size()); }
  // Per-step tables, index t in [0, T).
  double beta(int64_t t) const { return betas_[idx(t)]; }
  double alpha_step(int64_t t) const { return alphas_[idx(t)]; }    // alpha_t = 1 - beta_t
  double alpha_bar(int64_t t) const { return t < 0 ? 1.0 : alpha_bars_[idx(t)]; }  // abar_t = prod_{s<=t} alpha_s
  double alpha_bar_prev(int64_t t) const { return alpha_bar(t - 1); }             // abar_{t-1}, 1 at t = 0
  // Posterior q(x_{t-1} | x_t, x_0) = N(c0 x_0 + ct x_t, beta_tilde_t)   (DDPM eq. 6-7)
  double posterior_mean_coef_x0(int64_t t) const { return post_c0_[idx(t)]; }   // c0 = sqrt(abar_{t-1}) beta_t / (1 - abar_t)
  double posterior_mean_coef_xt(int64_t t) const { return post_ct_[idx(t)]; }   // ct = sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t)
  double posterior_variance(int64_t t) const { return beta_tilde_[idx(t)]; }     // beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t
  double snr_at(int64_t t) const { return alpha_bar(t) / (1.0 - alpha_bar(t)); }  // abar / (1 - abar)

  const std::vector<double>& betas() const { return betas_; }
  const std::vector<double>& alpha_bars() const { return alpha_bars_; }

  // Process: alpha(t) = sqrt(abar_t), sigma(t) = sqrt(1 - abar_t). Integer t
  // in [-1, T-1]; between integers log(abar) is interpolated linearly so that
  // continuous-time solvers may also run on a discrete schedule.
  double alpha(double t) const override;
  double sigma(double t) const override;
  double t_max() const override { return static_cast<double>(T() - 1); }
  double t_min() const override { return 0.0; }
  double t_clean() const override { return -1.0; }
  int64_t discrete_steps() const override { return T(); }
  std::string name() const override { return "discrete"; }

 private:
  size_t idx(int64_t t) const;
  double log_alpha_bar(double t) const;
  std::vector<double> betas_, alphas_, alpha_bars_, post_c0_, post_ct_, beta_tilde_;
};

}  // namespace drift::diffusion
