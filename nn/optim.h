#pragma once
// Optimizers, learning-rate schedules, gradient clipping and an exponential
// moving average of the weights. Updates are written with tensor ops (no
// autograd), so they run on whatever device the parameters live on.
#include <string>
#include <vector>

#include "nn/config_enum.h"
#include "nn/module.h"

namespace drift::nn {

// Base class: a list of named parameters, a learning rate and a step count.
// Per-parameter state (momentum, Adam moments) is saved and restored by name
// ("<param>.<slot>"), so a checkpoint resumes the optimizer exactly.
class Optimizer {
 public:
  Optimizer(NamedTensors params, double lr, std::string type_name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update from the parameters' accumulated gradients (parameters with
  // no gradient are skipped). Increments step_count().
  void step();
  // Clears the parameters' gradients.
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  int64_t step_count() const { return step_; }
  const NamedTensors& params() const { return params_; }
  const std::string& type_name() const { return type_name_; }

  // State for checkpoints: the per-parameter tensors, and the scalars (type,
  // hyper-parameters, step count) as a JSON string.
  NamedTensors state_tensors() const;
  std::string state_json() const;
  // Checks a saved state against this optimizer (type, names, shapes) and
  // throws without changing anything if it does not fit.
  void check_state(const NamedTensors& tensors, const std::string& json) const;
  void load_state(const NamedTensors& tensors, const std::string& json);

 protected:
  // Updates parameter i (p, its gradient g, the step number counted from 1).
  virtual void update(size_t i, const Tensor& p, const Tensor& g, int64_t step) = 0;
  // The scalars of a saved state, after checking the whole state (tensors too).
  struct SavedScalars {
    double lr = 0;
    int64_t step = 0;
  };
  SavedScalars parse_state(const NamedTensors& tensors, const std::string& json) const;
  // Updates the parameters idx[k] from grads[k] (checked); by default one
  // update() each. Optimizers with a fused kernel take the whole list.
  virtual void update_all(const std::vector<size_t>& idx, const std::vector<Tensor>& grads, int64_t step);
  // Names of the per-parameter state slots ("momentum", "exp_avg", ...).
  virtual std::vector<std::string> slot_names() const = 0;
  // Hyper-parameters as JSON members (besides lr and step).
  virtual void hyper_json(std::string& out) const = 0;
  // slots_[s][i] = slot s of parameter i (zeros, like the parameter).
  std::vector<std::vector<Tensor>> slots_;
  void init_slots();
  // Moves slot tensors to the parameter's device if the model moved.
  Tensor& slot(size_t s, size_t i);

  NamedTensors params_;
  double lr_;
  int64_t step_ = 0;
  std::string type_name_;
};

// SGD with momentum (PyTorch's form, dampening 0):
//   g <- g + wd p;  b <- mu b + g;  d = nesterov ? g + mu b : b;  p <- p - lr d
struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
};
class SGD : public Optimizer {
 public:
  SGD(NamedTensors params, const SGDOptions& opt);
  SGDOptions options;

 protected:
  void update(size_t i, const Tensor& p, const Tensor& g, int64_t step) override;
  std::vector<std::string> slot_names() const override { return {"momentum"}; }
  void hyper_json(std::string& out) const override;
};

// Adam (Kingma & Ba 2015, Algorithm 1) and AdamW (Loshchilov & Hutter 2019):
//   m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
//   p <- p - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
// Adam's weight decay is L2 (g <- g + wd p); AdamW decays the weights
// directly, decoupled from the gradient: p <- p (1 - lr wd) before the step.
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  // One fused kernel for all parameters (ops::adam_step_); false runs the
  // formula above as separate tensor ops, the reference the fused kernel is
  // tested against (same results within float rounding).
  bool fused = true;
};
enum class WeightDecay { L2, Decoupled };
class Adam : public Optimizer {
 public:
  Adam(NamedTensors params, const AdamOptions& opt, WeightDecay decay = WeightDecay::L2);
  AdamOptions options;
  WeightDecay decay_mode;

 protected:
  void update(size_t i, const Tensor& p, const Tensor& g, int64_t step) override;
  void update_all(const std::vector<size_t>& idx, const std::vector<Tensor>& grads, int64_t step) override;
  std::vector<std::string> slot_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  void hyper_json(std::string& out) const override;
};
// AdamW = Adam with decoupled weight decay (default wd 1e-2 as PyTorch).
class AdamW : public Adam {
 public:
  AdamW(NamedTensors params, AdamOptions opt);
};

// ---------------------------------------------------------------- schedules
enum class LRDecay { Constant, Linear, Cosine };
DRIFT_CONFIG_ENUM(LRDecay, {LRDecay::Constant, "constant"}, {LRDecay::Linear, "linear"}, {LRDecay::Cosine, "cosine"})

// Linear warm-up from base_lr/warmup_steps to base_lr over `warmup_steps`,
// then constant, linear or cosine decay to min_lr at total_steps:
//   cosine: lr = min + (base - min) (1 + cos(pi s)) / 2,  s = progress in [0, 1]
//   (SGDR, Loshchilov & Hutter 2017, without restarts)
struct LRSchedule {
  double base_lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  double min_lr = 0;
  LRDecay decay = LRDecay::Constant;

  double lr_at(int64_t step) const;  // step counts from 0
  void apply(Optimizer& opt, int64_t step) const { opt.set_lr(lr_at(step)); }
};

// Scales all gradients by max_norm / ||g|| when the global L2 norm of all
// gradients together exceeds max_norm (as torch.nn.utils.clip_grad_norm_).
// Returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// ---------------------------------------------------------------- EMA
// Exponential moving average of the weights (Polyak averaging), the weights
// diffusion models are usually sampled with:  w_ema <- d w_ema + (1-d) w.
class EMA {
 public:
  explicit EMA(const Module& model, double decay = 0.999);
  // One averaging step from the model's current parameters. Given the
  // number of optimizer steps taken so far, the decay warms up as
  // min(decay, (1 + step) / (10 + step)) (as TensorFlow's
  // ExponentialMovingAverage with num_updates), so that a 0.9999 average is
  // not dominated by the random initial weights for its first ~10k steps.
  void update(int64_t step = -1);
  // Exchanges the model's parameters with the averages (O(1), no copy): call
  // once to evaluate with the EMA weights and again to swap back.
  void swap();
  bool swapped() const { return swapped_; }
  double decay() const { return decay_; }
  void set_decay(double d);
  // The averages under the parameters' names (for checkpoints).
  const NamedTensors& shadow() const { return shadow_; }
  void check_state(const NamedTensors& tensors) const;
  void load_state(const NamedTensors& tensors);

 private:
  NamedTensors params_;  // the model's parameters (handles)
  NamedTensors shadow_;
  double decay_;
  bool swapped_ = false;
};

// Evaluates with EMA weights inside a scope: swaps on entry, back on exit.
class EMAScope {
 public:
  explicit EMAScope(EMA& ema) : ema_(ema) { ema_.swap(); }
  ~EMAScope() { ema_.swap(); }
  EMAScope(const EMAScope&) = delete;
  EMAScope& operator=(const EMAScope&) = delete;

 private:
  EMA& ema_;
};

}  // namespace drift::nn
