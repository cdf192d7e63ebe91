#include "nn/optim.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "nn/json_bounded.h"

namespace drift::nn {

// ---------------------------------------------------------------- Optimizer
Optimizer::Optimizer(NamedTensors params, double lr, std::string type_name)
    : params_(std::move(params)), lr_(lr), type_name_(std::move(type_name)) {
  DRIFT_CHECK(lr >= 0, type_name_, ": learning rate must be >= 0, got ", lr);
  for (const auto& [n, p] : params_) {
    DRIFT_CHECK(p.defined() && is_floating(p.dtype()), type_name_, ": parameter '", n,
                "' must be a defined floating-point tensor");
  }
}

void Optimizer::init_slots() {
  slots_.assign(slot_names().size(), {});
  for (auto& s : slots_)
    for (const auto& [n, p] : params_) s.push_back(ops::zeros(p.shape(), p.dtype(), p.device()));
}

Tensor& Optimizer::slot(size_t s, size_t i) {
  Tensor& t = slots_[s][i];
  const Tensor& p = params_[i].second;
  if (t.device() != p.device()) t = ops::to(t, p.device());
  return t;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  ++step_;
  std::vector<size_t> idx;
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    DRIFT_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(), type_name_,
                ": gradient of '", params_[i].first, "' is ", shape_str(g.shape()), " ", dtype_name(g.dtype()), " on ",
                device_name(g.device()), ", the parameter ", shape_str(p.shape()), " ", dtype_name(p.dtype()), " on ",
                device_name(p.device()));
    idx.push_back(i);
    grads.push_back(g);
  }
  update_all(idx, grads, step_);
}

void Optimizer::update_all(const std::vector<size_t>& idx, const std::vector<Tensor>& grads, int64_t step) {
  for (size_t k = 0; k < idx.size(); ++k) update(idx[k], params_[idx[k]].second, grads[k], step);
}

void Optimizer::zero_grad() {
  for (auto& [n, p] : params_) {
    Tensor t = p;
    if (t.has_autograd_meta()) t.set_grad(Tensor());
  }
}

NamedTensors Optimizer::state_tensors() const {
  NamedTensors out;
  std::vector<std::string> names = slot_names();
  for (size_t s = 0; s < slots_.size(); ++s)
    for (size_t i = 0; i < params_.size(); ++i) out.emplace_back(params_[i].first + "." + names[s], slots_[s][i]);
  return out;
}

std::string Optimizer::state_json() const {
  std::string hyper;
  hyper_json(hyper);
  nlohmann::json j = nlohmann::json::parse("{" + hyper + "}");
  j["type"] = type_name_;
  j["lr"] = lr_;
  j["step"] = step_;
  return j.dump();
}

Optimizer::SavedScalars Optimizer::parse_state(const NamedTensors& tensors, const std::string& text) const {
  const std::string where = type_name_ + "::load_state: ";
  // The text comes from a file: bounded before anything dumps or copies it.
  nlohmann::json j = parse_json_bounded(text, where + "the optimizer state", JsonLimits{1 << 20, 8});
  DRIFT_CHECK(j.is_object() && j.contains("type") && j.contains("lr") && j.contains("step"), where,
              "expected a JSON object {type, lr, step, ...}, got ", json_excerpt(j));
  DRIFT_CHECK(j["type"].is_string() && j["type"].get<std::string>() == type_name_, where,
              "the saved state is of a ", json_excerpt(j["type"]), " optimizer");
  SavedScalars out;
  DRIFT_CHECK(j["lr"].is_number() && std::isfinite(j["lr"].get<double>()) && j["lr"].get<double>() >= 0, where,
              "'lr' must be a finite number >= 0, found ", json_excerpt(j["lr"]));
  out.lr = j["lr"].get<double>();
  // is_number_integer covers both signed and unsigned; an unsigned value past
  // int64 would turn negative below and is refused.
  DRIFT_CHECK(j["step"].is_number_integer() && (j["step"].is_number_unsigned()
                                                    ? j["step"].get<uint64_t>() <= uint64_t{INT64_MAX}
                                                    : j["step"].get<int64_t>() >= 0),
              where, "'step' must be an integer >= 0, found ", json_excerpt(j["step"]));
  out.step = j["step"].get<int64_t>();

  std::map<std::string, Tensor> given;
  for (const auto& [n, t] : tensors)
    DRIFT_CHECK(given.emplace(n, t).second, where, "state '", n, "' appears twice");
  std::vector<std::string> names = slot_names();
  for (size_t s = 0; s < names.size(); ++s) {
    for (const auto& [n, p] : params_) {
      std::string key = n + "." + names[s];
      auto it = given.find(key);
      DRIFT_CHECK(it != given.end(), where, "state '", key, "' is missing");
      DRIFT_CHECK(it->second.defined() && it->second.shape() == p.shape() && it->second.dtype() == p.dtype(), where,
                  "state '", key, "' is ", shape_str(it->second.shape()), " ", dtype_name(it->second.dtype()),
                  ", expected ", shape_str(p.shape()), " ", dtype_name(p.dtype()));
    }
  }
  DRIFT_CHECK(given.size() == names.size() * params_.size(), where, given.size(), " state tensors given, expected ",
              names.size() * params_.size());
  return out;
}

void Optimizer::check_state(const NamedTensors& tensors, const std::string& text) const {
  parse_state(tensors, text);
}

void Optimizer::load_state(const NamedTensors& tensors, const std::string& text) {
  const SavedScalars saved = parse_state(tensors, text);  // throws before anything changes
  std::map<std::string, Tensor> given(tensors.begin(), tensors.end());
  std::vector<std::string> names = slot_names();
  std::vector<std::vector<Tensor>> slots(names.size());
  for (size_t s = 0; s < names.size(); ++s)
    for (size_t i = 0; i < params_.size(); ++i) {
      const Tensor& p = params_[i].second;
      // A fresh copy on the parameter's device (never an alias of the caller's tensor).
      slots[s].push_back(ops::clone(ops::to(given[params_[i].first + "." + names[s]], p.device())));
    }
  slots_ = std::move(slots);
  lr_ = saved.lr;
  step_ = saved.step;
}

// ---------------------------------------------------------------- SGD
SGD::SGD(NamedTensors params, const SGDOptions& opt) : Optimizer(std::move(params), opt.lr, "SGD"), options(opt) {
  DRIFT_CHECK(opt.momentum >= 0 && opt.weight_decay >= 0, "SGD: momentum and weight_decay must be >= 0");
  DRIFT_CHECK(!opt.nesterov || opt.momentum > 0, "SGD: nesterov needs momentum > 0");
  init_slots();
}

void SGD::update(size_t i, const Tensor& p, const Tensor& grad, int64_t /*step*/) {
  Tensor g = grad;
  if (options.weight_decay != 0) g = ops::add(g, ops::mul(p, options.weight_decay));  // g + wd p
  Tensor d = g;
  if (options.momentum != 0) {
    Tensor& buf = slot(0, i);
    // b <- mu b + g  (b starts at 0, so the first step gives b = g, as PyTorch)
    buf = ops::add(ops::mul(buf, options.momentum), g);
    d = options.nesterov ? ops::add(g, ops::mul(buf, options.momentum)) : buf;
  }
  Tensor dst = p;
  ops::copy_(dst, ops::sub(p, ops::mul(d, lr_)));  // p <- p - lr d
}

void SGD::hyper_json(std::string& out) const {
  nlohmann::json j;
  j["momentum"] = options.momentum;
  j["weight_decay"] = options.weight_decay;
  j["nesterov"] = options.nesterov;
  out = j.dump();
  out = out.substr(1, out.size() - 2);
}

// ---------------------------------------------------------------- Adam / AdamW
Adam::Adam(NamedTensors params, const AdamOptions& opt, WeightDecay decay)
    : Optimizer(std::move(params), opt.lr, decay == WeightDecay::L2 ? "Adam" : "AdamW"),
      options(opt),
      decay_mode(decay) {
  DRIFT_CHECK(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1, type_name_,
              ": betas must be in [0, 1), got ", opt.beta1, ", ", opt.beta2);
  DRIFT_CHECK(opt.eps >= 0 && opt.weight_decay >= 0, type_name_, ": eps and weight_decay must be >= 0");
  init_slots();
}

void Adam::update(size_t i, const Tensor& p, const Tensor& grad, int64_t step) {
  const double b1 = options.beta1, b2 = options.beta2, wd = options.weight_decay;
  Tensor param = p;
  Tensor g = grad;
  if (wd != 0) {
    if (decay_mode == WeightDecay::Decoupled) param = ops::mul(p, 1.0 - lr_ * wd);  // p <- p (1 - lr wd)  (AdamW)
    else g = ops::add(g, ops::mul(p, wd));                                          // g <- g + wd p       (L2)
  }
  Tensor& m = slot(0, i);
  Tensor& v = slot(1, i);
  m = ops::add(ops::mul(m, b1), ops::mul(g, 1.0 - b1));                 // m <- b1 m + (1-b1) g
  v = ops::add(ops::mul(v, b2), ops::mul(ops::square(g), 1.0 - b2));    // v <- b2 v + (1-b2) g^2
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step));     // bias corrections
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(step));
  Tensor denom = ops::affine(ops::sqrt(v), 1.0 / std::sqrt(bc2), options.eps);  // sqrt(v)/sqrt(bc2) + eps
  Tensor upd = ops::div(m, denom);
  Tensor dst = p;
  ops::copy_(dst, ops::sub(param, ops::mul(upd, lr_ / bc1)));           // p <- p - lr/bc1 * m / denom
}

// The fused path: one ops::adam_step_ per (device, dtype) group of
// contiguous parameters (in practice one call for the whole model); a
// non-contiguous parameter takes the unfused path.
void Adam::update_all(const std::vector<size_t>& idx, const std::vector<Tensor>& grads, int64_t step) {
  if (!options.fused) return Optimizer::update_all(idx, grads, step);
  struct Group {
    std::vector<Tensor> p, g, m, v;
  };
  std::map<std::pair<int, int>, Group> groups;
  for (size_t k = 0; k < idx.size(); ++k) {
    const size_t i = idx[k];
    const Tensor& p = params_[i].second;
    if (!p.is_contiguous()) {
      update(i, p, grads[k], step);
      continue;
    }
    Group& gr = groups[{static_cast<int>(p.device()), static_cast<int>(p.dtype())}];
    gr.p.push_back(p);
    gr.g.push_back(ops::contiguous(grads[k]));
    gr.m.push_back(slot(0, i));
    gr.v.push_back(slot(1, i));
  }
  const ops::AdamHyper h{lr_, options.beta1, options.beta2, options.eps, options.weight_decay,
                         decay_mode == WeightDecay::Decoupled, step};
  for (auto& [key, gr] : groups) ops::adam_step_(gr.p, gr.g, gr.m, gr.v, h);
}

void Adam::hyper_json(std::string& out) const {
  nlohmann::json j;
  j["beta1"] = options.beta1;
  j["beta2"] = options.beta2;
  j["eps"] = options.eps;
  j["weight_decay"] = options.weight_decay;
  out = j.dump();
  out = out.substr(1, out.size() - 2);
}

AdamW::AdamW(NamedTensors params, AdamOptions opt) : Adam(std::move(params), opt, WeightDecay::Decoupled) {}

// ---------------------------------------------------------------- schedules
double LRSchedule::lr_at(int64_t step) const {
  DRIFT_CHECK(step >= 0, "LRSchedule: step must be >= 0, got ", step);
  if (step < warmup_steps)  // linear warm-up: base (s+1)/W
    return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (decay == LRDecay::Constant) return base_lr;
  DRIFT_CHECK(total_steps > warmup_steps, "LRSchedule: total_steps (", total_steps,
              ") must exceed warmup_steps (", warmup_steps, ") for a decaying schedule");
  double s = static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
  if (s > 1) s = 1;
  if (decay == LRDecay::Linear) return base_lr + (min_lr - base_lr) * s;
  return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * s));  // cosine
}

// ---------------------------------------------------------------- clip_grad_norm
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  DRIFT_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  NoGradGuard no_grad;
  // ||g|| = sqrt(sum_p sum(g_p^2)); one host read for all parameters.
  std::vector<Tensor> sq;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) sq.push_back(ops::to(ops::sum(ops::square(g)), DType::Float64));
  }
  if (sq.empty()) return 0;
  double total = std::sqrt(ops::item(ops::sum(ops::stack(sq, 0))));
  double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    for (const Tensor& p : params) {
      Tensor t = p;
      Tensor g = t.grad();
      if (g.defined()) t.set_grad(ops::mul(g, coef));
    }
  }
  return total;
}

// ---------------------------------------------------------------- EMA
EMA::EMA(const Module& model, double decay) : params_(model.named_parameters()) {
  set_decay(decay);
  for (const auto& [n, p] : params_) shadow_.emplace_back(n, ops::clone(p.detach()));
}

void EMA::set_decay(double d) {
  DRIFT_CHECK(d >= 0 && d <= 1, "EMA: decay must be in [0, 1], got ", d);
  decay_ = d;
}

void EMA::update(int64_t step) {
  DRIFT_CHECK(!swapped_, "EMA::update: the EMA weights are swapped into the model; swap back first");
  NoGradGuard no_grad;
  const double d = step >= 0 ? std::min(decay_, (1.0 + step) / (10.0 + step)) : decay_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& s = shadow_[i].second;
    const Tensor& p = params_[i].second;
    if (s.device() != p.device()) s = ops::to(s, p.device());
    s = ops::add(ops::mul(s, d), ops::mul(p.detach(), 1.0 - d));  // w_ema <- d w_ema + (1-d) w
  }
}

void EMA::swap() {
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& s = shadow_[i].second;
    const Tensor& p = params_[i].second;
    if (s.device() != p.device()) s = ops::to(s, p.device());
    swap_tensor_data(p, s);
  }
  swapped_ = !swapped_;
}

void EMA::check_state(const NamedTensors& tensors) const {
  DRIFT_CHECK(!swapped_, "EMA::load_state: the EMA weights are swapped into the model; swap back first");
  std::map<std::string, Tensor> given(tensors.begin(), tensors.end());
  for (const auto& [n, p] : params_) {
    auto it = given.find(n);
    DRIFT_CHECK(it != given.end(), "EMA::load_state: '", n, "' is missing");
    DRIFT_CHECK(it->second.shape() == p.shape() && it->second.dtype() == p.dtype(), "EMA::load_state: '", n, "' is ",
                shape_str(it->second.shape()), " ", dtype_name(it->second.dtype()), ", expected ",
                shape_str(p.shape()), " ", dtype_name(p.dtype()));
  }
  DRIFT_CHECK(given.size() == params_.size(), "EMA::load_state: ", given.size(), " tensors given, expected ",
              params_.size());
}

void EMA::load_state(const NamedTensors& tensors) {
  check_state(tensors);
  std::map<std::string, Tensor> given(tensors.begin(), tensors.end());
  for (size_t i = 0; i < params_.size(); ++i)
    shadow_[i].second = ops::clone(ops::to(given[params_[i].first], params_[i].second.device()));
}

}  // namespace drift::nn
