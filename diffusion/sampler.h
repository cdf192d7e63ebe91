#pragma once
// The sampler driver and the sampler registry.
//
// A sampler is a short step function in k-diffusion's shape
//   x = run(ctx, x, ts)       (model, x, times, callback)
// that walks the descending time grid ts[0] > ts[1] > ... > ts.back() and
// calls ctx.step_done(x, i) after each step from ts[i] to ts[i+1]. Everything
// else is the driver's (run_sampler): the sample shape, the start (prior or
// SDEdit), the time grid (the entry's grid function, cut at the SDEdit start),
// guidance and model-evaluation counting (GuidedModel), inpainting after every
// step and at the end, RePaint resampling, the step hook and the result.
//
// Adding a sampler: write its step function (and, if it needs its own time
// grid, a grid function) in the family file (samplers_ddpm.cpp, samplers_sde.cpp,
// ...), declare it in samplers_impl.h, add its options to SamplerOptions if it
// has new ones, and add one row to the table in sampler.cpp.
#include <functional>
#include <string>
#include <vector>

#include "diffusion/samplers.h"

namespace drift::diffusion {

// The knobs of every registered sampler (each uses the ones it needs).
struct SamplerOptions {
  int64_t steps = 50;                         // number of solver steps (ddpm on a discrete schedule: all T)
  Spacing spacing = Spacing::Trailing;        // ddim, dpm++2m: which times (make_timesteps)
  std::vector<double> timesteps;              // ddim, dpm++2m: explicit descending times (overrides steps/spacing)
  double eta = 0.0;                           // ddim: 0 deterministic .. 1 ancestral
  DdpmVariance variance = DdpmVariance::Beta; // ddpm
  OdeSolver solver = OdeSolver::Heun;         // ode: Euler, Heun or RK4 (ode-rk45: adaptive)
  double rtol = 1e-5, atol = 1e-5;            // ode-rk45
  Predictor predictor = Predictor::ReverseDiffusion;  // pc
  int64_t corrector_steps = 1;                        // pc
  double snr = 0.16;                                  // pc
  // Sigma samplers (samplers_sigma.cpp) and Spacing::Karras: the Karras grid's range
  // and rho; 0 = the process's own range sigma_ve(t_min..t_max).
  double sigma_min = 0, sigma_max = 0, rho = 7.0;
  double s_churn = 0, s_tmin = 0, s_tmax = 1e30, s_noise = 1.0;  // heun: EDM's stochastic sampler (alg. 2)
  double ancestral_eta = 1.0;                                     // euler-ancestral, dpm++2m-sde
  double flow_shift = 1.0;  // flow samplers: t' = shift t / (1 + (shift - 1) t) (Esser et al. 2024, SD3)
  SampleOptions common;
};

// What a step function sees.
struct SamplerContext {
  GuidedModel& model;        // guided, converting, counting model
  const Process& process;
  Generator& gen;
  const SamplerOptions& opt;
  SampleResult& result;      // steps are counted by step_done; an adaptive solver sets steps / rejected itself
  // After the step from ts[i] to ts[i+1]: inpainting at ts[i+1], the step
  // hook; returns the sample to continue from.
  std::function<Tensor(const Tensor& x, size_t i)> step_done;

  // z ~ N(0, I) shaped like x.
  Tensor noise(const Tensor& x) const;
  // alpha and sigma at a grid time; exactly (1, 0) at the clean-data time t_clean.
  double alpha(double t) const { return t == process.t_clean() ? 1.0 : process.alpha(t); }
  double sigma(double t) const { return t == process.t_clean() ? 0.0 : process.sigma(t); }
  bool is_clean(double t) const { return t == process.t_clean(); }
};

using SamplerStepFn = std::function<Tensor(SamplerContext& ctx, Tensor x, const std::vector<double>& ts)>;
// The descending time grid, starting at or below t_start (SDEdit) and ending
// where the sampler stops (t_clean, or an end time such as eps).
using SamplerGridFn = std::function<std::vector<double>(const Process& p, const SamplerOptions& o, double t_start)>;

struct SamplerEntry {
  std::string name;
  std::string help;       // one line: the method and its paper
  SamplerGridFn grid;
  SamplerStepFn run;
  bool stateless = false; // each step depends only on (x, ts[i], ts[i+1]): RePaint resampling allowed
  bool adaptive = false;  // chooses its own steps (no fixed grid): the step hook is not called
};

// Every registered sampler, in the order of the table in sampler.cpp.
const std::vector<SamplerEntry>& sampler_registry();
// The entry called `name`; throws naming the known ones.
const SamplerEntry& find_sampler(const std::string& name);

// The driver: runs one registered sampler.
SampleResult run_sampler(const SamplerEntry& entry, Denoiser& model, const Process& process, const Shape& shape,
                         Generator& gen, const SamplerOptions& opt);
SampleResult sample(const std::string& name, Denoiser& model, const Process& process, const Shape& shape,
                    Generator& gen, const SamplerOptions& opt);

// ---- grid helpers for grid functions
// Descending uniform grid t_start = g_0 > ... > g_steps = t_end.
std::vector<double> uniform_grid(double t_start, double t_end, int64_t steps);
// The times at or below t_start (SDEdit), checked strictly descending.
std::vector<double> truncate_grid(const std::vector<double>& ts, double t_start);

}  // namespace drift::diffusion
