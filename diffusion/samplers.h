#pragma once
// Samplers. Each takes any Denoiser (predicting eps, x_0 or v), draws its
// noise from a Generator, and reports the number of model evaluations (NFE).
// The functions below are typed front ends to the sampler registry and its
// driver (sampler.h: sample("ddim", ...)), which owns everything the
// samplers share.
// Every sampler supports classifier-free guidance (SampleOptions::guidance),
// SDEdit (start from a real image noised to a chosen strength) and
// inpainting with a known-pixel mask; RK45 does not support inpainting.
#include <cstdint>
#include <functional>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/schedule.h"
#include "diffusion/sde.h"
#include "tensor/random_rows.h"

namespace drift::diffusion {

struct SampleOptions {
  // Where and in which type the samples live (when not given by x_init).
  Device device = Device::CPU;
  DType dtype = DType::Float32;
  Guidance guidance;
  // x0 clipping or dynamic thresholding of every x0 estimate (GuidedModel;
  // eps is then recomputed from the clipped x0). Off by default (the oracle);
  // the CLI turns clipping on for pixel data in [-1, 1].
  X0Clip x0_clip;
  // SDEdit (Meng et al. 2022): if x_init is defined, sampling starts from
  // x_init noised to time strength * t_max (strength in (0, 1]) instead of
  // from the prior, and runs the part of the time grid below that time.
  Tensor x_init;
  double strength = 1.0;
  // Inpainting (Song et al. 2021, appendix I.2): where mask = 1 the pixels of
  // x_known are known; after every step they are replaced by x_known noised
  // to the current time (with fresh noise), and by x_known itself at the end.
  // mask broadcasts to the sample shape.
  Tensor inpaint_mask;
  Tensor x_known;
  // DDPM and DDIM only (other samplers ignore it): RePaint resampling (Lugmayr et al. 2022, algorithm 1 with
  // jump length 1): each step is repeated this many times, going back to
  // x_t ~ q(x_t | x_{t-1}) in between, so that the unknown pixels can agree
  // with the known ones. 1 = plain replacement.
  int64_t inpaint_resample = 1;
  // SDE samplers (reverse SDE, ODE, predictor-corrector): stop at this time
  // instead of at eps, to look at intermediate marginals p_t (< 0: eps).
  double t_end = -1;
  // Called with the starting sample (step 0) and after every solver step
  // with the current sample, the number of steps taken and the number
  // planned (to record the denoising trajectory, or for a progress bar).
  // Not called by the adaptive RK45 solver.
  std::function<void(const Tensor& x, int64_t step, int64_t total)> on_step;
  // Sampling split over processes: the shape given is this process's rows
  // [rows.begin, rows.begin + shape[0]) of a batch of rows.global, and every
  // noise draw is exactly those rows of the whole batch's draw, so the
  // processes together produce the one-process samples (tensor/random_rows.h).
  // Not for RK45 or the PC sampler (their step sizes use the whole batch) nor SDEdit.
  ops::RowShard rows;
};

struct SampleResult {
  Tensor x;          // the samples
  int64_t nfe = 0;   // number of model evaluations
  int64_t steps = 0; // number of solver steps taken (accepted steps for RK45)
  int64_t rejected = 0;  // RK45: rejected steps
};

// ---------------------------------------------------------------- DDPM
enum class DdpmVariance {
  Beta,       // sigma_t^2 = beta_t
  BetaTilde,  // sigma_t^2 = beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t
};
// Ancestral sampling with every one of the T steps (Ho et al. 2020, algorithm 2):
// x_{t-1} = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps) + sigma_t z   (DDPM eq. 11)
SampleResult ddpm_sample(Denoiser& model, const DiscreteSchedule& schedule, const Shape& shape, Generator& gen,
                         DdpmVariance variance = DdpmVariance::Beta, const SampleOptions& opt = {});

// ---------------------------------------------------------------- time grids
// Which of the T training steps a few-step sampler visits (a DiscreteSchedule;
// n steps, descending). With T = 1000, n = 10:
//   Leading:  0, 100, ..., 900 reversed: (n-1-i) * (T/n)  — never visits T-1, so the
//             first step sees less noise than the prior sample has (Lin et al. 2024,
//             "Common diffusion noise schedules and sample steps are flawed", table 2)
//   Linspace: round(linspace(T-1, 0, n))               — visits both T-1 and 0
//   Trailing: round(T - i T/n) - 1, i = 0..n-1: 999, 899, ..., 99
//   LogSNR:   uniform in lambda = log(alpha / sigma) between t_max and t_min (DPM-Solver)
// For an SDE (continuous time), Linspace/Leading/Trailing all mean
// linspace(1, eps, n) and LogSNR is uniform in lambda.
// After the last listed time every sampler takes a final step to clean data
// (alpha = 1, sigma = 0), i.e. abar_{-1} = 1: the step that otherwise leaves
// noise of variance 1 - abar_0 in the output (the "set_alpha_to_one" off-by-one).
//   Karras:   the times whose noise level sigma / alpha (Process::sigma_ve) follows
//             karras_sigmas(n, sigma_ve(t_min), sigma_ve(t_max), rho = 7) (Karras et al. 2022,
//             eq. 5; sigma_process.h); not rounded on a discrete schedule (alpha, sigma interpolate).
enum class Spacing { Leading, Linspace, Trailing, LogSNR, Karras };
std::vector<double> make_timesteps(const Process& process, int64_t n, Spacing spacing);

// ---------------------------------------------------------------- DDIM
// DDIM (Song, Meng & Ermon 2021): with alpha = sqrt(abar), sigma = sqrt(1 - abar),
//   x_s = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat + c z                  (DDIM eq. 12)
//   c = eta sigma_s / sigma_t sqrt(1 - alpha_t^2 / alpha_s^2)                 (DDIM eq. 16)
// (for a general process c = eta sigma_s sigma_{t|s} / sigma_t). eta = 0 is
// deterministic (the probability-flow ODE in the limit of many steps);
// eta = 1 over all T steps is DDPM with beta_tilde.
struct DdimOptions {
  int64_t steps = 50;
  double eta = 0.0;
  Spacing spacing = Spacing::Trailing;
  SampleOptions common;
};
SampleResult ddim_sample(Denoiser& model, const Process& process, const Shape& shape, Generator& gen,
                         const DdimOptions& opt = {});
// The same over an explicit descending time grid (clean-data step appended).
SampleResult ddim_sample(Denoiser& model, const Process& process, const std::vector<double>& timesteps,
                         const Shape& shape, Generator& gen, double eta, const SampleOptions& opt = {});

// ---------------------------------------------------------------- DPM-Solver++(2M)
// Lu et al. 2022, "DPM-Solver++", algorithm 2 (multistep, second order, data
// prediction). lambda = log(alpha / sigma), h_i = lambda_i - lambda_{i-1}:
//   x_i = sigma_i / sigma_{i-1} x_{i-1} - alpha_i (e^{-h_i} - 1) D_i
//   D_i = (1 + 1/(2 r_i)) x0_{i-1} - 1/(2 r_i) x0_{i-2},  r_i = h_{i-1} / h_i
// first step first order (D = x0_0); the final step to sigma = 0 is x = x0.
struct DpmSolverOptions {
  int64_t steps = 20;
  Spacing spacing = Spacing::LogSNR;
  SampleOptions common;
};
SampleResult dpm_solver_pp_2m(Denoiser& model, const Process& process, const Shape& shape, Generator& gen,
                              const DpmSolverOptions& opt = {});

// ---------------------------------------------------------------- reverse-time SDE
// Euler-Maruyama on the reverse SDE (Anderson 1982; Song et al. 2021, eq. 6):
//   dx = [f(x, t) - g(t)^2 grad log p_t(x)] dt + g(t) dW_bar
// from t = 1 down to eps over a uniform grid; the last step adds no noise.
struct SdeSamplerOptions {
  int64_t steps = 1000;
  SampleOptions common;
};
SampleResult sde_sample(Denoiser& model, const SDE& sde, const Shape& shape, Generator& gen,
                        const SdeSamplerOptions& opt = {});

// ---------------------------------------------------------------- probability-flow ODE
// dx/dt = f(x, t) - 1/2 g(t)^2 grad log p_t(x)   (Song et al. 2021, eq. 13)
enum class OdeSolver {
  Euler,  // x += h f(x, t)
  Heun,   // 2nd order (trapezoidal predictor-corrector)
  RK4,    // classical 4th-order Runge-Kutta
  RK45,   // adaptive Dormand-Prince 5(4) with rtol / atol (Dormand & Prince 1980)
};
struct OdeOptions {
  OdeSolver solver = OdeSolver::RK45;
  int64_t steps = 100;  // fixed-step solvers
  double rtol = 1e-5, atol = 1e-5;  // RK45
  SampleOptions common;
};
SampleResult ode_sample(Denoiser& model, const SDE& sde, const Shape& shape, Generator& gen,
                        const OdeOptions& opt = {});
// The ODE drift f(x, t) - 1/2 g^2 score (differentiable in x).
Tensor ode_drift(GuidedModel& model, const Process& process, const Tensor& x, double t);

// ---------------------------------------------------------------- predictor-corrector
// Song et al. 2021, algorithms 2-5: per time step, `corrector_steps` Langevin
// steps at t (step size 2 alpha_i (snr ||z|| / ||score||)^2, norms averaged
// over the batch), then one predictor step to the next time.
enum class Predictor {
  ReverseDiffusion,  // x_{i} = x_{i+1} - f_{i+1} + G_{i+1}^2 s + G_{i+1} z  (appendix E, eq. 47)
  EulerMaruyama,     // as sde_sample
  None,              // corrector only (annealed Langevin dynamics, Song & Ermon 2019)
};
struct PcOptions {
  int64_t steps = 500;
  Predictor predictor = Predictor::ReverseDiffusion;
  int64_t corrector_steps = 1;
  double snr = 0.16;
  SampleOptions common;
};
SampleResult pc_sample(Denoiser& model, const SDE& sde, const Shape& shape, Generator& gen,
                       const PcOptions& opt = {});

// ---------------------------------------------------------------- generic ODE integration
// Integrates dy/dt = f(t, y) for a state made of several tensors from t0 to
// t1 (either direction) with adaptive Dormand-Prince RK45. Used by the ODE
// sampler and the likelihood.
using OdeState = std::vector<Tensor>;
using OdeFn = std::function<OdeState(double t, const OdeState& y)>;
struct Rk45Stats {
  int64_t nfe = 0, accepted = 0, rejected = 0;
};
OdeState rk45_integrate(const OdeFn& f, OdeState y, double t0, double t1, double rtol, double atol,
                        Rk45Stats* stats = nullptr);

}  // namespace drift::diffusion
