#include "tools/sample_args.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <sstream>

namespace drift::cli {

SamplerSettings SampleArgs::settings() const {
  SamplerSettings s;
  s.kind = parse_sampler(sampler);
  s.steps = steps;
  s.eta = eta;
  s.spacing = parse_spacing(spacing);
  s.solver = parse_solver(solver);
  DRIFT_CHECK(steps > 0, "--steps must be positive, got ", steps);
  return s;
}

Device SampleArgs::to_device(LoadedModel& m) const {
  const Device d = parse_device(device, "--device");
  m.net->to(d);
  m.denoiser.precision = config::parse_enum<nn::Precision>(precision, "--precision");
  return d;
}

Tensor SampleArgs::label_tensor(const LoadedModel& m, int64_t n) const {
  const int64_t classes = m.config.unet.num_classes;
  if (classes == 0) {
    DRIFT_CHECK(labels.empty(), "--labels given, but the model in '", checkpoint,
                "' is unconditional (train with --class-conditional)");
    DRIFT_CHECK(guidance == 1.0, "--guidance ", guidance, " given, but the model in '", checkpoint,
                "' is unconditional: classifier-free guidance needs a model trained with --class-conditional");
    return Tensor();
  }
  std::vector<int64_t> list;
  if (labels.empty()) {
    for (int64_t i = 0; i < classes; ++i) list.push_back(i);
  } else {
    std::stringstream ss(labels);
    std::string item;
    while (std::getline(ss, item, ',')) {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
      DRIFT_CHECK(ec == std::errc() && end == item.data() + item.size() && !item.empty(), "--labels: '", item,
                  "' is not an integer (expected e.g. 3 or 0,1,2)");
      list.push_back(v);
      DRIFT_CHECK(list.back() >= 0 && list.back() < classes, "--labels: label ", list.back(), " outside [0, ",
                  classes, ")");
    }
  }
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = list[static_cast<size_t>(i) % list.size()];
  return ops::from_vector(out, {n});
}

void add_sampler_options(CLI::App* cmd, SampleArgs& a, bool with_batch) {
  cmd->add_option("--checkpoint,-c", a.checkpoint, "checkpoint written by drift train")->required();
  cmd->add_option("--sampler", a.sampler, "ddpm, ddim, dpm (DPM-Solver++ 2M), sde, ode or pc")->capture_default_str();
  // Numbers are checked here, so that `--n -1` or `--seed -1` is an error naming the flag.
  cmd->add_option("--steps", a.steps, "sampler steps (ddpm always uses all T)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--eta", a.eta, "DDIM noise: 0 deterministic, 1 DDPM-like")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--spacing", a.spacing, "time grid: leading, linspace, trailing or logsnr")->capture_default_str();
  cmd->add_option("--solver", a.solver, "ODE solver for --sampler ode: euler, heun, rk4 or rk45")
      ->capture_default_str();
  cmd->add_option("--guidance", a.guidance, "classifier-free guidance scale (1: plain conditional)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_option("--labels", a.labels, "class labels, e.g. 3 or 0,1,2 (cycled over the batch)");
  cmd->add_option("--seed", a.seed, "noise seed")->capture_default_str()->check(CLI::NonNegativeNumber);
  if (with_batch)
    cmd->add_option("--n", a.n, "number of images")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--device", a.device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--precision", a.precision, "fp32, bf16 or fp16: the U-Net's GEMMs and convolutions in 16 bits")
      ->capture_default_str();
  cmd->add_flag("--no-ema", a.no_ema, "use the raw weights instead of their moving average");
  cmd->add_flag("--quiet", a.quiet, "no progress bar");
}

}  // namespace drift::cli
