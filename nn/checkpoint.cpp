#include "nn/checkpoint.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
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

// A step count: decimal digits only (no sign, no spaces), at most int64.
bool parse_step(const std::string& text, int64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  int64_t v = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return false;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, ch - '0', &v)) return false;
  }
  out = v;
  return true;
}

// "phema<i>.": the tensors and metadata of the i-th post-hoc EMA profile.
std::string phema_prefix(size_t i) { return "phema" + std::to_string(i) + "."; }

std::string exact(double v) {  // reads back to the same double
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// A double written by exact(): the whole text must be a number.
bool parse_double(const std::string& text, double& out) {
  if (text.empty() || text.size() > 40) return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

// The fp16 loss scaler's three entries (nn/autocast.h).
const char* const kScale = "grad_scaler.scale";
const char* const kGood = "grad_scaler.good_steps";
const char* const kSkipped = "grad_scaler.skipped_steps";

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
  for (size_t i = 0; i < s.power_emas.size(); ++i)
    for (auto& [n, t] : s.power_emas[i]->shadow()) tensors.emplace_back(phema_prefix(i) + n, t);

  Metadata meta;
  meta["format"] = kFormat;
  meta["step"] = std::to_string(s.step);
  meta["config"] = s.config_json;
  if (s.optimizer) meta["optimizer"] = s.optimizer->state_json();
  for (size_t i = 0; i < s.power_emas.size(); ++i)
    meta[phema_prefix(i) + "sigma_rel"] = exact(s.power_emas[i]->sigma_rel());
  if (s.grad_scaler) {
    meta[kScale] = exact(s.grad_scaler->scale());
    meta[kGood] = std::to_string(s.grad_scaler->good_steps());
    meta[kSkipped] = std::to_string(s.grad_scaler->skipped_steps());
  }
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

  // 1. Parse and check every part; nothing is changed until all of it fits.
  const std::string where = str("load_checkpoint: '", path, "': ");
  const std::string& step_text = meta_get(meta, "step", path);
  int64_t step = 0;
  DRIFT_CHECK(parse_step(step_text, step), where, "the step must be an integer in [0, 2^63), found '",
              step_text.substr(0, 40), step_text.size() > 40 ? "...'" : "'");
  const std::string& config = meta_get(meta, "config", path);
  NamedTensors model_t = with_prefix(c.tensors, "model."), ema_t = with_prefix(c.tensors, "ema."),
               optim_t = with_prefix(c.tensors, "optim.");
  auto is_phema = [&](const std::string& n) {  // "phema<i>." for a profile the caller gave
    for (size_t i = 0; i < s.power_emas.size(); ++i)
      if (n.rfind(phema_prefix(i), 0) == 0) return true;
    return false;
  };
  for (const auto& [n, t] : c.tensors)
    DRIFT_CHECK(n.rfind("model.", 0) == 0 || n.rfind("ema.", 0) == 0 || n.rfind("optim.", 0) == 0 || is_phema(n),
                where, "tensor '", n, "' is not a model., ema., optim. or phema<i>. entry",
                n.rfind("phema", 0) == 0 ? " (post-hoc EMA profiles the caller did not ask to load)" : "");
  std::vector<NamedTensors> phema_t;
  for (size_t i = 0; i < s.power_emas.size(); ++i) {
    phema_t.push_back(with_prefix(c.tensors, phema_prefix(i)));
    const std::string key = phema_prefix(i) + "sigma_rel";
    const std::string want = exact(s.power_emas[i]->sigma_rel());
    DRIFT_CHECK(meta_get(meta, key, path) == want, where, "metadata '", key, "' is '", meta.at(key).substr(0, 40),
                "', but the run tracks sigma_rel ", want);
  }
  try {
    s.model->check_state_dict(model_t, true);
    if (s.ema) s.ema->check_state(ema_t);
    if (s.optimizer) s.optimizer->check_state(optim_t, meta_get(meta, "optimizer", path));
    for (size_t i = 0; i < s.power_emas.size(); ++i) s.power_emas[i]->check_state(phema_t[i]);
  } catch (const Error& e) {
    throw Error(where + e.what());
  }
  DRIFT_CHECK(s.ema || ema_t.empty(), where, "the file holds EMA weights but no EMA was given to load them into");
  DRIFT_CHECK(s.optimizer || optim_t.empty(), where,
              "the file holds optimizer state but no optimizer was given to load it into");
  // The loss scaler: scale positive and finite, good steps below the growth interval.
  double scale = 0;
  int64_t good = 0, skipped = 0;
  if (s.grad_scaler) {
    const std::string& st = meta_get(meta, kScale, path);
    DRIFT_CHECK(parse_double(st, scale) && scale > 0 && std::isfinite(scale), where, "metadata '", kScale,
                "' must be a positive finite number, found '", st.substr(0, 40), "'");
    const std::string& gt = meta_get(meta, kGood, path);
    DRIFT_CHECK(parse_step(gt, good) && good < s.grad_scaler->growth_interval(), where, "metadata '", kGood,
                "' must be an integer in [0, ", s.grad_scaler->growth_interval(), "), found '", gt.substr(0, 40), "'");
    const std::string& kt = meta_get(meta, kSkipped, path);
    DRIFT_CHECK(parse_step(kt, skipped), where, "metadata '", kSkipped, "' must be an integer in [0, 2^63), found '",
                kt.substr(0, 40), "'");
  } else {
    DRIFT_CHECK(meta.count(kScale) == 0, where, "the file holds fp16 loss-scaler state ('", kScale,
                "') but no GradScaler was given to load it into (was the run trained with --precision fp16?)");
  }
  std::vector<std::pair<Generator*, Generator>> rng;
  for (auto& [n, g] : all_generators(s)) {
    const std::string& text = meta_get(meta, "rng." + n, path);
    std::istringstream is(text);
    Generator v;
    std::string rest;
    DRIFT_CHECK(static_cast<bool>(is >> v.seed >> v.offset) && !(is >> rest) && text.find('-') == std::string::npos,
                where, "generator 'rng.", n, "' is not '<seed> <offset>' (two unsigned integers): '",
                text.substr(0, 80), "'");
    rng.emplace_back(g, v);
  }

  // 2. Apply (everything above has been checked, so these do not throw on
  // the file's contents).
  s.model->load_state_dict(model_t, true);
  if (s.ema) s.ema->load_state(ema_t);
  if (s.optimizer) s.optimizer->load_state(optim_t, meta.at("optimizer"));
  for (size_t i = 0; i < s.power_emas.size(); ++i) s.power_emas[i]->load_state(phema_t[i]);
  if (s.grad_scaler) s.grad_scaler->restore(scale, good, skipped);
  for (auto& [g, v] : rng) *g = v;
  s.step = step;
  s.config_json = config;
}

}  // namespace drift::nn
