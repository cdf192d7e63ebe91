#pragma once
// Choosing and running one of the diffusion module's samplers from
// command-line settings, for `drift sample`, `img2img`, `inpaint`, `eval`
// and the sample grids of `drift train`.
#include <memory>
#include <string>
#include <vector>

#include "diffusion/samplers.h"
#include "tools/model_io.h"

namespace drift::cli {

enum class SamplerKind { DDPM, DDIM, DPMSolver, SDE, ODE, PC };

struct SamplerSettings {
  SamplerKind kind = SamplerKind::DDIM;
  int64_t steps = 50;        // DDPM always uses all T steps
  double eta = 0.0;          // DDIM stochasticity (0 = deterministic)
  diffusion::Spacing spacing = diffusion::Spacing::Trailing;
  diffusion::OdeSolver solver = diffusion::OdeSolver::Heun;  // --sampler ode
  double rtol = 1e-4, atol = 1e-4;                            // ode with rk45
  int64_t corrector_steps = 1;                                // --sampler pc
  double snr = 0.16;
};

SamplerKind parse_sampler(const std::string& s);
const char* sampler_name(SamplerKind k);
diffusion::Spacing parse_spacing(const std::string& s);
diffusion::OdeSolver parse_solver(const std::string& s);

// Runs the chosen sampler with `model` (a UNetDenoiser in discrete time).
// The SDE, ODE and PC samplers run on the VP SDE (beta 0.1 .. 20) with time
// mapped onto the schedule (SdeTimeDenoiser).
diffusion::SampleResult run_sampler(diffusion::Denoiser& model, const diffusion::DiscreteSchedule& schedule,
                                    const Shape& shape, Generator& gen, const SamplerSettings& settings,
                                    const diffusion::SampleOptions& common);

// run_sampler for the whole batch `shape`, split over the processes of an
// mpirun job: each draws its rows (SampleOptions::rows, labels sliced) and
// the samples are gathered, in order, on every process (host tensors). The
// result equals one process's run_sampler for the same generator state.
// One process: run_sampler itself (samples on the host).
diffusion::SampleResult run_sampler_split(diffusion::Denoiser& model, const diffusion::DiscreteSchedule& schedule,
                                          const Shape& shape, Generator& gen, const SamplerSettings& settings,
                                          const diffusion::SampleOptions& common);

// Runs the chosen sampler (any but the adaptive RK45 ODE solver) and records
// the sample at `frames` evenly spaced steps (first frame: the starting noise;
// last: the result), for trajectory strips. Frames are on the host.
std::vector<Tensor> sample_trajectory(diffusion::Denoiser& model, const diffusion::DiscreteSchedule& schedule,
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
