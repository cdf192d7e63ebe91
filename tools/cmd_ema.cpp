// drift ema: post-hoc EMA (EDM2, Karras et al. 2024, sec. 3). From the
// snapshots of a run trained with posthoc_ema_every > 0 (two power-function
// EMA profiles, <run>/ema_snapshots), reconstructs the average of any relative
// width sigma_rel at a snapshot step (nn/posthoc_ema.h: a least-squares fit of
// the wanted profile by the stored ones) and writes it as a model file that
// `drift sample -c`, img2img, inpaint and eval read like a checkpoint:
//   tensors   "ema.<param>"
//   metadata  format "drift-posthoc-ema-1", step, config (the run's),
//             posthoc_ema.sigma_rel, posthoc_ema.gamma, posthoc_ema.snapshots, posthoc_ema.profile_error
#include <cstdio>
#include <memory>
#include <set>

#include "nn/posthoc_ema.h"
#include "nn/safetensors.h"
#include "tools/cli.h"
#include "tools/model_io.h"

namespace drift::cli {

namespace {

struct EmaArgs {
  std::string run;
  double sigma_rel = 0;
  int64_t step = -1;  // -1: the last snapshot step
  std::string out;
};

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

void run_ema(const EmaArgs& a) {
  check_output_path(a.out, "-o");
  DRIFT_CHECK(a.step == -1 || a.step >= 1, "--step: expected a snapshot step >= 1, got ", a.step);
  nn::PosthocEma r = nn::reconstruct_ema(a.run + "/ema_snapshots", a.sigma_rel, a.step);

  // The result must be the model the run's config describes, or `drift sample` could not use it.
  const std::string origin = "post-hoc EMA snapshot '" + r.used.back().path + "' config";
  TrainConfig run = TrainConfig::from_json(r.config_json, origin);
  try {
    run.validate();
    nn::UNet net(run.model.unet);
    net.check_state_dict(r.weights, true);
  } catch (const Error& e) {
    throw Error(str(origin, ": the snapshots do not fit the model it describes: ", e.what()));
  }

  nn::NamedTensors tensors;
  for (const auto& [n, t] : r.weights) tensors.emplace_back("ema." + n, t);
  nn::Metadata meta;
  meta["format"] = "drift-posthoc-ema-1";
  meta["step"] = std::to_string(r.step);
  meta["config"] = r.config_json;
  meta["posthoc_ema.sigma_rel"] = exact(r.sigma_rel);
  meta["posthoc_ema.gamma"] = exact(r.gamma);
  meta["posthoc_ema.snapshots"] = std::to_string(r.used.size());
  meta["posthoc_ema.profile_error"] = exact(r.coefficients.profile_error);
  nn::save_safetensors(a.out, tensors, meta);  // atomic: temporary file + rename

  std::set<double> widths;
  for (const nn::EmaSnapshot& s : r.used) widths.insert(s.sigma_rel);
  std::string list;
  for (double w : widths) list += str(list.empty() ? "" : ", ", w);
  std::printf("drift ema: sigma_rel %g (gamma %.3f) at step %lld from %zu snapshots (sigma_rel %s; steps %lld to "
              "%lld)\n",
              r.sigma_rel, r.gamma, static_cast<long long>(r.step), r.used.size(), list.c_str(),
              static_cast<long long>(r.used.front().step), static_cast<long long>(r.step));
  if (r.coefficients.profile_error < 1e-6)
    std::printf("the snapshots hold this profile itself (relative L2 error %.1e); wrote %s\n",
                r.coefficients.profile_error, a.out.c_str());
  else
    std::printf("the reconstructed averaging profile is within %.3g%% of the wanted one (relative L2); wrote %s\n",
                100 * r.coefficients.profile_error, a.out.c_str());
}

}  // namespace

void add_ema_command(CLI::App& app) {
  auto args = std::make_shared<EmaArgs>();
  CLI::App* cmd = app.add_subcommand(
      "ema", "Post-hoc EMA (EDM2): an average of any length from a run's EMA snapshots, as a model file");
  cmd->footer(
      "The run must have been trained with --posthoc-ema-every N (snapshots in <run>/ema_snapshots).\n"
      "Examples:\n  drift ema --run runs/mnist --sigma-rel 0.07 -o runs/mnist/ema-0.07.safetensors\n"
      "  drift sample -c runs/mnist/ema-0.07.safetensors --n 64");
  cmd->add_option("--run", args->run, "the run folder (with ema_snapshots/)")->required();
  cmd->add_option("--sigma-rel", args->sigma_rel,
                  "relative width of the average: its standard deviation / training length, in (0, 0.2887]; "
                  "e.g. 0.05 to 0.2")
      ->required();
  cmd->add_option("--step", args->step, "a snapshot step to reconstruct at (default: the last)");
  cmd->add_option("-o,--out", args->out, "the model file to write (.safetensors)")->required();
  cmd->callback([args] { run_ema(*args); });
}

}  // namespace drift::cli
