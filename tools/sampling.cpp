#include "tools/sampling.h"

#include <algorithm>
#include <cmath>

#include "diffusion/forward.h"
#include "dist/comm.h"

namespace drift::cli {

using namespace drift::diffusion;

std::string sampler_names() {
  std::string s;
  for (const SamplerEntry& e : sampler_registry()) s += (s.empty() ? "" : ", ") + e.name;
  return s;
}

std::string sampler_table() {
  std::string s;
  for (const SamplerEntry& e : sampler_registry()) {
    std::string name = e.name;
    name.resize(std::max<size_t>(name.size() + 1, 17), ' ');
    s += "  " + name + e.help + "\n";
  }
  return s;
}

std::string resolve_sampler(const std::string& s, OdeSolver solver) {
  std::string name = s;
  if (s == "dpm" || s == "dpm++" || s == "dpm-solver" || s == "dpmpp-2m") name = "dpm++2m";
  else if (s == "euler-maruyama") name = "sde";
  else if (s == "pf-ode") name = "ode";
  if (name == "ode" && solver == OdeSolver::RK45) name = "ode-rk45";
  for (const SamplerEntry& e : sampler_registry())
    if (e.name == name) return name;
  throw Error(str("--sampler: unknown sampler '", s, "' (expected one of: ", sampler_names(),
                  "; or the older names dpm, dpm++, dpm-solver, dpmpp-2m, euler-maruyama, pf-ode)"));
}

std::string default_sampler(const Process& process) {
  if (process.name() == "edm") return "heun";
  if (process.name() == "flow") return "flow-heun";
  return "ddim";
}

void check_sampler_fits(const std::string& name, const Process& process) {
  const bool flow_sampler = name.rfind("flow-", 0) == 0, flow_process = process.name() == "flow";
  const std::string kind = process.discrete_steps() > 0 ? "ddpm (a discrete schedule)" : process.name();
  DRIFT_CHECK(!flow_sampler || flow_process, "--sampler ", name,
              " integrates the velocity of a flow-matching model, but this model's process is ", kind,
              "; use ", default_sampler(process), " (its default) or another of: ", sampler_names());
  DRIFT_CHECK(!flow_process || flow_sampler, "--sampler ", name,
              " does not fit a flow-matching model (process flow: at t = 1 the signal alpha is 0, so there is no "
              "noise level, score or log-SNR to step in); use flow-euler, flow-heun or flow-rk45");
  DRIFT_CHECK(name != "ddpm" || process.discrete_steps() > 0, "--sampler ddpm walks the T steps of a discrete (ddpm) "
              "schedule, but this model's process is ", kind, "; use ", default_sampler(process),
              " (its default), euler-ancestral or dpm++2m-sde for a stochastic sampler");
}

void check_settings_fit(const SamplerSettings& st, const Process& process) {
  check_sampler_fits(st.name, process);
  if (process.alpha(process.t_max()) > 0) return;
  const bool listed = st.name == "ddim" || st.name == "dpm++2m";  // the samplers that take --spacing
  const bool karras = (listed && st.spacing == Spacing::Karras) || st.name == "euler" ||
                      st.name == "euler-ancestral" || st.name == "heun" || st.name == "dpm++2m-sde";
  DRIFT_CHECK(!karras || st.sigma_max > 0, "--sampler ", st.name, ": this model's schedule has zero terminal SNR "
              "(alpha = 0 at its last step), where the noise level sigma / alpha is infinite; give the top of the "
              "Karras sigmas with --sigma-max (e.g. 80), or use ddim with --spacing trailing");
  DRIFT_CHECK(!(listed && st.spacing == Spacing::LogSNR), "--spacing logsnr: this model's schedule has zero terminal "
              "SNR (alpha = 0 at its last step), where the log-SNR is -infinity; use --spacing trailing");
}

X0ClipMode parse_x0_clip(const std::string& s) {
  if (s == "none") return X0ClipMode::None;
  if (s == "clip") return X0ClipMode::Clip;
  if (s == "dynamic") return X0ClipMode::Dynamic;
  throw Error(str("--clip: unknown x0 clipping '", s, "' (expected none, clip or dynamic)"));
}

Spacing parse_spacing(const std::string& s) {
  if (s == "leading") return Spacing::Leading;
  if (s == "linspace") return Spacing::Linspace;
  if (s == "trailing") return Spacing::Trailing;
  if (s == "logsnr") return Spacing::LogSNR;
  if (s == "karras") return Spacing::Karras;
  throw Error(str("--spacing: unknown time spacing '", s, "' (expected leading, linspace, trailing, logsnr or karras)"));
}

OdeSolver parse_solver(const std::string& s) {
  if (s == "euler") return OdeSolver::Euler;
  if (s == "heun") return OdeSolver::Heun;
  if (s == "rk4") return OdeSolver::RK4;
  if (s == "rk45") return OdeSolver::RK45;
  throw Error(str("unknown ODE solver '", s, "' (expected euler, heun, rk4 or rk45)"));
}

SampleResult run_sampler(Denoiser& model, const Process& process, const Shape& shape, Generator& gen,
                         const SamplerSettings& st, const SampleOptions& common) {
  check_settings_fit(st, process);
  SamplerOptions o;
  o.steps = st.steps;
  o.eta = st.eta;
  o.spacing = st.spacing;
  o.solver = st.solver == OdeSolver::RK45 ? OdeSolver::Heun : st.solver;  // rk45 is the sampler ode-rk45
  o.rtol = st.rtol;
  o.atol = st.atol;
  o.corrector_steps = st.corrector_steps;
  o.snr = st.snr;
  o.sigma_min = st.sigma_min;
  o.sigma_max = st.sigma_max;
  o.rho = st.rho;
  o.s_churn = st.s_churn;
  o.common = common;
  o.common.x0_clip = st.x0_clip;
  const bool continuous = st.name == "sde" || st.name == "ode" || st.name == "ode-rk45" || st.name == "pc";
  if (process.discrete_steps() > 0 && continuous) {
    // The VP SDE whose noise levels the linear schedule discretises (Song et
    // al. 2021, appendix B), model time mapped onto the schedule.
    static const SDE sde = SDE::vp(0.1, 20.0);
    SdeTimeDenoiser timed(model, process, sde);
    return sample(st.name, timed, sde, shape, gen, o);
  }
  return sample(st.name, model, process, shape, gen, o);
}

std::vector<Tensor> sample_trajectory(Denoiser& model, const Process& process, const Shape& shape,
                                      Generator& gen, const SamplerSettings& st, const SampleOptions& common,
                                      int64_t frames) {
  DRIFT_CHECK(frames >= 2, "trajectory: expected at least 2 frames, got ", frames);
  DRIFT_CHECK(!find_sampler(st.name).adaptive, "trajectory: the adaptive sampler ", st.name,
              " has no fixed steps to record; use a fixed-step sampler (or --solver euler, heun or rk4)");
  std::vector<Tensor> out;
  int64_t next_frame = 0;
  SampleOptions opt = common;
  const auto outer = common.on_step;  // e.g. a progress bar
  opt.on_step = [&](const Tensor& x, int64_t step, int64_t total) {
    if (outer) outer(x, step, total);
    // Frame k of frames-1 is taken after step round(k total / (frames-1)) (frame 0: the noise).
    while (next_frame < frames && step * (frames - 1) >= next_frame * total) {
      out.push_back(ops::to(ops::clamp(x, -1.0, 1.0), Device::CPU));
      ++next_frame;
    }
  };
  run_sampler(model, process, shape, gen, st, opt);
  DRIFT_CHECK(static_cast<int64_t>(out.size()) == frames, "trajectory: recorded ", out.size(), " frames, expected ",
              frames);
  return out;
}

SampleResult run_sampler_split(Denoiser& model, const Process& process, const Shape& shape, Generator& gen,
                               const SamplerSettings& settings, const SampleOptions& common) {
  const int64_t W = dist::world_size(), r = dist::rank(), N = shape.at(0);
  if (W == 1) {
    SampleResult res = run_sampler(model, process, shape, gen, settings, common);
    res.x = ops::to(res.x, Device::CPU);
    return res;
  }
  // This process's rows [r0, r1) of the N samples.
  const int64_t r0 = N * r / W, r1 = N * (r + 1) / W, per = (N + W - 1) / W;
  SampleOptions mine = common;
  mine.rows = {r0, N};
  if (common.guidance.labels.defined())
    mine.guidance.labels = ops::contiguous(ops::narrow(common.guidance.labels, 0, r0, r1 - r0));
  Shape local = shape;
  local[0] = r1 - r0;
  SampleResult res = run_sampler(model, process, local, gen, settings, mine);
  // Gather: every process sends `per` rows (padded), then each block is trimmed.
  Shape padded = shape;
  padded[0] = per;
  Tensor block = ops::zeros(padded, res.x.dtype(), Device::CPU);
  if (r1 > r0) {
    Tensor dst = ops::narrow(block, 0, 0, r1 - r0);
    ops::copy_(dst, ops::to(res.x, Device::CPU));
  }
  Tensor all = dist::world().all_gather(block);
  std::vector<Tensor> parts;
  for (int64_t k = 0; k < W; ++k)
    if (N * (k + 1) / W > N * k / W) parts.push_back(ops::narrow(all, 0, k * per, N * (k + 1) / W - N * k / W));
  res.x = ops::contiguous(ops::cat(parts, 0));
  return res;
}

struct SamplingProgress::State {
  int64_t runs = 1, run = 0;
  bool enabled = true;
  std::unique_ptr<ProgressBar> bar;  // made at the first step, when the total is known
};

SamplingProgress::SamplingProgress(int64_t runs, bool enabled) : state_(std::make_shared<State>()) {
  state_->runs = std::max<int64_t>(1, runs);
  state_->enabled = enabled;
}

SampleOptions SamplingProgress::attach(SampleOptions opt) const {
  std::shared_ptr<State> s = state_;
  const auto inner = opt.on_step;
  opt.on_step = [s, inner](const Tensor& x, int64_t step, int64_t total) {
    if (inner) inner(x, step, total);
    if (!s->bar) s->bar = std::make_unique<ProgressBar>(s->runs * total, 0, s->enabled);
    s->bar->update(s->run * total + step, "sampler steps");
  };
  return opt;
}

void SamplingProgress::next_run() { ++state_->run; }

void SamplingProgress::finish() {
  if (state_->bar) state_->bar->finish();
}

}  // namespace drift::cli
