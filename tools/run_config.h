#pragma once
// The configuration of a `drift train` run: data set, model, noise schedule,
// optimizer settings and the bookkeeping of the loop. The defaults, changed by
// a preset, then by a JSON file (--config), then by command-line flags. The final configuration is saved as JSON in the run folder
// and inside every checkpoint, so `drift sample` and `--resume` rebuild the
// same model without being told.
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "diffusion/model_config.h"
#include "diffusion/trainer.h"
#include "nn/config.h"

namespace drift {
DRIFT_CONFIG_ENUM(Device, {Device::CPU, "cpu"}, {Device::CUDA, "cuda"}, {Device::CUDA, "gpu"})
}

namespace drift::cli {

enum class DataKind { MNIST, FashionMNIST, CIFAR10, ImageFolder };
DRIFT_CONFIG_ENUM(DataKind, {DataKind::MNIST, "mnist"}, {DataKind::FashionMNIST, "fashion-mnist"},
                  {DataKind::CIFAR10, "cifar10"}, {DataKind::ImageFolder, "folder"},
                  {DataKind::FashionMNIST, "fashion_mnist"}, {DataKind::FashionMNIST, "fmnist"},
                  {DataKind::CIFAR10, "cifar-10"}, {DataKind::CIFAR10, "cifar"}, {DataKind::ImageFolder, "image-folder"})

// The whole configuration, one line per field (nn/config.h): the JSON key,
// the flag (--key, '_' -> '-'), the default, the limits and the help text of
// `drift train --help` and of the table in docs/CLI.md all come from here.
// The model part (diffusion::ModelConfig: schedule, timesteps, prediction,
// unet.*) and the optimisation part (diffusion::TrainerConfig: lr, warm-up,
// EMA, ...) are the library's own tables, with their keys at the top level.
// To add a setting: one X(...) line here or in the library table it belongs to.
#define DRIFT_TRAIN_FIELDS(X)                                                                                     \
  X(DataKind, data, DataKind::MNIST, config::any(), "data set")                                                    \
  X(std::string, data_path, "", config::any(), "data folder or archive (empty: the data set's usual place)")        \
  X(bool, random_flip, false, config::any(), "random horizontal flips of the training images")                   \
  X(int64_t, max_images, 0, config::in(0, 1e12), "train on the first N images only (0: all)")                     \
  X(bool, class_conditional, false, config::any(), "condition on the class labels (enables guidance)")           \
  X(diffusion::ModelConfig, model, {}, config::flat(), "the model")                                               \
  X(diffusion::TrainerConfig, optim, {}, config::flat(), "the optimisation")                                      \
  X(int64_t, batch_size, 128, config::in(1, 65536), "minibatch size")                                            \
  X(int64_t, steps, 20000, config::in(1, 1e12), "training steps")                                                \
  X(uint64_t, seed, 0, config::any(), "seed of the initialisation, the data order and the noise")                \
  X(int64_t, log_every, 50, config::in(1, 1e12), "steps between loss-log flushes and loss-plot refreshes")       \
  X(int64_t, sample_every, 1000, config::in(0, 1e12), "steps between sample grids (0: never)")                   \
  X(int64_t, checkpoint_every, 1000, config::in(0, 1e12), "steps between checkpoints (0: only at the end)")      \
  X(int64_t, sample_count, 16, config::in(1, 4096), "images in each sample grid")                                \
  X(int64_t, sample_steps, 50, config::in(1, 100000), "steps of the sample grids (ddim, heun or flow-heun)")     \
  X(Device, device, Device::CPU, config::any(), "where to train")

struct TrainConfig {
  // The preset the run started from (not a field: `preset` in a JSON file is
  // applied first, and --preset is read before the other flags).
  std::string preset = "mnist";
  DRIFT_CONFIG_FIELDS(DRIFT_TRAIN_FIELDS)

  // The defaults with a preset's changes applied (see train_presets()).
  static TrainConfig preset_config(const std::string& name);
  // Overrides the fields present in a JSON object (unknown keys are an
  // error); a "preset" key resets to that preset first.
  void apply_json(const std::string& json_text, const std::string& origin);
  std::string to_json() const;  // every field, pretty-printed
  static TrainConfig from_json(const std::string& json_text, const std::string& origin);
  void validate() const;  // limits of every field and the U-Net's checks
};

// A preset: a name, what it is for, and its changes from the defaults as JSON.
struct TrainPreset {
  const char* name;
  const char* summary;
  const char* changes;
};
const std::vector<TrainPreset>& train_presets();

// The markdown of docs/CLI.md's preset and settings tables (`drift train --config-markdown`).
std::string config_markdown();

inline const char* data_kind_name(DataKind k) { return config::enum_name(k); }

// The default location of each data set: the per-user data folder
// (data/download.h: find_dataset); throws saying how to get a missing one.
std::string default_data_path(DataKind k);
// Loads the configured training (or test) data.
Dataset load_dataset(DataKind kind, const std::string& path, Split split);

inline Device parse_device(const std::string& s, const std::string& where = "--device") {
  return config::parse_enum<Device>(s, where);
}

}  // namespace drift::cli
