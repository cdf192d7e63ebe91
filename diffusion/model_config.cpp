#include "diffusion/model_config.h"

#include <charconv>

#include "nn/json_bounded.h"
#include "nn/safetensors.h"

namespace drift::diffusion {

void ModelConfig::validate() const {
  config::check(*this, "ModelConfig");
  unet.validate();
}

std::string ModelConfig::to_json() const { return config::to_json(*this).dump(2); }

ModelConfig ModelConfig::from_json(const std::string& text, const std::string& origin, bool ignore_unknown) {
  ModelConfig c;
  config::apply_json(c, nn::parse_json_bounded<config::Json>(text, origin), {origin, ignore_unknown});
  return c;
}

LoadedModel::LoadedModel(ModelConfig cfg, std::unique_ptr<nn::UNet> unet)
    : config(std::move(cfg)), net(std::move(unet)), schedule(config.make_schedule()),
      denoiser(*net, config.prediction) {}

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
