#pragma once
// Module: the base of every layer. A module owns named parameters and named
// submodules; names compose with dots in PyTorch's state_dict convention, so
// a parameter reads "down.0.norm1.weight" both here and in a PyTorch file.
//
// Parameters are ordinary leaf tensors with requires_grad. Every handle to a
// parameter (the layer's member, the registry here, the optimizer's list)
// shares one TensorImpl; operations that replace a parameter's memory
// (to(Device), EMA swaps) change that TensorImpl in place, so all handles
// stay valid.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/functions.h"
#include "tensor/rng.h"

namespace drift::nn {

// An ordered list of (name, tensor): parameters, state dicts, file contents.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The tensor called `name` in `list`, or an undefined tensor.
Tensor find_tensor(const NamedTensors& list, const std::string& name);

class Module {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The one-input forward used by Sequential. Modules with other signatures
  // (ResBlock, UNet) provide their own forward and leave this one throwing.
  virtual Tensor forward(const Tensor& x);

  const std::string& type_name() const { return type_name_; }

  // Every parameter of this module and its submodules, depth first in
  // registration order, under its dotted name.
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;  // total element count
  // Direct children and all descendants ("" names this module itself).
  std::vector<std::pair<std::string, Module*>> named_children() const;
  std::vector<std::pair<std::string, Module*>> named_modules() const;

  // Training mode (dropout active) or evaluation mode; recursive.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Clears every parameter's accumulated gradient.
  void zero_grad();
  // Moves every parameter to `device` (in place: existing handles follow).
  void to(Device device);

  // Parameters by name (the tensors themselves, not copies).
  NamedTensors state_dict() const { return named_parameters(); }
  // Copies values into the parameters. Checks everything first, so a bad
  // dict changes nothing: with strict, the names must match exactly; shapes
  // and dtypes must always match. Messages name the tensor and both shapes.
  void load_state_dict(const NamedTensors& dict, bool strict = true);
  // The checks of load_state_dict alone (throws what it would throw).
  void check_state_dict(const NamedTensors& dict, bool strict = true) const;

  // Random generators the module draws from while training (Dropout), by
  // name, so that checkpoints can save and restore them.
  virtual std::vector<std::pair<std::string, Generator*>> generators() { return {}; }

 protected:
  // Registers a parameter (marked requires_grad) and returns the handle.
  Tensor register_parameter(const std::string& name, Tensor value);
  // Registers a child module and returns it.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void collect_parameters(const std::string& prefix, NamedTensors& out) const;
  void collect_modules(const std::string& prefix, std::vector<std::pair<std::string, Module*>>& out) const;

  std::string type_name_;
  bool training_ = true;
  NamedTensors params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Replaces what a tensor handle points at (storage, shape, strides, offset,
// dtype) with `src`'s, keeping the TensorImpl and its autograd slot. Every
// handle to `dst` then sees the new memory. Used by to(Device) and EMA.
void rebind_tensor(const Tensor& dst, const Tensor& src);
// Exchanges the memory of two tensors of the same shape and dtype (O(1)).
void swap_tensor_data(const Tensor& a, const Tensor& b);

}  // namespace drift::nn
