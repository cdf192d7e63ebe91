#pragma once
// What a trained model is: the U-Net's shape, the noise schedule it was
// trained on and what it predicts. `drift train` writes these keys (with its
// own training keys beside them) into every checkpoint's "config" metadata,
// so a checkpoint is self-describing: load_model() rebuilds the model from
// the file alone, ready to sample.
//
//   diffusion::LoadedModel m = diffusion::load_model("runs/mnist/checkpoint.safetensors");
//   Generator gen(0);
//   SampleResult r = sample("ddim", m.denoiser, m.process, m.sample_shape(16), gen, {});  // r.x in [-1, 1]
// (m.process is the model's formulation: a DiscreteSchedule, EdmProcess or FlowProcess.)
#include <cstdint>
#include <memory>
#include <string>

#include "diffusion/prediction.h"
#include "diffusion/schedule.h"
#include "diffusion/sigma_process.h"
#include "diffusion/trainer.h"
#include "nn/config.h"
#include "nn/unet.h"

namespace drift::diffusion {

// The formulation a model is trained and sampled in (docs/DIFFUSION.md, sec. 8):
//   DDPM  the discrete VP schedule (schedule, timesteps): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,
//         integer t in [0, T) (Ho et al. 2020); DiscreteSchedule
//   EDM   x = x_0 + sigma eps, sigma in [sigma_min, sigma_max]; the U-Net F is preconditioned into the x_0
//         denoiser D = c_skip x + c_out F(c_in x, c_noise) (Karras et al. 2022); EdmProcess + EdmDenoiser
//   Flow  x_t = (1 - t) x_0 + t eps, t in [0, 1]; the U-Net predicts the velocity eps - x_0 (rectified
//         flow, Liu et al. 2023; flow matching, Lipman et al. 2023); FlowProcess, Prediction::Flow
enum class ProcessKind { DDPM, EDM, Flow };
DRIFT_CONFIG_ENUM(ProcessKind, {ProcessKind::DDPM, "ddpm"}, {ProcessKind::EDM, "edm"}, {ProcessKind::Flow, "flow"})

// The model part of a run's configuration (a field table, nn/config.h). In
// JSON these keys sit at the top level beside the training keys; the U-Net's
// are a nested object "unet". A file without "process" (written before it
// existed) is a ddpm model.
#define DRIFT_MODEL_FIELDS(X)                                                                              \
  X(ProcessKind, process, ProcessKind::DDPM, config::any(),                                                \
    "formulation: ddpm (discrete VP schedule), edm (x0 + sigma eps, preconditioned; Karras et al. 2022) "  \
    "or flow (x_t = (1 - t) x0 + t eps, velocity; rectified flow)")                                         \
  X(BetaSchedule, schedule, BetaSchedule::Linear, config::any(), "ddpm: beta schedule")                    \
  X(int64_t, timesteps, 1000, config::in(2, 100000), "ddpm: diffusion steps T of the discrete schedule")   \
  X(bool, zero_terminal_snr, false, config::any(),                                                         \
    "ddpm: rescale the schedule to zero terminal SNR (Lin et al. 2024; prediction v or x0)")               \
  X(Prediction, prediction, Prediction::Eps, config::any(),                                                \
    "what the network predicts: eps, x0, v or flow (edm: x0, through the preconditioning; flow: flow)")     \
  X(double, sigma_min, 0.002, config::in(1e-6, 1e3), "edm: smallest noise level")                          \
  X(double, sigma_max, 80.0, config::in(1e-3, 1e6), "edm: largest noise level (the prior's std)")          \
  X(double, sigma_data, 0.5, config::in(1e-6, 1e6),                                                        \
    "edm: data standard deviation (the preconditioning and the edm loss weighting)")                       \
  X(nn::UNetConfig, unet, {}, config::any(), "the U-Net")

struct ModelConfig {
  DRIFT_CONFIG_FIELDS(DRIFT_MODEL_FIELDS)

  // The limits of every field, that prediction fits the process, and the
  // U-Net's own checks (nn::UNetConfig::validate).
  void validate() const;
  // The ddpm schedule (rescaled to zero terminal SNR when asked).
  DiscreteSchedule make_schedule() const;
  // The process of `process`: DiscreteSchedule, EdmProcess or FlowProcess.
  std::unique_ptr<Process> make_process() const;
  // What the U-Net's time embedding sees is time * time_scale: integer steps
  // (ddpm: 1), EDM's c_noise = ln(sigma) / 4 (edm: 250), t in [0, 1] (flow: 1000).
  double time_scale() const;

  std::string to_json() const;  // pretty-printed
  // Reads the keys of a JSON object; `origin` names the text in messages.
  // ignore_unknown: skip keys that are not model keys (a checkpoint's config
  // also holds the training keys of the program that wrote it).
  static ModelConfig from_json(const std::string& text, const std::string& origin, bool ignore_unknown = false);
};

// A U-Net in its formulation: the process, the U-Net's output as a Denoiser
// (its time scaled by time_scale()) and, for edm, the preconditioning around
// it. denoiser() is what training and sampling call. The parts refer to each
// other and to the U-Net: not copied or moved (hold it in a unique_ptr).
struct Formulation {
  Formulation(const ModelConfig& config, nn::UNet& net);
  Formulation(const Formulation&) = delete;
  Formulation& operator=(const Formulation&) = delete;

  std::unique_ptr<Process> process;
  UNetDenoiser network;               // F: the U-Net's own output
  std::unique_ptr<EdmDenoiser> edm;   // edm: D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)
  Denoiser& denoiser() { return edm ? static_cast<Denoiser&>(*edm) : network; }
};

// A trained model, ready to sample: the U-Net (with the EMA weights when the
// file has them and they were asked for), its process and the Denoiser that
// predicts config.prediction.
struct LoadedModel {
  LoadedModel(ModelConfig cfg, std::unique_ptr<nn::UNet> unet);
  LoadedModel(LoadedModel&&) = default;

  ModelConfig config;
  std::unique_ptr<nn::UNet> net;
  std::unique_ptr<Formulation> formulation;
  const Process& process;    // DiscreteSchedule (ddpm), EdmProcess or FlowProcess
  Denoiser& denoiser;        // what samplers call (for edm: the preconditioned U-Net)
  UNetDenoiser& network;     // the U-Net's own output (set its precision here)
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
