// The Fokker-Planck picture: forward SDE, reverse SDE and probability-flow
// ODE share the same marginals p_t.
//
// Data: a 1-D mixture of three Gaussians. Its noised marginals p_t under the
// VP-SDE dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW are known, and so is the
// exact score, which the "oracle model" (diffusion/oracle.h) provides. We
//   1. solve the Fokker-Planck equation dp/dt = d/dx(1/2 beta x p) + 1/2 beta d^2p/dx^2
//      on a grid (finite differences, Crank-Nicolson; diffusion/fokker_planck.h),
//   2. push 20,000 data points forward with the SDE (Euler-Maruyama),
//   3. pull 20,000 prior points back with the reverse SDE
//      dx = [f - g^2 score] dt + g dW_bar  and with the ODE dx = [f - 1/2 g^2 score] dt,
// and compare the histograms of the three particle clouds with the numerical
// density at several times (L1 distances printed), then draw the picture:
//   top:    p_t(x) over (t, x) as a heat map, with reverse-SDE paths (jagged,
//           red) and ODE paths (smooth, green) from the same starting points;
//   bottom: one panel per time: the Fokker-Planck density (black) and the
//           histograms of forward-SDE (blue), reverse-SDE (red) and ODE (green) particles.
//
// Usage: fokker_planck [output.png]      (default fokker_planck.png)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "data/image.h"
#include "diffusion/fokker_planck.h"
#include "diffusion/forward.h"
#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/samplers.h"
#include "examples/canvas.h"

using namespace drift;
using namespace drift::diffusion;

namespace {

std::vector<double> exact_density(const GaussianMixture& mix, const std::vector<double>& grid) {
  std::vector<double> lp = mix.log_density(ops::from_vector(grid, {int64_t(grid.size()), 1}));
  for (double& v : lp) v = std::exp(v);
  return lp;
}

std::vector<double> per_bin(const std::vector<double>& p, int64_t bins) {
  const size_t per = p.size() / size_t(bins);
  std::vector<double> out(size_t(bins), 0.0);
  for (size_t b = 0; b < out.size(); ++b) {
    for (size_t i = 0; i < per; ++i) out[b] += p[b * per + i] / double(per);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string out = argc > 1 ? argv[1] : "fokker_planck.png";
  SDE vp = SDE::vp();                         // beta_min 0.1, beta_max 20
  GaussianMixture mix = demo_mixture_1d();    // weights 0.5 / 0.3 / 0.2 at -2, 0.5, 2.5
  OracleDenoiser oracle(mix, vp);             // exact eps (hence score) of every p_t
  const double lo = -5, hi = 5;
  const int64_t points = 1000, bins = 50, n = 20000;
  const double bin = (hi - lo) / double(bins);
  const std::vector<double> times = {0.05, 0.1, 0.3, 0.6, 1.0};

  // 1. Fokker-Planck on a grid, from the data density at t = 0.
  FokkerPlanck1D fp(vp, lo, hi, points);
  fp.set_density(exact_density(mix, fp.grid()), 0.0);

  // 2./3. Particles. The forward cloud starts from data; the reverse clouds from the prior N(0, 1).
  Generator gen(2024);
  Tensor x0 = mix.sample(n, gen).x;
  std::vector<std::vector<double>> dens, h_fwd, h_rev, h_ode;
  std::printf("   t   L1 forward-SDE  L1 reverse-SDE  L1 ODE   (histograms vs. the Fokker-Planck density, %ld particles)\n",
              long(n));
  for (double t : times) {
    fp.advance_to(t, 1e-3);
    std::vector<double> p = per_bin(fp.density(), bins);
    Tensor fwd = sde_forward(vp, x0, 0.0, t, 500, gen);
    SdeSamplerOptions so;
    so.steps = 500;
    so.common.t_end = t;
    Tensor rev = t < 1.0 ? sde_sample(oracle, vp, {n, 1}, gen, so).x : vp.prior_sample({n, 1}, gen);
    OdeOptions oo;
    oo.common.t_end = t;
    Tensor ode = t < 1.0 ? ode_sample(oracle, vp, {n, 1}, gen, oo).x : vp.prior_sample({n, 1}, gen);
    dens.push_back(p);
    h_fwd.push_back(histogram_density(ops::to_vector_f64(fwd), lo, hi, bins));
    h_rev.push_back(histogram_density(ops::to_vector_f64(rev), lo, hi, bins));
    h_ode.push_back(histogram_density(ops::to_vector_f64(ode), lo, hi, bins));
    std::printf("%5.2f   %.4f          %.4f          %.4f\n", t, l1_distance(h_fwd.back(), p, bin),
                l1_distance(h_rev.back(), p, bin), l1_distance(h_ode.back(), p, bin));
  }

  // Paths for the heat map: 12 starting points, reverse SDE and ODE side by side (Euler steps).
  const int64_t paths = 12, steps = 400;
  Tensor start = vp.prior_sample({paths, 1}, gen);
  GuidedModel model(oracle, vp);
  std::vector<std::vector<double>> sde_path, ode_path;  // [step][path]
  {
    NoGradGuard no_grad;
    Tensor xs = start, xo = start;
    const double t_end = vp.t_min(), dt = (1.0 - t_end) / double(steps);
    for (int64_t i = 0; i <= steps; ++i) {
      sde_path.push_back(ops::to_vector_f64(xs));
      ode_path.push_back(ops::to_vector_f64(xo));
      if (i == steps) break;
      const double t = 1.0 - dt * double(i), g = vp.diffusion(t);
      // reverse SDE: x <- x - [f - g^2 score] dt + g sqrt(dt) z      (Song et al. 2021, eq. 6)
      Tensor drift_s = sub(vp.drift(xs, t), mul(model.score(xs, t), g * g));
      xs = add(sub(xs, mul(drift_s, dt)), mul(ops::randn({paths, 1}, gen), g * std::sqrt(dt)));
      // ODE: x <- x - [f - 1/2 g^2 score] dt                          (Song et al. 2021, eq. 13)
      xo = sub(xo, mul(ode_drift(model, vp, xo, t), dt));
    }
  }

  // ---- the picture ---------------------------------------------------------------
  const int W = 1200, H = 760;
  Canvas cv(W, H);
  // Top: heat map of p_t(x), t from 1 (left) to 0 (right), x up.
  const int hx0 = 60, hy0 = 40, hw = 1100, hh = 300;
  FokkerPlanck1D fp2(vp, lo, hi, points);
  fp2.set_density(exact_density(mix, fp2.grid()), 0.0);
  std::vector<std::vector<double>> columns(static_cast<size_t>(hw));
  for (int c = hw - 1; c >= 0; --c) {  // column c shows time t = 1 - c / (hw - 1); solve forward in t
    const double t = 1.0 - double(c) / double(hw - 1);
    fp2.advance_to(t, 1e-3);
    columns[size_t(c)] = fp2.density();
  }
  double pmax = 0;
  for (auto& col : columns)
    for (double v : col) pmax = std::max(pmax, v);
  for (int c = 0; c < hw; ++c)
    for (int r = 0; r < hh; ++r) {
      const double x = hi - (hi - lo) * (r + 0.5) / hh;
      const int64_t j = std::clamp<int64_t>(int64_t((x - lo) / (hi - lo) * points), 0, points - 1);
      const double v = std::pow(columns[size_t(c)][size_t(j)] / pmax, 0.6);  // gamma for visibility
      const int shade = int(255 - 200 * v);
      cv.set(hx0 + c, hy0 + r, shade, shade, 255 - int(90 * v));
    }
  auto to_px = [&](double t, double x) {
    return std::pair<double, double>{hx0 + (1.0 - t) * (hw - 1), hy0 + (hi - x) / (hi - lo) * hh};
  };
  const double dt = (1.0 - vp.t_min()) / double(steps);
  for (int64_t p = 0; p < paths; ++p)
    for (int64_t i = 0; i < steps; ++i) {
      auto [ax, ay] = to_px(1.0 - dt * i, sde_path[i][p]);
      auto [bx, by] = to_px(1.0 - dt * (i + 1), sde_path[i + 1][p]);
      cv.line(ax, ay, bx, by, 210, 30, 30, 0.8);
      auto [cx, cy] = to_px(1.0 - dt * i, ode_path[i][p]);
      auto [ex, ey] = to_px(1.0 - dt * (i + 1), ode_path[i + 1][p]);
      cv.line(cx, cy, ex, ey, 20, 150, 40, 1.0, 2);
    }
  cv.text(hx0, 12, "p_t(x) of the VP-SDE (Fokker-Planck, finite differences); paths from the prior at t = 1 to the data at t = 0:"
                   "  reverse SDE (red), probability-flow ODE (green)", 1);
  cv.text(hx0 - 50, hy0 + 2, "x = 5");
  cv.text(hx0 - 50, hy0 + hh - 10, "x = -5");
  cv.text(hx0, hy0 + hh + 6, "t = 1 (prior)");
  cv.text(hx0 + hw - 90, hy0 + hh + 6, "t = 0 (data)");

  // Bottom: one panel per time.
  const int py0 = 400, ph = 300, pw = 210, gap = 18;
  double ymax = 0;
  for (auto& d : dens)
    for (double v : d) ymax = std::max(ymax, v);
  ymax *= 1.15;
  for (size_t k = 0; k < times.size(); ++k) {
    const int px0 = 60 + int(k) * (pw + gap);
    cv.rect(px0, py0, px0 + pw, py0 + ph, 245, 245, 245);
    auto X = [&](int64_t b) { return px0 + double(b) / double(bins) * pw; };
    auto Y = [&](double v) { return py0 + ph - std::min(v / ymax, 1.0) * ph; };
    const std::vector<double>* hs[3] = {&h_fwd[k], &h_rev[k], &h_ode[k]};
    const int colors[3][3] = {{40, 80, 220}, {210, 30, 30}, {20, 150, 40}};
    for (int s = 0; s < 3; ++s)  // histograms as step lines
      for (int64_t b = 0; b < bins; ++b) {
        const double v = (*hs[s])[size_t(b)];
        cv.line(X(b), Y(v), X(b + 1), Y(v), colors[s][0], colors[s][1], colors[s][2], 0.9);
        if (b + 1 < bins) cv.line(X(b + 1), Y(v), X(b + 1), Y((*hs[s])[size_t(b + 1)]), colors[s][0], colors[s][1], colors[s][2], 0.9);
      }
    for (int64_t b = 0; b + 1 < bins; ++b)  // Fokker-Planck density
      cv.line(X(b) + 0.5 * pw / bins, Y(dens[k][size_t(b)]), X(b + 1) + 0.5 * pw / bins, Y(dens[k][size_t(b + 1)]), 0, 0,
              0, 1.0, 2);
    char label[64];
    std::snprintf(label, sizeof label, "t = %.2f", times[k]);
    cv.text(px0 + 4, py0 + 4, label, 2);
  }
  cv.text(60, py0 + ph + 14, "black: Fokker-Planck density   blue: forward SDE from data   red: reverse SDE from prior   "
                             "green: ODE from prior      (x from -5 to 5 in every panel)", 1);
  write_png(out, cv.img.pixels.data(), cv.img.width, cv.img.height, 3);
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
