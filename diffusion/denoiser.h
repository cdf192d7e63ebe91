#pragma once
// The model interface every sampler takes, and the wrapper samplers use to
// call it (classifier-free guidance, conversions, counting evaluations).
#include <cstdint>

#include "diffusion/prediction.h"
#include "diffusion/process.h"

namespace drift::diffusion {

// Anything that predicts eps, x_0 or v from a noisy x_t: a network (through
// an adapter such as UNetDenoiser in trainer.h) or the exact oracle of a
// Gaussian mixture (oracle.h).
class Denoiser {
 public:
  virtual ~Denoiser() = default;
  // x: [N, ...] noisy inputs. t: [N] times in the process's own units
  // (integer steps for a DiscreteSchedule, t in [0, 1] for an SDE; see
  // process.h), same dtype as x. labels: int64 [N] class labels, or an
  // undefined tensor for an unconditional call; the value kNullLabel marks
  // "no label" (classifier-free guidance, label dropout).
  virtual Tensor predict(const Tensor& x, const Tensor& t, const Tensor& labels) = 0;
  virtual Prediction target() const = 0;
};

// The label that means "unconditional" (Ho & Salimans 2021, "Classifier-free
// diffusion guidance"). Adapters map it to their network's null class.
constexpr int64_t kNullLabel = -1;

// Classifier-free guidance: pred = pred(null) + scale (pred(labels) - pred(null))
// (Ho & Salimans 2021, eq. 6). scale = 1 is plain conditional sampling,
// scale = 0 unconditional. Without labels the model is called unconditionally.
struct Guidance {
  Tensor labels;       // int64 [N], or undefined
  double scale = 1.0;
};

// What the samplers do to each x0 estimate before using it (for pixel data in
// [-1, 1]; improved-diffusion's clip_denoised, diffusers' clip_sample):
//   Clip:    x0 <- clamp(x0, -1, 1)
//   Dynamic: per sample, s = max(1, the `percentile` quantile of |x0|), x0 <- clamp(x0, -s, s) / s
//            (Saharia et al. 2022, "Imagen", sec. 2.3: keeps strongly guided samples in range
//            without saturating them)
// after which eps = (x_t - alpha x0) / sigma is recomputed, so that every
// sampler's step (and score = -eps / sigma) uses the clipped estimate.
enum class X0ClipMode { None, Clip, Dynamic };
struct X0Clip {
  X0ClipMode mode = X0ClipMode::None;
  double percentile = 0.995;  // Dynamic
};
// Applies the clipping to x0 [N, ...] (differentiable elementwise; the Dynamic
// quantile is computed on the host).
Tensor clip_x0(const Tensor& x0, const X0Clip& clip);

// Calls a Denoiser at one time for a whole batch, applies guidance, converts
// its output and counts model evaluations (one per network call; guidance
// with scale != 1 costs two).
class GuidedModel {
 public:
  GuidedModel(Denoiser& model, const Process& process, Guidance guidance = {}, X0Clip clip = {})
      : model_(model), process_(process), guidance_(std::move(guidance)), clip_(clip) {}

  // The (guided) model output at time t, in the model's own target.
  Tensor raw(const Tensor& x, double t);
  struct Pred { Tensor eps, x0; };
  Pred eps_x0(const Tensor& x, double t);
  Tensor eps(const Tensor& x, double t);
  Tensor x0(const Tensor& x, double t);
  Tensor score(const Tensor& x, double t);  // -eps / sigma(t)
  // The probability-flow velocity dx/dt = alpha'(t) x0 + sigma'(t) eps (for flow
  // matching, alpha = 1 - t, sigma = t: u = eps - x0).
  Tensor velocity(const Tensor& x, double t);

  const Process& process() const { return process_; }
  int64_t nfe() const { return nfe_; }

 private:
  Denoiser& model_;
  const Process& process_;
  Guidance guidance_;
  X0Clip clip_;
  int64_t nfe_ = 0;
};

}  // namespace drift::diffusion
