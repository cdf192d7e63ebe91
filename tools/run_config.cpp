#include "tools/run_config.h"

#include <nlohmann/json.hpp>

#include <set>

#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_folder.h"

namespace drift::cli {

using json = nlohmann::json;

const char* data_kind_name(DataKind k) {
  switch (k) {
    case DataKind::MNIST: return "mnist";
    case DataKind::FashionMNIST: return "fashion-mnist";
    case DataKind::CIFAR10: return "cifar10";
    case DataKind::ImageFolder: return "folder";
  }
  return "?";
}

DataKind parse_data_kind(const std::string& s) {
  if (s == "mnist") return DataKind::MNIST;
  if (s == "fashion-mnist" || s == "fashion_mnist" || s == "fmnist") return DataKind::FashionMNIST;
  if (s == "cifar10" || s == "cifar-10" || s == "cifar") return DataKind::CIFAR10;
  if (s == "folder" || s == "image-folder") return DataKind::ImageFolder;
  throw Error(str("unknown data set '", s, "' (expected mnist, fashion-mnist, cifar10 or folder)"));
}

diffusion::Prediction parse_prediction(const std::string& s) {
  if (s == "eps") return diffusion::Prediction::Eps;
  if (s == "x0") return diffusion::Prediction::X0;
  if (s == "v") return diffusion::Prediction::V;
  throw Error(str("unknown prediction target '", s, "' (expected eps, x0 or v)"));
}

diffusion::BetaSchedule parse_schedule(const std::string& s) {
  if (s == "linear") return diffusion::BetaSchedule::Linear;
  if (s == "cosine") return diffusion::BetaSchedule::Cosine;
  throw Error(str("unknown beta schedule '", s, "' (expected linear or cosine)"));
}

const char* schedule_name(diffusion::BetaSchedule s) {
  return s == diffusion::BetaSchedule::Linear ? "linear" : "cosine";
}

diffusion::LossWeighting parse_weighting(const std::string& s) {
  if (s == "simple") return diffusion::LossWeighting::Simple;
  if (s == "min-snr" || s == "min_snr") return diffusion::LossWeighting::MinSNR;
  throw Error(str("unknown loss weighting '", s, "' (expected simple or min-snr)"));
}

const char* weighting_name(diffusion::LossWeighting w) {
  return w == diffusion::LossWeighting::Simple ? "simple" : "min-snr";
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::CPU;
  if (s == "cuda" || s == "gpu") return Device::CUDA;
  throw Error(str("unknown device '", s, "' (expected cpu or cuda)"));
}

std::string default_data_path(DataKind k) {
  switch (k) {
    case DataKind::MNIST: return "/work/shared/data/mnist";
    case DataKind::FashionMNIST: return "/usr/share/datasets/fashion-mnist";
    case DataKind::CIFAR10: return "/work/shared/data/cifar-10-binary.tar.gz";
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

diffusion::DiscreteSchedule make_schedule(const TrainConfig& cfg) { return diffusion::DiscreteSchedule::make(cfg.schedule, cfg.timesteps); }

namespace {

// The small U-Net of the CPU presets: two levels (28x28, 14x14), one residual
// block per level, no attention, no dropout.
nn::UNetConfig small_mnist_unet(int64_t base_channels, int64_t groups) {
  nn::UNetConfig u = nn::UNetConfig::mnist();
  u.base_channels = base_channels;
  u.channel_mult = {1, 2};
  u.num_res_blocks = 1;
  u.attention_resolutions = {};
  u.groups = groups;
  u.dropout = 0.0;
  return u;
}

}  // namespace

TrainConfig TrainConfig::preset_config(const std::string& name) {
  TrainConfig c;
  c.preset = name;
  if (name == "mnist" || name == "fashion-mnist") {
    c.data = name == "mnist" ? DataKind::MNIST : DataKind::FashionMNIST;
    c.unet = nn::UNetConfig::mnist();
    c.batch_size = 128;
    c.steps = 20000;
    c.lr = 2e-4;
    c.warmup_steps = 500;
    c.ema_decay = 0.999;
  } else if (name == "cifar10") {
    c.data = DataKind::CIFAR10;
    c.unet = nn::UNetConfig::cifar();
    c.random_flip = true;
    c.batch_size = 128;
    c.steps = 200000;
    c.lr = 2e-4;
    c.warmup_steps = 5000;
    c.ema_decay = 0.9999;
    c.sample_every = 5000;
    c.checkpoint_every = 5000;
  } else if (name == "mnist-cpu" || name == "fashion-mnist-cpu") {
    // Class-conditional models sized for a 2-core CPU: under an hour of
    // training each, guided samples that the eval classifier recognises
    // (figures in README.md, "Results on a 2-core CPU").
    c.data = name == "mnist-cpu" ? DataKind::MNIST : DataKind::FashionMNIST;
    c.unet = small_mnist_unet(32, 8);
    c.class_conditional = true;
    c.label_dropout = 0.1;
    c.batch_size = 64;
    c.steps = 4000;
    c.lr = 1e-3;
    c.lr_decay = "cosine";
    c.warmup_steps = 200;
    c.ema_decay = 0.999;
    c.log_every = 50;
    c.sample_every = 2000;
    c.checkpoint_every = 500;
    c.sample_count = 100;
    c.sample_steps = 50;
  } else if (name == "demo") {
    // The README's main job: a small U-Net on Fashion-MNIST that gives
    // recognisable samples in a few minutes on a 2-core CPU.
    c.data = DataKind::FashionMNIST;
    c.unet = small_mnist_unet(32, 8);
    c.batch_size = 32;
    c.steps = 800;
    c.lr = 1e-3;
    c.warmup_steps = 100;
    c.ema_decay = 0.995;
    c.log_every = 25;
    c.sample_every = 200;
    c.checkpoint_every = 200;
    c.sample_count = 64;
    c.sample_steps = 50;
  } else if (name == "tiny") {
    // A smoke test: a small U-Net on the first images of MNIST, seconds per step.
    c.data = DataKind::MNIST;
    c.unet = small_mnist_unet(16, 4);
    c.batch_size = 16;
    c.steps = 100;
    c.lr = 1e-3;
    c.ema_decay = 0.99;
    c.log_every = 10;
    c.sample_every = 50;
    c.checkpoint_every = 50;
    c.sample_count = 8;
    c.sample_steps = 10;
    c.max_images = 2048;
  } else {
    throw Error(str("unknown preset '", name, "' (expected mnist, fashion-mnist, cifar10, mnist-cpu, fashion-mnist-cpu, demo or tiny)"));
  }
  return c;
}

std::string TrainConfig::to_json() const {
  json j;
  j["preset"] = preset;
  j["data"] = data_kind_name(data);
  j["data_path"] = data_path;
  j["random_flip"] = random_flip;
  j["max_images"] = max_images;
  j["unet"] = json::parse(unet.to_json());
  j["class_conditional"] = class_conditional;
  j["label_dropout"] = label_dropout;
  j["schedule"] = schedule_name(schedule);
  j["timesteps"] = timesteps;
  j["prediction"] = diffusion::prediction_name(prediction);
  j["loss_weighting"] = weighting_name(loss_weighting);
  j["min_snr_gamma"] = min_snr_gamma;
  j["lr"] = lr;
  j["weight_decay"] = weight_decay;
  j["warmup_steps"] = warmup_steps;
  j["lr_decay"] = lr_decay;
  j["grad_clip"] = grad_clip;
  j["ema_decay"] = ema_decay;
  j["batch_size"] = batch_size;
  j["steps"] = steps;
  j["seed"] = seed;
  j["log_every"] = log_every;
  j["sample_every"] = sample_every;
  j["checkpoint_every"] = checkpoint_every;
  j["sample_count"] = sample_count;
  j["sample_steps"] = sample_steps;
  j["device"] = device;
  return j.dump(2);
}

void TrainConfig::apply_json(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    throw Error(str("config '", origin, "' is not valid JSON: ", e.what()));
  }
  DRIFT_CHECK(j.is_object(), "config '", origin, "': expected a JSON object, got ", j.type_name());
  // A preset named in the file is applied first; the other keys override it.
  if (j.contains("preset")) *this = preset_config(j["preset"].get<std::string>());
  static const std::set<std::string> known = {
      "preset", "data", "data_path", "random_flip", "max_images", "unet", "class_conditional", "label_dropout",
      "schedule", "timesteps", "prediction", "loss_weighting", "min_snr_gamma", "lr", "weight_decay", "warmup_steps", "lr_decay",
      "grad_clip", "ema_decay", "batch_size", "steps", "seed", "log_every", "sample_every", "checkpoint_every",
      "sample_count", "sample_steps", "device"};
  for (auto it = j.begin(); it != j.end(); ++it)
    DRIFT_CHECK(known.count(it.key()), "config '", origin, "': unknown key '", it.key(), "'");
  try {
    if (j.contains("data")) data = parse_data_kind(j["data"].get<std::string>());
    if (j.contains("data_path")) data_path = j["data_path"].get<std::string>();
    if (j.contains("random_flip")) random_flip = j["random_flip"].get<bool>();
    if (j.contains("max_images")) max_images = j["max_images"].get<int64_t>();
    if (j.contains("unet")) {
      // Merge: keys given override the preset's U-Net.
      json u = json::parse(unet.to_json());
      DRIFT_CHECK(j["unet"].is_object(), "config '", origin, "': 'unet' must be an object");
      for (auto it = j["unet"].begin(); it != j["unet"].end(); ++it) {
        DRIFT_CHECK(u.contains(it.key()), "config '", origin, "': unknown key 'unet.", it.key(), "'");
        u[it.key()] = it.value();
      }
      unet = nn::UNetConfig::from_json(u.dump());
    }
    if (j.contains("class_conditional")) class_conditional = j["class_conditional"].get<bool>();
    if (j.contains("label_dropout")) label_dropout = j["label_dropout"].get<double>();
    if (j.contains("schedule")) schedule = parse_schedule(j["schedule"].get<std::string>());
    if (j.contains("timesteps")) timesteps = j["timesteps"].get<int64_t>();
    if (j.contains("prediction")) prediction = parse_prediction(j["prediction"].get<std::string>());
    if (j.contains("loss_weighting")) loss_weighting = parse_weighting(j["loss_weighting"].get<std::string>());
    if (j.contains("min_snr_gamma")) min_snr_gamma = j["min_snr_gamma"].get<double>();
    if (j.contains("lr")) lr = j["lr"].get<double>();
    if (j.contains("weight_decay")) weight_decay = j["weight_decay"].get<double>();
    if (j.contains("warmup_steps")) warmup_steps = j["warmup_steps"].get<int64_t>();
    if (j.contains("lr_decay")) lr_decay = j["lr_decay"].get<std::string>();
    if (j.contains("grad_clip")) grad_clip = j["grad_clip"].get<double>();
    if (j.contains("ema_decay")) ema_decay = j["ema_decay"].get<double>();
    if (j.contains("batch_size")) batch_size = j["batch_size"].get<int64_t>();
    if (j.contains("steps")) steps = j["steps"].get<int64_t>();
    if (j.contains("seed")) seed = j["seed"].get<uint64_t>();
    if (j.contains("log_every")) log_every = j["log_every"].get<int64_t>();
    if (j.contains("sample_every")) sample_every = j["sample_every"].get<int64_t>();
    if (j.contains("checkpoint_every")) checkpoint_every = j["checkpoint_every"].get<int64_t>();
    if (j.contains("sample_count")) sample_count = j["sample_count"].get<int64_t>();
    if (j.contains("sample_steps")) sample_steps = j["sample_steps"].get<int64_t>();
    if (j.contains("device")) device = j["device"].get<std::string>();
  } catch (const json::exception& e) {
    throw Error(str("config '", origin, "': a value has the wrong type (", e.what(), ")"));
  }
}

TrainConfig TrainConfig::from_json(const std::string& text, const std::string& origin) {
  TrainConfig c;
  c.apply_json(text, origin);
  return c;
}

void TrainConfig::validate() const {
  DRIFT_CHECK(batch_size > 0, "config: batch_size must be positive, got ", batch_size);
  DRIFT_CHECK(steps > 0, "config: steps must be positive, got ", steps);
  DRIFT_CHECK(lr > 0, "config: lr must be positive, got ", lr);
  DRIFT_CHECK(timesteps >= 2, "config: timesteps must be >= 2, got ", timesteps);
  DRIFT_CHECK(ema_decay >= 0 && ema_decay <= 1, "config: ema_decay must be in [0, 1], got ", ema_decay);
  DRIFT_CHECK(label_dropout >= 0 && label_dropout < 1, "config: label_dropout must be in [0, 1), got ", label_dropout);
  DRIFT_CHECK(lr_decay == "constant" || lr_decay == "linear" || lr_decay == "cosine",
              "config: lr_decay must be constant, linear or cosine, got '", lr_decay, "'");
  DRIFT_CHECK(log_every > 0, "config: log_every must be positive, got ", log_every);
  DRIFT_CHECK(sample_every >= 0 && checkpoint_every >= 0, "config: sample_every and checkpoint_every must be >= 0");
  DRIFT_CHECK(sample_count > 0 && sample_steps > 0, "config: sample_count and sample_steps must be positive");
  parse_device(device);
}

}  // namespace drift::cli
