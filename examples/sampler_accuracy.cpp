// Accuracy against model evaluations, against ground truth: every registered
// sampler, driven by the exact oracle of the 2-D Gaussian mixture
// (diffusion/oracle.h), at 5..200 model evaluations (NFE); the error is the
// sliced Wasserstein distance of 20,000 samples to 20,000 true samples,
// divided by the distance between two independent true sets (1 = as good as
// the data itself; the oracle tests require <= 1.5).
//
// The sigma samplers (Karras grid) run on the data-fitted range sigma in
// [0.02, 20] (tests/test_oracle_sigma_samplers_slow.cpp says why), and Heun
// also on EDM's image range [0.002, 80] for comparison. A sampler that refuses
// a step count (the predictor-corrector's Langevin step needs enough steps)
// leaves its cell empty. Stochastic samplers are one noise draw per cell.
//
// Writes a Markdown table (stdout and table.md) and a log-log plot (png).
// Usage: sampler_accuracy [output.png] [table.md] [samples]
//        sampler_accuracy --only heun,euler ...   (a subset of the rows, by sampler name)
//        sampler_accuracy --sigma-min 0.002 --sigma-max 80 --rho 7   (one range for every sigma row)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/sampler.h"
#include "diffusion/sigma_process.h"
#include "examples/canvas.h"

using namespace drift;
using namespace drift::diffusion;

namespace {

// One row of the table: a sampler on a process with a prediction target, and
// how many model evaluations one step costs (NFE = evals_per_step * steps + extra).
struct Row {
  std::string label, sampler;
  const Process* process;
  Prediction target;
  double evals_per_step;
  int64_t extra = 0;
  SamplerOptions opt;
  bool adaptive = false;  // rk45: the tolerance sets the NFE
};

double sw_ratio(const GaussianMixture& mix, const Tensor& x, double ref) {
  double sw = 0;
  Generator tg(1234);
  for (int i = 0; i < 2; ++i) {
    Tensor truth = mix.sample(x.size(0), tg).x;
    Generator pg(99);
    sw += sliced_wasserstein(x, truth, 32, pg) / 2;
  }
  return sw / ref;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string only;
  double sigma_min = 0, sigma_max = 0, rho = 7;  // 0: each row's own range
  for (size_t i = 0; i + 1 < args.size();) {
    if (args[i] == "--only") only = "," + args[i + 1] + ",";
    else if (args[i] == "--sigma-min") sigma_min = std::stod(args[i + 1]);
    else if (args[i] == "--sigma-max") sigma_max = std::stod(args[i + 1]);
    else if (args[i] == "--rho") rho = std::stod(args[i + 1]);
    else { ++i; continue; }
    args.erase(args.begin() + long(i), args.begin() + long(i) + 2);
  }
  const std::string png = args.size() > 0 ? args[0] : "sampler_accuracy.png";
  const std::string md = args.size() > 1 ? args[1] : "sampler_accuracy.md";
  const int64_t n = args.size() > 2 ? std::stoll(args[2]) : 20000;

  const GaussianMixture mix = demo_mixture_2d();
  const DiscreteSchedule lin = DiscreteSchedule::linear();
  const SDE vp = SDE::vp();
  const EdmProcess edm;
  const FlowProcess flow;
  std::vector<Row> rows;
  // The sigma rows' noise range: fitted to this data unless given on the command line.
  const bool sigma_given = sigma_min > 0 || sigma_max > 0;
  auto add = [&](std::string label, std::string sampler, const Process& p, Prediction t, double per, int64_t extra,
                 SamplerOptions o = {}) {
    if (sigma_given) {
      o.sigma_min = sigma_min;
      o.sigma_max = sigma_max;
    } else if (o.sigma_min == 0) {
      o.sigma_min = 0.02;
      o.sigma_max = 20;
    }
    o.rho = rho;
    rows.push_back({label, sampler, &p, t, per, extra, o});
  };
  SamplerOptions logsnr, karras, euler_ode, heun_ode, rk4, ancestral_ddim;
  logsnr.spacing = Spacing::LogSNR;
  karras.spacing = Spacing::Karras;
  euler_ode.solver = OdeSolver::Euler;  // (the options' default solver is Heun)
  heun_ode.solver = OdeSolver::Heun;
  rk4.solver = OdeSolver::RK4;
  ancestral_ddim.eta = 1.0;
  add("DDPM (VP-SDE grid)", "ddpm", vp, Prediction::Eps, 1, 0);
  add("DDIM eta=0 (linear, trailing)", "ddim", lin, Prediction::Eps, 1, 0);
  add("DDIM eta=1 (linear, trailing)", "ddim", lin, Prediction::Eps, 1, 0, ancestral_ddim);
  add("DPM-Solver++(2M) (linear, log-SNR)", "dpm++2m", lin, Prediction::Eps, 1, 0, logsnr);
  add("DPM-Solver++(2M) Karras (EDM)", "dpm++2m", edm, Prediction::X0, 1, 0, karras);
  add("DPM-Solver++(2M) SDE Karras (EDM)", "dpm++2m-sde", edm, Prediction::X0, 1, 0);
  add("Euler Karras (EDM)", "euler", edm, Prediction::X0, 1, 0);
  add("Euler ancestral Karras (EDM)", "euler-ancestral", edm, Prediction::X0, 1, 0);
  add("Heun Karras (EDM)", "heun", edm, Prediction::X0, 2, -1);
  SamplerOptions image_range;  // EDM's range for images in [-1, 1]
  image_range.sigma_min = 0.002;
  image_range.sigma_max = 80;
  if (!sigma_given) add("Heun Karras (EDM), sigma in [0.002, 80]", "heun", edm, Prediction::X0, 2, -1, image_range);
  add("Heun Karras (DDPM linear, eps)", "heun", lin, Prediction::Eps, 2, -1);
  add("reverse SDE Euler-Maruyama (VP)", "sde", vp, Prediction::Eps, 1, 0);
  add("PF-ODE Euler (VP)", "ode", vp, Prediction::Eps, 1, 0, euler_ode);
  add("PF-ODE Heun (VP)", "ode", vp, Prediction::Eps, 2, 0, heun_ode);
  add("PF-ODE RK4 (VP)", "ode", vp, Prediction::Eps, 4, 0, rk4);
  add("predictor-corrector (VP)", "pc", vp, Prediction::Eps, 2, 0);
  add("flow Euler", "flow-euler", flow, Prediction::Flow, 1, 0);
  add("flow Heun", "flow-heun", flow, Prediction::Flow, 2, -1);
  add("PF-ODE RK45 (VP)", "ode-rk45", vp, Prediction::Eps, 0, 0);
  rows.back().adaptive = true;
  add("flow RK45", "flow-rk45", flow, Prediction::Flow, 0, 0);
  rows.back().adaptive = true;

  const std::vector<int64_t> budgets = {5, 10, 20, 35, 50, 100, 200};
  const std::vector<double> tolerances = {1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 1e-4};

  // The reference: mean sliced Wasserstein distance between independent true sets.
  double ref = 0;
  {
    Generator g(1234);
    std::vector<Tensor> truth;
    for (int i = 0; i < 4; ++i) truth.push_back(mix.sample(n, g).x);
    int pairs = 0;
    for (int i = 0; i < 4; ++i)
      for (int j = i + 1; j < 4; ++j, ++pairs) {
        Generator pg(99);
        ref += sliced_wasserstein(truth[i], truth[j], 32, pg);
      }
    ref /= pairs;
  }
  std::printf("2-D mixture, %lld samples, SW(true, true) = %.4f\n", (long long)n, ref);

  struct Point { double nfe, ratio; int64_t budget; };
  std::vector<std::vector<Point>> curves(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    if (!only.empty() && only.find("," + row.sampler + ",") == std::string::npos) continue;
    OracleDenoiser oracle(mix, *row.process, row.target);
    auto run = [&](SamplerOptions o, int64_t budget) {
      Generator gen(7);
      SampleResult res;
      try {
        res = sample(row.sampler, oracle, *row.process, {n, 2}, gen, o);
      } catch (const Error& e) {
        std::printf("  %-38s budget %4lld  refused: %s\n", row.label.c_str(), (long long)budget, e.what());
        return;
      }
      const double q = sw_ratio(mix, res.x, ref);
      curves[r].push_back({double(res.nfe), q, budget});
      std::printf("  %-38s NFE %4lld  SW ratio %.2f\n", row.label.c_str(), (long long)res.nfe, q);
      std::fflush(stdout);
    };
    if (row.adaptive) {
      for (double tol : tolerances) {
        SamplerOptions o = row.opt;
        o.rtol = o.atol = tol;
        run(o, 0);
      }
      continue;
    }
    for (int64_t b : budgets) {
      const int64_t steps = std::llround((double(b) - double(row.extra)) / row.evals_per_step);
      if (steps < 1 || (row.process == &lin && steps > lin.T())) continue;
      SamplerOptions o = row.opt;
      o.steps = steps;
      run(o, b);
    }
  }

  // ---- the table: one column per NFE budget (adaptive solvers: the run with the
  // largest NFE at or below the budget, its NFE in brackets)
  std::string table = "| sampler | NFE 5 | 10 | 20 | 35 | 50 | 100 | 200 |\n|---|---|---|---|---|---|---|---|\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    if (curves[r].empty()) continue;
    table += "| " + rows[r].label + " |";
    for (int64_t b : budgets) {
      const Point* best = nullptr;
      for (const Point& p : curves[r]) {
        if (!rows[r].adaptive && p.budget == b) best = &p;
        if (rows[r].adaptive && p.nfe <= double(b) && (!best || p.nfe > best->nfe)) best = &p;
      }
      char cell[48];
      if (!best) std::snprintf(cell, sizeof cell, " - |");
      else if (rows[r].adaptive) std::snprintf(cell, sizeof cell, " %.2f (%g) |", best->ratio, best->nfe);
      else std::snprintf(cell, sizeof cell, " %.2f |", best->ratio);
      table += cell;
    }
    table += "\n";
  }
  std::printf("\n%s", table.c_str());
  std::ofstream(md) << table;

  // ---- the plot: log NFE (5..300) against log SW ratio (0.8..100)
  const int W = 900, H = 620, L = 70, R = 330, T = 30, B = 60;
  Canvas cv(W, H);
  auto px = [&](double nfe) { return L + (std::log(nfe) - std::log(4.0)) / (std::log(300.0) - std::log(4.0)) * (W - L - R); };
  auto py = [&](double q) {
    q = std::clamp(q, 0.8, 100.0);
    return H - B - (std::log(q) - std::log(0.8)) / (std::log(100.0) - std::log(0.8)) * (H - T - B);
  };
  for (double v : {5.0, 10.0, 20.0, 50.0, 100.0, 200.0}) {
    cv.line(px(v), T, px(v), H - B, 220, 220, 220);
    cv.text(int(px(v)) - 8, H - B + 8, std::to_string(int(v)));
  }
  for (double v : {1.0, 1.5, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0}) {
    cv.line(L, py(v), W - R, py(v), v == 1.5 ? 150 : 220, v == 1.5 ? 150 : 220, v == 1.5 ? 150 : 220);
    char s[16];
    std::snprintf(s, sizeof s, "%g", v);
    cv.text(L - 30, int(py(v)) - 3, s);
  }
  cv.line(L, T, L, H - B, 0, 0, 0);
  cv.line(L, H - B, W - R, H - B, 0, 0, 0);
  cv.text(L + 150, H - 25, "model evaluations (NFE, log)");
  cv.text(8, T - 20, "sliced Wasserstein / SW(true, true) (log; tests require <= 1.5)");
  int legend = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (curves[r].empty()) continue;
    const int* c = Canvas::palette(int(r));
    std::vector<Point> pts = curves[r];
    std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.nfe < b.nfe; });
    for (size_t i = 0; i + 1 < pts.size(); ++i)
      cv.line(px(pts[i].nfe), py(pts[i].ratio), px(pts[i + 1].nfe), py(pts[i + 1].ratio), c[0], c[1], c[2], 1.0, 2);
    for (const Point& p : pts) cv.rect(int(px(p.nfe)) - 2, int(py(p.ratio)) - 2, int(px(p.nfe)) + 2,
                                       int(py(p.ratio)) + 2, c[0], c[1], c[2]);
    const int ly = T + 14 * legend++;
    cv.rect(W - R + 12, ly, W - R + 30, ly + 3, c[0], c[1], c[2]);
    cv.text(W - R + 36, ly - 3, rows[r].label);
  }
  cv.save(png);
  std::printf("wrote %s and %s\n", png.c_str(), md.c_str());
  return 0;
}
