#include "tools/sampling.h"

#include <algorithm>
#include <cmath>

#include "diffusion/forward.h"
#include "dist/comm.h"

namespace drift::cli {

using namespace drift::diffusion;

SamplerKind parse_sampler(const std::string& s) {
  if (s == "ddpm") return SamplerKind::DDPM;
  if (s == "ddim") return SamplerKind::DDIM;
  if (s == "dpm" || s == "dpm++" || s == "dpm-solver" || s == "dpmpp-2m") return SamplerKind::DPMSolver;
  if (s == "sde" || s == "euler-maruyama") return SamplerKind::SDE;
  if (s == "ode" || s == "pf-ode") return SamplerKind::ODE;
  if (s == "pc") return SamplerKind::PC;
  throw Error(str("unknown sampler '", s, "' (expected ddpm, ddim, dpm, sde, ode or pc)"));
}

const char* sampler_name(SamplerKind k) {
  switch (k) {
    case SamplerKind::DDPM: return "ddpm";
    case SamplerKind::DDIM: return "ddim";
    case SamplerKind::DPMSolver: return "dpm";
    case SamplerKind::SDE: return "sde";
    case SamplerKind::ODE: return "ode";
    case SamplerKind::PC: return "pc";
  }
  return "?";
}

Spacing parse_spacing(const std::string& s) {
  if (s == "leading") return Spacing::Leading;
  if (s == "linspace") return Spacing::Linspace;
  if (s == "trailing") return Spacing::Trailing;
  if (s == "logsnr") return Spacing::LogSNR;
  throw Error(str("unknown time spacing '", s, "' (expected leading, linspace, trailing or logsnr)"));
}

OdeSolver parse_solver(const std::string& s) {
  if (s == "euler") return OdeSolver::Euler;
  if (s == "heun") return OdeSolver::Heun;
  if (s == "rk4") return OdeSolver::RK4;
  if (s == "rk45") return OdeSolver::RK45;
  throw Error(str("unknown ODE solver '", s, "' (expected euler, heun, rk4 or rk45)"));
}

SampleResult run_sampler(Denoiser& model, const DiscreteSchedule& schedule, const Shape& shape, Generator& gen,
                         const SamplerSettings& st, const SampleOptions& common) {
  switch (st.kind) {
    case SamplerKind::DDPM: return ddpm_sample(model, schedule, shape, gen, DdpmVariance::Beta, common);
    case SamplerKind::DDIM: {
      DdimOptions o;
      o.steps = st.steps;
      o.eta = st.eta;
      o.spacing = st.spacing;
      o.common = common;
      return ddim_sample(model, schedule, shape, gen, o);
    }
    case SamplerKind::DPMSolver: {
      DpmSolverOptions o;
      o.steps = st.steps;
      o.spacing = st.spacing;
      o.common = common;
      return dpm_solver_pp_2m(model, schedule, shape, gen, o);
    }
    default: break;
  }
  // Continuous-time samplers: the VP SDE whose noise levels the linear
  // schedule discretises (Song et al. 2021, appendix B), model time mapped.
  static const SDE sde = SDE::vp(0.1, 20.0);
  SdeTimeDenoiser timed(model, schedule, sde);
  SampleOptions c = common;
  if (st.kind == SamplerKind::SDE) {
    SdeSamplerOptions o;
    o.steps = st.steps;
    o.common = c;
    return sde_sample(timed, sde, shape, gen, o);
  }
  if (st.kind == SamplerKind::ODE) {
    OdeOptions o;
    o.solver = st.solver;
    o.steps = st.steps;
    o.rtol = st.rtol;
    o.atol = st.atol;
    o.common = c;
    return ode_sample(timed, sde, shape, gen, o);
  }
  PcOptions o;
  o.steps = st.steps;
  o.corrector_steps = st.corrector_steps;
  o.snr = st.snr;
  o.common = c;
  return pc_sample(timed, sde, shape, gen, o);
}

std::vector<Tensor> sample_trajectory(Denoiser& model, const DiscreteSchedule& schedule, const Shape& shape,
                                      Generator& gen, const SamplerSettings& st, const SampleOptions& common,
                                      int64_t frames) {
  DRIFT_CHECK(frames >= 2, "trajectory: expected at least 2 frames, got ", frames);
  DRIFT_CHECK(!(st.kind == SamplerKind::ODE && st.solver == OdeSolver::RK45),
              "trajectory: the adaptive RK45 solver has no fixed steps to record; use --solver euler, heun or rk4");
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
  run_sampler(model, schedule, shape, gen, st, opt);
  DRIFT_CHECK(static_cast<int64_t>(out.size()) == frames, "trajectory: recorded ", out.size(), " frames, expected ",
              frames);
  return out;
}

SampleResult run_sampler_split(Denoiser& model, const DiscreteSchedule& schedule, const Shape& shape, Generator& gen,
                               const SamplerSettings& settings, const SampleOptions& common) {
  const int64_t W = dist::world_size(), r = dist::rank(), N = shape.at(0);
  if (W == 1) {
    SampleResult res = run_sampler(model, schedule, shape, gen, settings, common);
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
  SampleResult res = run_sampler(model, schedule, local, gen, settings, mine);
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
