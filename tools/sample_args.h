#pragma once
// Options shared by the sampling subcommands (sample, img2img, inpaint, eval):
// which checkpoint, which sampler with which settings, labels and guidance.
#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tools/sampling.h"

namespace drift::cli {

struct SampleArgs {
  std::string checkpoint;
  std::string sampler;  // empty: the default of the model's process (default_sampler)
  int64_t steps = 50;
  double eta = 0.0;
  std::string spacing = "trailing";
  std::string solver = "heun";
  // x0 estimates: none, clip (to [-1, 1]) or dynamic (Imagen); empty: clip, but
  // none for the adaptive samplers (their error control needs a smooth field).
  std::string clip;
  double sigma_min = 0, sigma_max = 0, rho = 7.0;  // Karras sigmas; 0: the process's range
  double s_churn = 0;                               // heun: S_churn
  double guidance = 1.0;
  std::string labels;  // "3" or "0,1,2" (cycled over the batch); empty: i % classes for conditional models
  uint64_t seed = 0;
  int64_t n = 16;
  bool no_ema = false;
  bool quiet = false;  // no progress bar
  std::string device = "cpu";  // where the model runs and the samples live
  std::string precision = "fp32";  // fp32, bf16 or fp16 (nn/autocast.h)

  // The settings for a model on `process` (the default sampler is the process's).
  SamplerSettings settings(const diffusion::Process& process) const;
  // Labels for a batch of n, or an undefined tensor (unconditional model).
  Tensor label_tensor(const LoadedModel& m, int64_t n) const;
  // Moves the model to --device, sets --precision, and returns the device.
  Device to_device(LoadedModel& m) const;
};

// Registers --checkpoint, --sampler, --steps, ... on `cmd`.
void add_sampler_options(CLI::App* cmd, SampleArgs& a, bool with_batch = true);

}  // namespace drift::cli
