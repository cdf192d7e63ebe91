// Flow samplers: the ODE dx/dt = u(x, t) integrated from t_max to the end in
// the process's own time, with the probability-flow velocity
//   u(x, t) = alpha'(t) E[x_0 | x_t] + sigma'(t) E[eps | x_t]     (GuidedModel::velocity)
// which for rectified flow / flow matching (FlowProcess: x_t = (1 - t) x_0 + t eps)
// is the velocity eps - x_0 the model is trained on (Liu et al. 2023; Lipman et
// al. 2023; Esser et al. 2024, "SD3"), and on any other process is its
// probability-flow ODE (Song et al. 2021, eq. 13) in another form.
// Euler (1 evaluation per step), Heun (2; the last step to clean data is Euler)
// and adaptive Dormand-Prince RK45.
#include <cmath>

#include "diffusion/samplers_impl.h"

namespace drift::diffusion::impl {

// Uniform in t from t_start to the end (t_min, or clean data when the process
// may be evaluated there), optionally shifted toward the noise:
//   t' = shift t / (1 + (shift - 1) t)        (SD3's timestep shift, for t in [0, 1])
std::vector<double> flow_grid(const Process& p, const SamplerOptions& o, double t_start) {
  const double end = o.common.t_end >= 0 ? o.common.t_end : p.t_min();
  std::vector<double> ts = uniform_grid(t_start, end, o.steps);
  DRIFT_CHECK(o.flow_shift > 0, "flow sampler: expected flow_shift > 0, got ", o.flow_shift);
  if (o.flow_shift != 1.0) {
    const double span = p.t_max();
    for (double& t : ts) {
      const double u = t / span;
      t = span * o.flow_shift * u / (1.0 + (o.flow_shift - 1.0) * u);
    }
  }
  return ts;
}

Tensor flow_euler_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double h = ts[i + 1] - ts[i];                      // h < 0
    x = add(x, mul(ctx.model.velocity(x, ts[i]), h));        // x += h u(x, t)
    x = ctx.step_done(x, i);
  }
  return x;
}

Tensor flow_heun_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double t = ts[i], s = ts[i + 1], h = s - t;
    Tensor k1 = ctx.model.velocity(x, t);
    Tensor xe = add(x, mul(k1, h));                           // Euler predictor
    if (ctx.is_clean(s)) {
      x = xe;  // no evaluation at clean data (as EDM's last step)
    } else {
      Tensor k2 = ctx.model.velocity(xe, s);
      x = add(x, mul(add(k1, k2), 0.5 * h));                  // x += h/2 (u(x, t) + u(x_e, s))
    }
    x = ctx.step_done(x, i);
  }
  return x;
}

Tensor flow_rk45_steps(SamplerContext& ctx, Tensor x, const std::vector<double>& ts) {
  DRIFT_CHECK(!ctx.opt.common.inpaint_mask.defined(), "flow-rk45: inpainting needs a fixed-step solver");
  DRIFT_CHECK(!ctx.opt.common.rows.active(), "flow-rk45: adaptive steps depend on the whole batch; not split over processes");
  Rk45Stats st;
  OdeFn f = [&](double t, const OdeState& y) { return OdeState{ctx.model.velocity(y[0], t)}; };
  OdeState y = rk45_integrate(f, {x}, ts.front(), ts.back(), ctx.opt.rtol, ctx.opt.atol, &st);
  ctx.result.steps = st.accepted;
  ctx.result.rejected = st.rejected;
  return y[0];
}

}  // namespace drift::diffusion::impl
