#pragma once
// Post-hoc EMA (EDM2: Karras et al. 2024, "Analyzing and Improving the
// Training Dynamics of Diffusion Models", sec. 3 and appendix C).
//
// A power-function EMA averages the weights of steps 1..t with weights that
// grow like tau^gamma:
//   theta^_t = beta_t theta^_{t-1} + (1 - beta_t) theta_t,   beta_t = (1 - 1/t)^(gamma+1)   (EDM2 eq. 127)
// The weight it gives step tau is (tau^(gamma+1) - (tau-1)^(gamma+1)) / t^(gamma+1), exactly the
// integral over (tau-1, tau] of the profile
//   p_{t,gamma}(x) = (gamma + 1) x^gamma / t^(gamma+1),   0 <= x <= t                        (EDM2 eq. 121)
// so the average is the integral of p times the piecewise-constant weight history. The width
// of p relative to t (its standard deviation / t) is
//   sigma_rel = sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3)))                               (EDM2 eq. 123)
// (sigma_rel 0.05: gamma 16.97; 0.10: gamma 6.94; 1/sqrt(12) = 0.2887: gamma 0, a plain mean).
//
// Training tracks two such averages (PowerEma) and writes snapshots of both every N steps
// (save_ema_snapshot). Afterwards, the average of any sigma_rel at a snapshot step T is
// approximated by sum_i x_i snapshot_i, where x makes the combined profile closest in L2 to
// the wanted one (EDM2 appendix C.3, algorithm 3):
//   A x = b,   A_ij = <p_i, p_j>,   b_i = <p_i, p_{T,gamma}>,   then x /= sum(x)
// with the closed-form inner product (EDM2 eq. 151), m = min(t_a, t_b):
//   <p_{ta,ga}, p_{tb,gb}> = (ga+1)(gb+1) m^(ga+gb+1) / ((ga+gb+1) ta^(ga+1) tb^(gb+1))
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/optim.h"

namespace drift::nn {

// sigma_rel of gamma = 0 (a plain mean of all steps): the widest profile.
constexpr double kMaxSigmaRel = 0.28867513459481287;  // 1 / sqrt(12)

// EDM2 eq. 123, and its inverse for gamma >= 0 (sigma_rel is decreasing
// there; solved by bisection in double). Throws unless 0 < sigma_rel <= 1/sqrt(12).
double gamma_to_sigma_rel(double gamma);
double sigma_rel_to_gamma(double sigma_rel);

// <p_{ta,ga}, p_{tb,gb}> over [0, inf) (EDM2 eq. 151), in double.
double power_profile_dot(double t_a, double gamma_a, double t_b, double gamma_b);

// The post-hoc coefficients x for snapshots (t_i, gamma_i) and the target
// profile (t_out, gamma_out): A x = b solved by LAPACK's dgesv (LU with
// partial pivoting, as numpy.linalg.solve in EDM2's code), then scaled to sum 1.
struct PosthocCoefficients {
  std::vector<double> x;
  // ||sum_i x_i p_i - p_target|| / ||p_target|| (L2 over [0, inf)): how far
  // the reconstructed profile is from the wanted one (0 when it is a snapshot's own).
  double profile_error = 0;
};
PosthocCoefficients solve_posthoc_coefficients(const std::vector<std::pair<double, double>>& snapshots,
                                               double t_out, double gamma_out);

// A power-function EMA of a module's parameters (EDM2 eq. 127).
class PowerEma {
 public:
  PowerEma(const Module& model, double sigma_rel);
  // One averaging step; `step` counts the optimizer steps done, including
  // this one (1 on the first: beta = 0, the average starts at theta_1).
  void update(int64_t step);
  double sigma_rel() const { return sigma_rel_; }
  double gamma() const { return gamma_; }
  const NamedTensors& shadow() const { return ema_.shadow(); }
  void check_state(const NamedTensors& tensors) const { ema_.check_state(tensors); }
  void load_state(const NamedTensors& tensors) { ema_.load_state(tensors); }

 private:
  double sigma_rel_, gamma_;
  EMA ema_;  // the averages; its decay is set to beta_t before each step
};

// ---------------------------------------------------------------- snapshots
// One snapshot file: the averages under the parameters' names, and the metadata
//   format "drift-ema-snapshot-1", step, sigma_rel, gamma (as "%.17g"),
//   config (the run's configuration JSON, kept verbatim).
// Named <dir>/step_<step, 7 digits>_sigma_rel_<sigma_rel, 4 decimals>.safetensors;
// written atomically. Returns the path.
std::string save_ema_snapshot(const std::string& dir, const PowerEma& ema, int64_t step,
                              const std::string& config_json);

struct EmaSnapshot {
  std::string path;
  int64_t step = 0;
  double sigma_rel = 0, gamma = 0;
  std::string config_json;
};
// Every "*.safetensors" file of `dir` (each must be a snapshot: its metadata
// is read and checked, its tensors later), sorted by step, then sigma_rel.
// Throws naming the folder when it is missing or holds no snapshot, and the
// file and key for a bad one.
std::vector<EmaSnapshot> list_ema_snapshots(const std::string& dir);
// Deletes the "*.safetensors" files of `dir` (and unfinished "*.safetensors.tmp.*"
// ones): what a fresh run does with an earlier run's snapshots. Returns the count.
int remove_ema_snapshots(const std::string& dir);

// The post-hoc average of relative width `sigma_rel` at snapshot step `step`
// (-1: the last one), from the snapshots of `dir` with step <= `step`.
// Every snapshot's tensors must have the first one's names, shapes and dtype;
// the sum runs in double and the result has the snapshots' dtype.
struct PosthocEma {
  NamedTensors weights;
  int64_t step = 0;
  double sigma_rel = 0, gamma = 0;
  PosthocCoefficients coefficients;    // one per snapshot used, in `used` order
  std::vector<EmaSnapshot> used;
  std::string config_json;             // the config of the snapshot(s) at `step`
};
PosthocEma reconstruct_ema(const std::string& dir, double sigma_rel, int64_t step = -1);

}  // namespace drift::nn
