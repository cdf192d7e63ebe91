#include "nn/checkpoint.h"

#include <sstream>

namespace drift::nn {

namespace {

const char* kFormat = "drift-checkpoint-1";

// All generators of a state: the model's ("model.<name>") and the caller's.
std::vector<std::pair<std::string, Generator*>> all_generators(const TrainingState& s) {
  std::vector<std::pair<std::string, Generator*>> out;
  for (auto& [n, g] : s.model->generators()) out.emplace_back("model." + n, g);
  for (auto& [n, g] : s.generators) out.emplace_back(n, g);
  return out;
}

// Tensors whose names start with `prefix`, with the prefix removed.
NamedTensors with_prefix(const NamedTensors& all, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [n, t] : all)
    if (n.compare(0, prefix.size(), prefix) == 0) out.emplace_back(n.substr(prefix.size()), t);
  return out;
}

const std::string& meta_get(const Metadata& meta, const std::string& key, const std::string& path) {
  auto it = meta.find(key);
  DRIFT_CHECK(it != meta.end(), "load_checkpoint: '", path, "' has no '", key, "' entry in its metadata");
  return it->second;
}

}  // namespace

void save_checkpoint(const std::string& path, const TrainingState& s) {
  DRIFT_CHECK(s.model != nullptr, "save_checkpoint: TrainingState.model is null");
  DRIFT_CHECK(!s.ema || !s.ema->swapped(), "save_checkpoint: the EMA weights are swapped into the model; "
              "swap back before saving");
  NamedTensors tensors;
  for (auto& [n, t] : s.model->state_dict()) tensors.emplace_back("model." + n, t);
  if (s.ema)
    for (auto& [n, t] : s.ema->shadow()) tensors.emplace_back("ema." + n, t);
  if (s.optimizer)
    for (auto& [n, t] : s.optimizer->state_tensors()) tensors.emplace_back("optim." + n, t);

  Metadata meta;
  meta["format"] = kFormat;
  meta["step"] = std::to_string(s.step);
  meta["config"] = s.config_json;
  if (s.optimizer) meta["optimizer"] = s.optimizer->state_json();
  for (auto& [n, g] : all_generators(s)) {
    DRIFT_CHECK(g != nullptr, "save_checkpoint: generator '", n, "' is null");
    meta["rng." + n] = std::to_string(g->seed) + " " + std::to_string(g->offset);
  }
  save_safetensors(path, tensors, meta);
}

void load_checkpoint(const std::string& path, TrainingState& s) {
  DRIFT_CHECK(s.model != nullptr, "load_checkpoint: TrainingState.model is null");
  SafetensorsContents c = load_safetensors(path);
  const Metadata& meta = c.metadata;
  DRIFT_CHECK(meta_get(meta, "format", path) == kFormat, "load_checkpoint: '", path, "' has format '",
              meta.at("format"), "', expected '", kFormat, "'");

  // 1. Parse and check every part.
  int64_t step = 0;
  try {
    step = std::stoll(meta_get(meta, "step", path));
  } catch (const std::logic_error&) {
    throw Error(str("load_checkpoint: '", path, "' has a step that is not an integer: '", meta.at("step"), "'"));
  }
  const std::string where = str("load_checkpoint: '", path, "': ");
  NamedTensors model_t = with_prefix(c.tensors, "model."), ema_t = with_prefix(c.tensors, "ema."),
               optim_t = with_prefix(c.tensors, "optim.");
  try {
    s.model->check_state_dict(model_t, true);
    if (s.ema) s.ema->check_state(ema_t);
    if (s.optimizer) s.optimizer->check_state(optim_t, meta_get(meta, "optimizer", path));
  } catch (const Error& e) {
    throw Error(where + e.what());
  }
  DRIFT_CHECK(s.ema || ema_t.empty(), where, "the file holds EMA weights but no EMA was given to load them into");
  DRIFT_CHECK(s.optimizer || optim_t.empty(), where,
              "the file holds optimizer state but no optimizer was given to load it into");
  std::vector<std::pair<Generator*, Generator>> rng;
  for (auto& [n, g] : all_generators(s)) {
    std::istringstream is(meta_get(meta, "rng." + n, path));
    Generator v;
    DRIFT_CHECK(static_cast<bool>(is >> v.seed >> v.offset), where, "generator 'rng.", n,
                "' is not '<seed> <offset>': '", meta.at("rng." + n), "'");
    rng.emplace_back(g, v);
  }

  // 2. Apply.
  s.model->load_state_dict(model_t, true);
  if (s.ema) s.ema->load_state(ema_t);
  if (s.optimizer) s.optimizer->load_state(optim_t, meta.at("optimizer"));
  for (auto& [g, v] : rng) *g = v;
  s.step = step;
  s.config_json = meta_get(meta, "config", path);
}

}  // namespace drift::nn
