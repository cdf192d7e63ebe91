#pragma once
// What a trained model is: the U-Net's shape, the noise schedule it was
// trained on and what it predicts. `drift train` writes these keys (with its
// own training keys beside them) into every checkpoint's "config" metadata,
// so a checkpoint is self-describing: load_model() rebuilds the model from
// the file alone, ready to sample.
//
//   diffusion::LoadedModel m = diffusion::load_model("runs/mnist/checkpoint.safetensors");
//   Generator gen(0);
//   SampleResult r = ddim_sample(m.denoiser, m.schedule, m.sample_shape(16), gen);  // r.x in [-1, 1]
#include <cstdint>
#include <memory>
#include <string>

#include "diffusion/prediction.h"
#include "diffusion/schedule.h"
#include "diffusion/trainer.h"
#include "nn/config.h"
#include "nn/unet.h"

namespace drift::diffusion {

// The model part of a run's configuration (a field table, nn/config.h). In
// JSON these keys sit at the top level beside the training keys; the U-Net's
// are a nested object "unet".
#define DRIFT_MODEL_FIELDS(X)                                                                      \
  X(BetaSchedule, schedule, BetaSchedule::Linear, config::any(), "beta schedule")                  \
  X(int64_t, timesteps, 1000, config::in(2, 100000), "diffusion steps T of the discrete schedule") \
  X(Prediction, prediction, Prediction::Eps, config::any(), "what the network predicts")           \
  X(nn::UNetConfig, unet, {}, config::any(), "the U-Net")

struct ModelConfig {
  DRIFT_CONFIG_FIELDS(DRIFT_MODEL_FIELDS)

  // The limits of every field and the U-Net's own checks (nn::UNetConfig::validate).
  void validate() const;
  DiscreteSchedule make_schedule() const { return DiscreteSchedule::make(schedule, timesteps); }

  std::string to_json() const;  // pretty-printed
  // Reads the keys of a JSON object; `origin` names the text in messages.
  // ignore_unknown: skip keys that are not model keys (a checkpoint's config
  // also holds the training keys of the program that wrote it).
  static ModelConfig from_json(const std::string& text, const std::string& origin, bool ignore_unknown = false);
};

// A trained model, ready to sample: the U-Net (with the EMA weights when the
// file has them and they were asked for), its schedule, and the U-Net as a
// Denoiser that predicts config.prediction.
struct LoadedModel {
  LoadedModel(ModelConfig cfg, std::unique_ptr<nn::UNet> unet);
  LoadedModel(LoadedModel&&) = default;

  ModelConfig config;
  std::unique_ptr<nn::UNet> net;
  DiscreteSchedule schedule;
  UNetDenoiser denoiser;     // over *net
  int64_t step = 0;          // training steps done when the file was written
  bool ema = false;          // whether the EMA weights were loaded
  std::string config_json;   // the file's whole "config" metadata, verbatim

  // [n, channels, size, size]: the shape of n samples.
  Shape sample_shape(int64_t n) const;
  bool class_conditional() const { return config.unet.num_classes > 0; }
};

// Loads a checkpoint (or model file) written by `drift train` or
// nn::save_checkpoint with a ModelConfig in its "config" metadata. The whole
// config is checked (types, limits, the U-Net's size) before the U-Net is
// built; weights that do not fit the U-Net the config describes are an error
// naming the file and the config. use_ema: the "ema.*" weights when present,
// else "model.*". The model is in eval mode, on the CPU.
LoadedModel load_model(const std::string& path, bool use_ema = true);

}  // namespace drift::diffusion
