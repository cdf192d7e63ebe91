#include "diffusion/model_config.h"

#include <charconv>

#include "nn/json_bounded.h"
#include "nn/safetensors.h"

namespace drift::diffusion {

void ModelConfig::validate() const {
  config::check(*this, "ModelConfig");
  const char* kind = config::enum_name(process);
  if (process == ProcessKind::EDM)
    DRIFT_CHECK(prediction == Prediction::X0, "key 'prediction': process edm predicts x0 (the preconditioned "
                "denoiser D), got '", prediction_name(prediction), "'; set prediction to x0");
  if (process == ProcessKind::Flow)
    DRIFT_CHECK(prediction == Prediction::Flow, "key 'prediction': process flow predicts the velocity, got '",
                prediction_name(prediction), "'; set prediction to flow");
  if (zero_terminal_snr) {
    DRIFT_CHECK(process == ProcessKind::DDPM, "key 'zero_terminal_snr': rescales a ddpm schedule, but process is ",
                kind);
    // At T-1 alpha = 0: x_t is pure noise and eps carries nothing about x0 (Lin et al. 2024, sec. 3.2).
    DRIFT_CHECK(prediction == Prediction::V || prediction == Prediction::X0, "key 'zero_terminal_snr': needs "
                "prediction v or x0 (at the last step alpha = 0, where x0 cannot be had from eps), got '",
                prediction_name(prediction), "'");
  }
  DRIFT_CHECK(sigma_max > sigma_min, "keys 'sigma_min', 'sigma_max': expected sigma_min < sigma_max, got ", sigma_min,
              " and ", sigma_max, " (process ", kind, ")");
  unet.validate();
}

DiscreteSchedule ModelConfig::make_schedule() const {
  DiscreteSchedule s = DiscreteSchedule::make(schedule, timesteps);
  return zero_terminal_snr ? s.rescaled_zero_terminal_snr() : s;
}

std::unique_ptr<Process> ModelConfig::make_process() const {
  switch (process) {
    case ProcessKind::DDPM: return std::make_unique<DiscreteSchedule>(make_schedule());
    case ProcessKind::EDM: return std::make_unique<EdmProcess>(sigma_min, sigma_max, sigma_data);
    case ProcessKind::Flow: return std::make_unique<FlowProcess>();
  }
  throw Error("ModelConfig: unknown process");
}

double ModelConfig::time_scale() const {
  switch (process) {
    case ProcessKind::DDPM: return 1.0;    // integer steps 0..T-1
    case ProcessKind::EDM: return 250.0;   // c_noise = ln(sigma) / 4: about [-390, 275] for sigma in [0.002, 80]
    case ProcessKind::Flow: return 1000.0; // t in [0, 1]
  }
  return 1.0;
}

Formulation::Formulation(const ModelConfig& c, nn::UNet& net)
    : process(c.make_process()), network(net, c.prediction, c.time_scale()) {
  if (c.process == ProcessKind::EDM) edm = std::make_unique<EdmDenoiser>(network, *process, c.sigma_data);
}

std::string ModelConfig::to_json() const { return config::to_json(*this).dump(2); }

ModelConfig ModelConfig::from_json(const std::string& text, const std::string& origin, bool ignore_unknown) {
  ModelConfig c;
  config::apply_json(c, nn::parse_json_bounded<config::Json>(text, origin), {origin, ignore_unknown});
  return c;
}

LoadedModel::LoadedModel(ModelConfig cfg, std::unique_ptr<nn::UNet> unet)
    : config(std::move(cfg)), net(std::move(unet)), formulation(std::make_unique<Formulation>(config, *net)),
      process(*formulation->process), denoiser(formulation->denoiser()), network(formulation->network) {}

Shape LoadedModel::sample_shape(int64_t n) const {
  return {n, config.unet.in_channels, config.unet.image_size, config.unet.image_size};
}

namespace {

// A short description of the U-Net a config asks for, for mismatch messages.
std::string unet_summary(const nn::UNetConfig& u) {
  return config::Json{{"in_channels", u.in_channels},       {"image_size", u.image_size},
                      {"base_channels", u.base_channels},   {"channel_mult", u.channel_mult},
                      {"num_res_blocks", u.num_res_blocks}, {"attention_resolutions", u.attention_resolutions},
                      {"num_classes", u.num_classes}}
      .dump();
}

}  // namespace

LoadedModel load_model(const std::string& path, bool use_ema) {
  nn::SafetensorsContents file = nn::load_safetensors(path);
  auto it = file.metadata.find("config");
  DRIFT_CHECK(it != file.metadata.end(), "'", path,
              "' has no 'config' metadata: expected a checkpoint or model written by drift train");
  // 1. The config, checked whole before anything is built.
  const std::string origin = "'" + path + "' config";
  ModelConfig cfg = ModelConfig::from_json(it->second, origin, /*ignore_unknown=*/true);
  try {
    cfg.validate();
  } catch (const Error& e) {
    throw Error(str(origin, ": ", e.what()));
  }
  int64_t step = 0;
  auto st = file.metadata.find("step");
  if (st != file.metadata.end()) {
    const std::string& s = st->second;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
    DRIFT_CHECK(ec == std::errc() && end == s.data() + s.size() && step >= 0, "'", path,
                "': metadata 'step' is not a non-negative integer: '", s.substr(0, 40), "'");
  }

  // 2. The weights: "ema.*" or "model.*" of a checkpoint, or a plain state dict.
  bool has_ema = false, has_model = false;
  for (const auto& [name, t] : file.tensors) {
    has_ema |= name.rfind("ema.", 0) == 0;
    has_model |= name.rfind("model.", 0) == 0;
  }
  DRIFT_CHECK(use_ema || has_model || !has_ema, "'", path, "' holds only averaged weights (ema.*, e.g. a drift ema "
              "reconstruction), no raw ones (model.*): load it with its EMA weights (without --no-ema)");
  const std::string prefix = use_ema && has_ema ? "ema." : has_model ? "model." : "";
  nn::NamedTensors dict;
  for (const auto& [name, t] : file.tensors)
    if (name.rfind(prefix, 0) == 0) dict.emplace_back(name.substr(prefix.size()), t);

  auto net = std::make_unique<nn::UNet>(cfg.unet);
  try {
    net->load_state_dict(dict, true);
  } catch (const Error& e) {
    throw Error(str("'", path, "': the weights do not fit the U-Net that its config describes (", unet_summary(cfg.unet),
                    "); was the config edited, or written for other weights? ", e.what()));
  }
  net->eval();
  LoadedModel m(std::move(cfg), std::move(net));
  m.step = step;
  m.ema = prefix == "ema.";
  m.config_json = it->second;
  return m;
}

}  // namespace drift::diffusion
