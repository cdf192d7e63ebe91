#include "tools/sample_args.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <sstream>

namespace drift::cli {

SamplerSettings SampleArgs::settings(const diffusion::Process& process) const {
  SamplerSettings s;
  s.solver = parse_solver(solver);
  s.name = sampler.empty() ? default_sampler(process) : resolve_sampler(sampler, s.solver);
  s.steps = steps;
  s.eta = eta;
  s.spacing = parse_spacing(spacing);
  // Clipping x0 makes the velocity / score non-smooth (for flow, eps = (x - alpha x0) / t
  // grows like 1/t near t = 0 where x0 is clipped), which an adaptive solver cannot step over.
  const bool adaptive = diffusion::find_sampler(s.name).adaptive;
  s.x0_clip.mode = clip.empty() ? (adaptive ? diffusion::X0ClipMode::None : diffusion::X0ClipMode::Clip)
                                : parse_x0_clip(clip);
  DRIFT_CHECK(steps > 0, "--steps must be positive, got ", steps);
  DRIFT_CHECK(sigma_max == 0 || sigma_max > sigma_min, "--sigma-max ", sigma_max, " must be above --sigma-min ",
              sigma_min);
  s.sigma_min = sigma_min;
  s.sigma_max = sigma_max;
  s.rho = rho;
  s.s_churn = s_churn;
  check_settings_fit(s, process);
  return s;
}

Device SampleArgs::to_device(LoadedModel& m) const {
  const Device d = parse_device(device, "--device");
  m.net->to(d);
  m.network.precision = config::parse_enum<nn::Precision>(precision, "--precision");
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
  cmd->add_option("--sampler", a.sampler,
                  "one of the registry's samplers: " + sampler_names() +
                      " (older names: dpm = dpm++2m, euler-maruyama = sde, pf-ode = ode). Default: the model's "
                      "process's: ddim for ddpm, heun (Karras sigmas) for edm, flow-heun for flow")
      ->type_name("NAME");
  // Numbers are checked here, so that `--n -1` or `--seed -1` is an error naming the flag.
  cmd->add_option("--steps", a.steps, "sampler steps (ddpm always uses all T)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--eta", a.eta, "DDIM noise: 0 deterministic, 1 DDPM-like")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--spacing", a.spacing, "time grid of ddim and dpm++2m: leading, linspace, trailing, logsnr or karras")
      ->capture_default_str();
  cmd->add_option("--clip", a.clip,
                  "x0 estimates of every step: clip (to the pixel range [-1, 1]; the default, but for the adaptive "
                  "ode-rk45 and flow-rk45: none), dynamic (Imagen's thresholding, for strong guidance) or none")
      ->type_name("MODE");
  cmd->add_option("--sigma-min", a.sigma_min, "Karras sigmas: smallest noise level (0: the model's own)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--sigma-max", a.sigma_max, "Karras sigmas: largest noise level (0: the model's own)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--rho", a.rho, "Karras sigmas: rho (EDM eq. 5)")->capture_default_str()->check(CLI::Range(0.1, 100.0));
  cmd->add_option("--s-churn", a.s_churn,
                  "heun: EDM's stochastic sampler, noise added per step S_churn (0: deterministic; Karras et al. "
                  "2022, alg. 2)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--solver", a.solver, "ODE solver for --sampler ode: euler, heun, rk4 or rk45 (= ode-rk45)")
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
