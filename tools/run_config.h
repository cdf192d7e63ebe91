#pragma once
// The configuration of a `drift train` run: data set, model, noise schedule,
// optimizer settings and the bookkeeping of the loop. A preset gives every field a
// value; a JSON file (--config) overrides any subset; command-line flags
// override both. The final configuration is saved as JSON in the run folder
// and inside every checkpoint, so `drift sample` and `--resume` rebuild the
// same model without being told.
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "diffusion/prediction.h"
#include "diffusion/schedule.h"
#include "diffusion/trainer.h"
#include "nn/unet.h"

namespace drift::cli {

enum class DataKind { MNIST, FashionMNIST, CIFAR10, ImageFolder };

struct TrainConfig {
  std::string preset = "mnist";

  // data
  DataKind data = DataKind::MNIST;
  std::string data_path;        // folder or archive; empty = the data set's default location
  bool random_flip = false;     // horizontal flips (CIFAR-10)
  int64_t max_images = 0;       // 0 = all; else train on the first n images

  // model + diffusion
  nn::UNetConfig unet;
  bool class_conditional = false;  // labels in, classifier-free guidance out
  double label_dropout = 0.1;      // p(label -> null) while training (CFG)
  diffusion::BetaSchedule schedule = diffusion::BetaSchedule::Linear;
  int64_t timesteps = 1000;
  diffusion::Prediction prediction = diffusion::Prediction::Eps;

  // optimisation (diffusion::Trainer: AdamW, warm-up, decay, clipping, EMA)
  diffusion::LossWeighting loss_weighting = diffusion::LossWeighting::Simple;
  double min_snr_gamma = 5.0;
  double lr = 2e-4;
  double weight_decay = 0.0;
  int64_t warmup_steps = 0;
  std::string lr_decay = "constant";  // constant, linear, cosine
  double grad_clip = 1.0;             // 0 = off
  double ema_decay = 0.999;
  int64_t batch_size = 128;
  int64_t steps = 20000;
  uint64_t seed = 0;

  // bookkeeping
  int64_t log_every = 50;            // CSV row + plot refresh
  int64_t sample_every = 1000;       // sample grid (0 = never)
  int64_t checkpoint_every = 1000;   // checkpoint (0 = only at the end)
  int64_t sample_count = 16;         // images in the periodic grid
  int64_t sample_steps = 50;         // DDIM steps for the periodic grid
  std::string device = "cpu";

  // The preset's values: "mnist", "fashion-mnist", "cifar10", "demo" or "tiny" (a
  // seconds-long smoke test on MNIST-sized data).
  static TrainConfig preset_config(const std::string& name);
  // Overrides the fields present in a JSON object (unknown keys are an error).
  void apply_json(const std::string& json_text, const std::string& origin);
  std::string to_json() const;  // every field, pretty-printed
  static TrainConfig from_json(const std::string& json_text, const std::string& origin);
  void validate() const;
};

const char* data_kind_name(DataKind k);
diffusion::LossWeighting parse_weighting(const std::string& s);
const char* weighting_name(diffusion::LossWeighting w);
DataKind parse_data_kind(const std::string& s);
diffusion::Prediction parse_prediction(const std::string& s);
diffusion::BetaSchedule parse_schedule(const std::string& s);
const char* schedule_name(diffusion::BetaSchedule s);

// The default location of each data set.
std::string default_data_path(DataKind k);
// Loads the configured training (or test) data.
Dataset load_dataset(DataKind kind, const std::string& path, Split split);

// The discrete schedule a run trains with.
diffusion::DiscreteSchedule make_schedule(const TrainConfig& cfg);

Device parse_device(const std::string& s);

}  // namespace drift::cli
