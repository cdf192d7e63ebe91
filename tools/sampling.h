#pragma once
// Choosing and running one of the diffusion module's samplers from
// command-line settings, for `drift sample`, `img2img`, `inpaint`, `eval`
// and the sample grids of `drift train`.
#include <memory>
#include <string>
#include <vector>

#include "diffusion/sampler.h"
#include "tools/model_io.h"

namespace drift::cli {

// Which registered sampler (diffusion/sampler.h) with which settings.
struct SamplerSettings {
  std::string name = "ddim";  // a name of the sampler registry (the CLI's old names resolved)
  int64_t steps = 50;         // ddpm on a discrete schedule always uses all T steps
  double eta = 0.0;           // ddim stochasticity (0 = deterministic)
  diffusion::Spacing spacing = diffusion::Spacing::Trailing;  // ddim, dpm++2m
  diffusion::OdeSolver solver = diffusion::OdeSolver::Heun;   // ode (rk45: the sampler ode-rk45)
  double rtol = 1e-4, atol = 1e-4;                            // ode-rk45, flow-rk45
  int64_t corrector_steps = 1;                                // pc
  double snr = 0.16;
  double sigma_min = 0, sigma_max = 0, rho = 7.0;  // Karras sigmas (0: the process's own range)
  double s_churn = 0;                              // heun: EDM's stochastic sampler (0: deterministic)
  // x0 clipping: on for pixel data in [-1, 1], which is what drift train's
  // checkpoints model (the library's default, for the oracle, is off).
  diffusion::X0Clip x0_clip = {diffusion::X0ClipMode::Clip, 0.995};
};

// The registry's sampler names, comma-separated (for --help and messages).
std::string sampler_names();
// One line per registered sampler: "  name  help" (for --help footers).
std::string sampler_table();
// The registry name for a --sampler value: the registry's names, and the
// CLI's older ones (dpm, dpm++, dpm-solver, dpmpp-2m -> dpm++2m;
// euler-maruyama -> sde; pf-ode -> ode; ode with --solver rk45 -> ode-rk45).
// Unknown: an error listing every name.
std::string resolve_sampler(const std::string& s, diffusion::OdeSolver solver = diffusion::OdeSolver::Heun);
// The sampler used when --sampler is not given: ddim on a discrete (ddpm)
// schedule, heun (on Karras sigmas) for edm, flow-heun for flow.
std::string default_sampler(const diffusion::Process& process);
// Throws, naming the sampler, the process and what fits, when a sampler does
// not fit a model's process: ddpm needs a discrete schedule; the flow-*
// samplers integrate a flow-matching velocity (process flow), which in turn
// only samples with them (at t = 1 its alpha is 0: no sigma, score or log-SNR).
void check_sampler_fits(const std::string& name, const diffusion::Process& process);
// Throws when the settings cannot work on `process`: on a schedule with zero
// terminal SNR (alpha = 0 at T-1) the noise level sigma / alpha and the
// log-SNR there are infinite, so Karras sigmas need --sigma-max and the
// logsnr spacing is refused. (Also runs check_sampler_fits.)
void check_settings_fit(const SamplerSettings& settings, const diffusion::Process& process);
diffusion::X0ClipMode parse_x0_clip(const std::string& s);
diffusion::Spacing parse_spacing(const std::string& s);
diffusion::OdeSolver parse_solver(const std::string& s);

// Runs the chosen sampler with `model` on its `process` (a DiscreteSchedule for
// ddpm models, an EdmProcess or a FlowProcess). On a discrete schedule the
// sde, ode, ode-rk45 and pc samplers run on the VP SDE (beta 0.1 .. 20) with
// time mapped onto the schedule (SdeTimeDenoiser); every other sampler runs
// on the process itself.
diffusion::SampleResult run_sampler(diffusion::Denoiser& model, const diffusion::Process& process,
                                    const Shape& shape, Generator& gen, const SamplerSettings& settings,
                                    const diffusion::SampleOptions& common);

// run_sampler for the whole batch `shape`, split over the processes of an
// mpirun job: each draws its rows (SampleOptions::rows, labels sliced) and
// the samples are gathered, in order, on every process (host tensors). The
// result equals one process's run_sampler for the same generator state.
// One process: run_sampler itself (samples on the host).
diffusion::SampleResult run_sampler_split(diffusion::Denoiser& model, const diffusion::Process& process,
                                          const Shape& shape, Generator& gen, const SamplerSettings& settings,
                                          const diffusion::SampleOptions& common);

// Runs the chosen sampler (any but the adaptive RK45 solvers) and records
// the sample at `frames` evenly spaced steps (first frame: the starting noise;
// last: the result), for trajectory strips. Frames are on the host.
std::vector<Tensor> sample_trajectory(diffusion::Denoiser& model, const diffusion::Process& process,
                                    const Shape& shape, Generator& gen, const SamplerSettings& settings,
                                    const diffusion::SampleOptions& common, int64_t frames);

// A progress bar with ETA over the steps of one or more sampler runs (eval
// samples in batches): on stderr, redrawn in place on a terminal, else a line
// every 10 s and at the end.
//   SamplingProgress progress(runs);
//   for each run: run_sampler(..., progress.attach(options)); progress.next_run();
//   progress.finish();
// The adaptive RK45 solver reports no steps, so it shows no bar.
class SamplingProgress {
 public:
  explicit SamplingProgress(int64_t runs = 1, bool enabled = true);
  // `opt` with an on_step hook that draws the bar (after any hook it had).
  diffusion::SampleOptions attach(diffusion::SampleOptions opt) const;
  void next_run();
  void finish();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace drift::cli
