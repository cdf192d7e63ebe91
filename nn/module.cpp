#include "nn/module.h"

#include <map>

namespace drift::nn {

Tensor find_tensor(const NamedTensors& list, const std::string& name) {
  for (const auto& [n, t] : list)
    if (n == name) return t;
  return Tensor();
}

Tensor Module::forward(const Tensor&) {
  throw Error(str("Module::forward(x): ", type_name_, " has no one-input forward; call its own forward"));
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  DRIFT_CHECK(!name.empty() && name.find('.') == std::string::npos,
              "register_parameter: a name must be non-empty and have no '.', got '", name, "'");
  for (const auto& [n, t] : params_) DRIFT_CHECK(n != name, "register_parameter: '", name, "' registered twice");
  DRIFT_CHECK(value.defined(), "register_parameter: '", name, "' is an undefined tensor");
  value.set_requires_grad(true);
  params_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  DRIFT_CHECK(!name.empty() && name.find('.') == std::string::npos,
              "register_module: a name must be non-empty and have no '.', got '", name, "'");
  DRIFT_CHECK(m != nullptr, "register_module: '", name, "' is null");
  for (const auto& [n, c] : children_) DRIFT_CHECK(n != name, "register_module: '", name, "' registered twice");
  children_.emplace_back(name, std::move(m));
}

void Module::collect_parameters(const std::string& prefix, NamedTensors& out) const {
  for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect_parameters(prefix + n + ".", out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect_parameters("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() const {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& [n, c] : children_) out.emplace_back(n, c.get());
  return out;
}

void Module::collect_modules(const std::string& prefix, std::vector<std::pair<std::string, Module*>>& out) const {
  for (const auto& [n, c] : children_) {
    std::string name = prefix.empty() ? n : prefix + "." + n;
    out.emplace_back(name, c.get());
    c->collect_modules(name, out);
  }
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, Module*>> out;
  out.emplace_back("", const_cast<Module*>(this));
  collect_modules("", out);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) {
    Tensor p = t;
    if (p.has_autograd_meta()) p.set_grad(Tensor());
  }
}

void rebind_tensor(const Tensor& dst, const Tensor& src) {
  TensorImpl& d = *dst.impl_ptr();
  const TensorImpl& s = *src.impl_ptr();
  d.storage = s.storage;
  d.shape = s.shape;
  d.strides = s.strides;
  d.offset = s.offset;
  d.dtype = s.dtype;
}

void swap_tensor_data(const Tensor& a, const Tensor& b) {
  DRIFT_CHECK(a.shape() == b.shape() && a.dtype() == b.dtype(), "swap_tensor_data: ", shape_str(a.shape()), " ",
              dtype_name(a.dtype()), " vs ", shape_str(b.shape()), " ", dtype_name(b.dtype()));
  TensorImpl& x = *a.impl_ptr();
  TensorImpl& y = *b.impl_ptr();
  std::swap(x.storage, y.storage);
  std::swap(x.strides, y.strides);
  std::swap(x.offset, y.offset);
}

void Module::to(Device device) {
  for (auto& [n, t] : named_parameters()) {
    if (t.device() == device) continue;
    Tensor moved = ops::to(t, device);
    rebind_tensor(t, moved);
    Tensor p = t;
    Tensor g = p.grad();
    if (g.defined()) p.set_grad(ops::to(g, device));
  }
}

void Module::check_state_dict(const NamedTensors& dict, bool strict) const {
  NamedTensors params = named_parameters();
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : dict) {
    DRIFT_CHECK(given.emplace(n, &t).second, "load_state_dict: '", n, "' appears twice in the state dict");
  }
  std::vector<std::string> missing;
  for (const auto& [n, p] : params) {
    auto it = given.find(n);
    if (it == given.end()) {
      missing.push_back(n);
      continue;
    }
    const Tensor& src = *it->second;
    DRIFT_CHECK(src.defined(), "load_state_dict: '", n, "' is an undefined tensor");
    DRIFT_CHECK(src.shape() == p.shape(), "load_state_dict: shape mismatch for '", n, "': the model has ",
                shape_str(p.shape()), ", the state dict has ", shape_str(src.shape()));
    DRIFT_CHECK(src.dtype() == p.dtype(), "load_state_dict: dtype mismatch for '", n, "': the model has ",
                dtype_name(p.dtype()), ", the state dict has ", dtype_name(src.dtype()));
  }
  if (strict) {
    std::map<std::string, bool> known;
    for (const auto& [n, p] : params) known[n] = true;
    std::vector<std::string> unexpected;
    for (const auto& [n, t] : dict)
      if (!known.count(n)) unexpected.push_back(n);
    if (!missing.empty() || !unexpected.empty()) {
      std::string msg = "load_state_dict (strict): ";
      if (!missing.empty()) {
        msg += str(missing.size(), " parameter(s) missing from the state dict: ");
        for (size_t i = 0; i < missing.size() && i < 8; ++i) msg += (i ? ", " : "") + missing[i];
        if (missing.size() > 8) msg += ", ...";
        if (!unexpected.empty()) msg += "; ";
      }
      if (!unexpected.empty()) {
        msg += str(unexpected.size(), " unexpected name(s) the model does not have: ");
        for (size_t i = 0; i < unexpected.size() && i < 8; ++i) msg += (i ? ", " : "") + unexpected[i];
        if (unexpected.size() > 8) msg += ", ...";
      }
      throw Error(msg);
    }
  }
}

void Module::load_state_dict(const NamedTensors& dict, bool strict) {
  check_state_dict(dict, strict);  // throws before anything changes
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : dict) given.emplace(n, &t);
  NoGradGuard no_grad;
  for (auto& [n, p] : named_parameters()) {
    auto it = given.find(n);
    if (it == given.end()) continue;
    Tensor src = *it->second;
    if (src.device() != p.device()) src = ops::to(src, p.device());
    Tensor dst = p;
    ops::copy_(dst, src);
  }
}

}  // namespace drift::nn
