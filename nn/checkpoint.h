#pragma once
// Training checkpoints: everything a run needs to continue exactly where it
// stopped, in one safetensors file:
//   tensors   "model.<param>", "ema.<param>", "optim.<param>.<slot>",
//             "phema<i>.<param>" (the post-hoc EMA's tracked profiles, nn/posthoc_ema.h)
//   metadata  format, step, config (JSON), optimizer (JSON), phema<i>.sigma_rel,
//             grad_scaler.scale / .good_steps / .skipped_steps (fp16 loss scaling, nn/autocast.h),
//             rng.<name> = "<seed> <offset>" for every generator: the model's
//             own (dropout) and the ones the caller lists (noise, data order)
// Loading validates the whole file against the model, optimizer, EMA and
// generators before changing any of them.
#include <string>
#include <utility>
#include <vector>

#include "nn/autocast.h"
#include "nn/optim.h"
#include "nn/posthoc_ema.h"
#include "nn/safetensors.h"

namespace drift::nn {

struct TrainingState {
  Module* model = nullptr;         // required
  Optimizer* optimizer = nullptr;  // optional
  EMA* ema = nullptr;              // optional
  std::vector<PowerEma*> power_emas;  // optional: post-hoc EMA profiles, in order
  GradScaler* grad_scaler = nullptr;  // optional: fp16 dynamic loss scaling
  int64_t step = 0;                // training steps done
  // The run's random streams besides the model's own, by name.
  std::vector<std::pair<std::string, Generator*>> generators;
  std::string config_json = "{}";  // the run's configuration, kept verbatim
};

// Writes the state atomically (temporary file + rename).
void save_checkpoint(const std::string& path, const TrainingState& state);
// Restores model, optimizer, EMA, power EMAs, loss scaler, generators, step and config_json from the
// file; the pointers in `state` say what to restore into (the same set that
// was saved). Nothing changes if any part does not fit.
void load_checkpoint(const std::string& path, TrainingState& state);

}  // namespace drift::nn
