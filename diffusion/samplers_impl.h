#pragma once
// The step and grid functions behind the sampler registry (sampler.cpp's
// table). Internal to diffusion/: users call sample() or the typed wrappers
// in samplers.h.
#include "diffusion/sampler.h"

namespace drift::diffusion::impl {

// samplers_ddpm.cpp: discrete-time family (any process)
std::vector<double> ddpm_grid(const Process& p, const SamplerOptions& o, double t_start);
std::vector<double> listed_grid(const Process& p, const SamplerOptions& o, double t_start);  // make_timesteps + clean
Tensor ddpm_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor ddim_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor dpmpp_2m_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);

// samplers_sde.cpp: continuous-time family (reverse SDE, probability-flow ODE, predictor-corrector)
std::vector<double> sde_grid(const Process& p, const SamplerOptions& o, double t_start);  // uniform to t_end / eps
std::vector<double> endpoints_grid(const Process& p, const SamplerOptions& o, double t_start);  // {t_start, end}
Tensor euler_maruyama_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor ode_fixed_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor ode_rk45_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor pc_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);

// samplers_sigma.cpp: in the noise level sigma = sigma / alpha (Karras et al. 2022)
std::vector<double> karras_grid(const Process& p, const SamplerOptions& o, double t_start);
Tensor euler_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor euler_ancestral_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor heun_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor dpmpp_2m_sde_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);

// samplers_flow.cpp: the velocity ODE in the process's time (flow matching)
std::vector<double> flow_grid(const Process& p, const SamplerOptions& o, double t_start);
Tensor flow_euler_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor flow_heun_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);
Tensor flow_rk45_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts);

}  // namespace drift::diffusion::impl
