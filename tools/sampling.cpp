#include "tools/sampling.h"

#include <algorithm>
#include <cmath>

#include "diffusion/forward.h"

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
  opt.on_step = [&](const Tensor& x, int64_t step, int64_t total) {
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

}  // namespace drift::cli
