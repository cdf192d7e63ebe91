#include "tools/run_config.h"

#include "data/cifar.h"
#include "data/download.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "nn/json_bounded.h"

namespace drift::cli {

std::string default_data_path(DataKind k) {
  // The per-user data folder (drift data get NAME), else a hint how to fill it.
  switch (k) {
    case DataKind::MNIST: return find_dataset("mnist");
    case DataKind::FashionMNIST: return find_dataset("fashion-mnist");
    case DataKind::CIFAR10: return find_dataset("cifar10");
    case DataKind::ImageFolder: return "";
  }
  return "";
}

Dataset load_dataset(DataKind kind, const std::string& path_in, Split split) {
  const std::string path = path_in.empty() ? default_data_path(kind) : path_in;
  switch (kind) {
    case DataKind::MNIST:
    case DataKind::FashionMNIST: return load_mnist(path, split);
    case DataKind::CIFAR10: return load_cifar10(path, split);
    case DataKind::ImageFolder:
      DRIFT_CHECK(!path.empty(), "data set 'folder' needs a path (--data DIR with one sub-folder per class)");
      return load_image_folder(path);
  }
  throw Error("load_dataset: unknown data kind");
}

// The presets: changes from the defaults (the defaults are the `mnist` run).
// A preset may start from another one with "preset".
const std::vector<TrainPreset>& train_presets() {
  static const std::vector<TrainPreset> presets = {
      {"mnist", "MNIST, the reference U-Net (1.6M parameters; `UNetConfig::mnist()`)", "{}"},
      // The same U-Net and budget in the other two formulations (diffusion/model_config.h: ProcessKind).
      {"mnist-edm", "as `mnist`, trained and sampled as EDM (preconditioning, log-normal sigmas, EDM loss weights; "
       "Heun on Karras sigmas)",
       R"({"process": "edm", "prediction": "x0", "time_sampling": "log-normal", "loss_weighting": "edm"})"},
      {"mnist-flow", "as `mnist`, trained and sampled as flow matching (velocity, logit-normal times; flow Heun)",
       R"({"process": "flow", "prediction": "flow", "time_sampling": "logit-normal"})"},
      {"fashion-mnist", "Fashion-MNIST, as `mnist`", R"({"data": "fashion-mnist"})"},
      {"cifar10", "CIFAR-10, the reference U-Net for 32x32 RGB (9.0M parameters; `UNetConfig::cifar()`)",
       R"({"data": "cifar10", "random_flip": true, "steps": 200000, "warmup_steps": 5000, "ema_decay": 0.9999,
           "sample_every": 5000, "checkpoint_every": 5000,
           "unet": {"in_channels": 3, "image_size": 32, "base_channels": 64, "channel_mult": [1, 2, 2, 2],
                    "attention_resolutions": [16], "groups": 32}})"},
      // Sized for a 2-core CPU: under an hour of training each, guided samples
      // that the eval classifier recognises (README.md, "Results on a 2-core CPU").
      {"mnist-cpu", "class-conditional MNIST with a small U-Net, under an hour on a 2-core CPU",
       R"({"class_conditional": true, "batch_size": 64, "steps": 4000, "lr": 1e-3, "lr_decay": "cosine",
           "warmup_steps": 200, "sample_every": 2000, "checkpoint_every": 500, "sample_count": 100,
           "unet": {"base_channels": 32, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [],
                    "groups": 8, "dropout": 0}})"},
      {"fashion-mnist-cpu", "as `mnist-cpu` on Fashion-MNIST", R"({"preset": "mnist-cpu", "data": "fashion-mnist"})"},
      {"mnist-cpu-edm", "as `mnist-cpu` (U-Net, budget), as EDM like `mnist-edm`",
       R"({"preset": "mnist-cpu", "process": "edm", "prediction": "x0", "time_sampling": "log-normal",
           "loss_weighting": "edm"})"},
      {"mnist-cpu-flow", "as `mnist-cpu` (U-Net, budget), as flow matching like `mnist-flow`",
       R"({"preset": "mnist-cpu", "process": "flow", "prediction": "flow", "time_sampling": "logit-normal"})"},
      // The README's main job: recognisable samples in a few minutes on a 2-core CPU.
      {"demo", "Fashion-MNIST with a small U-Net, a few minutes on a 2-core CPU",
       R"({"data": "fashion-mnist", "batch_size": 32, "steps": 800, "lr": 1e-3, "warmup_steps": 100,
           "ema_decay": 0.995, "log_every": 25, "sample_every": 200, "checkpoint_every": 200, "sample_count": 64,
           "unet": {"base_channels": 32, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [],
                    "groups": 8, "dropout": 0}})"},
      {"tiny", "a smoke test: a tiny U-Net on the first 2,048 MNIST images, seconds per step",
       R"({"max_images": 2048, "batch_size": 16, "steps": 100, "lr": 1e-3, "warmup_steps": 0, "ema_decay": 0.99,
           "log_every": 10, "sample_every": 50, "checkpoint_every": 50, "sample_count": 8, "sample_steps": 10,
           "unet": {"base_channels": 16, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [],
                    "groups": 4, "dropout": 0}})"},
  };
  return presets;
}

TrainConfig TrainConfig::preset_config(const std::string& name) {
  std::string names;
  for (const TrainPreset& p : train_presets()) {
    if (name == p.name) {
      TrainConfig c;
      c.apply_json(p.changes, str("preset '", name, "'"));
      c.preset = name;
      return c;
    }
    names += str(names.empty() ? "" : ", ", p.name);
  }
  throw Error(str("unknown preset '", name, "' (expected one of ", names, ")"));
}

std::string TrainConfig::to_json() const {
  config::Json j = config::Json::object();
  j["preset"] = preset;
  const config::Json fields = config::to_json(*this);
  for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
  return j.dump(2);
}

void TrainConfig::apply_json(const std::string& text, const std::string& origin) {
  const std::string where = origin.rfind("preset ", 0) == 0 ? origin : "config '" + origin + "'";
  config::Json j = nn::parse_json_bounded<config::Json>(text, where);
  DRIFT_CHECK(j.is_object(), where, ": expected a JSON object, got ", config::describe(j));
  // A preset named in the file is applied first; the other keys override it.
  if (j.contains("preset")) {
    DRIFT_CHECK(j["preset"].is_string(), where, ": key 'preset': expected text, got ", config::describe(j["preset"]));
    *this = preset_config(j["preset"].get<std::string>());
    j.erase("preset");
  }
  config::apply_json(*this, j, {where});
}

TrainConfig TrainConfig::from_json(const std::string& text, const std::string& origin) {
  TrainConfig c;
  c.apply_json(text, origin);
  return c;
}

void TrainConfig::validate() const {
  config::check(*this, "config");
  model.validate();
  DRIFT_CHECK(model.process != diffusion::ProcessKind::DDPM || optim.time_sampling == diffusion::TimeSampling::Uniform,
              "key 'time_sampling': ", config::enum_name(optim.time_sampling),
              " times need a continuous-time process (edm or flow), but process is ddpm (integer steps: uniform)");
}

namespace {

// One markdown table cell: no '|' or line breaks inside.
std::string cell(std::string s) {
  for (char& ch : s)
    if (ch == '|' || ch == '\n') ch = ' ';
  return s;
}

}  // namespace

std::string config_markdown() {
  std::string md;
  md += "| preset | what | changes from the defaults |\n| --- | --- | --- |\n";
  for (const TrainPreset& p : train_presets()) {
    config::Json delta = nn::parse_json_bounded<config::Json>(p.changes, p.name);
    md += str("| `", p.name, "` | ", cell(p.summary), " | `", cell(delta.dump()), "` |\n");
  }
  md += "\n| key (JSON) | flag | type | default | meaning |\n| --- | --- | --- | --- | --- |\n";
  const TrainConfig defaults;
  config::for_each_leaf(defaults, [&](const std::string& path, const config::Field& f, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    const std::string def = config::value_json(value).dump();
    md += str("| `", path, "` | `", config::flag_name(path), "` | ", cell(config::type_text<T>(f.limits)), " | `",
              cell(def), "` | ", cell(f.help), " |\n");
  });
  return md;
}

}  // namespace drift::cli
