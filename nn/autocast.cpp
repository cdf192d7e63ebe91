#include "nn/autocast.h"

#include <cmath>

namespace drift::nn {

namespace {
thread_local Precision g_autocast = Precision::FP32;
}

DType precision_dtype(Precision p) {
  switch (p) {
    case Precision::BF16: return DType::BFloat16;
    case Precision::FP16: return DType::Float16;
    default: return DType::Float32;
  }
}

Autocast::Autocast(Precision p) : prev_(g_autocast) { g_autocast = p; }
Autocast::~Autocast() { g_autocast = prev_; }
Precision autocast_precision() { return g_autocast; }

Tensor autocast_operand(const Tensor& t) {
  if (g_autocast == Precision::FP32 || !t.defined() || t.dtype() != DType::Float32) return t;
  return to(t, precision_dtype(g_autocast));  // differentiable: the gradient is widened back
}
Tensor autocast_result(const Tensor& t) {
  if (!t.defined() || !is_half(t.dtype())) return t;
  return to(t, DType::Float32);
}

void GradScaler::unscale(const std::vector<Tensor>& params) const {
  NoGradGuard no_grad;
  const double inv = 1.0 / scale_;
  for (const Tensor& p : params) {
    Tensor t = p;
    Tensor g = t.grad();
    if (g.defined()) t.set_grad(ops::mul(g, inv));
  }
}

void GradScaler::update(bool found_inf) {
  if (found_inf) {
    scale_ *= 0.5;  // backoff
    good_ = 0;
    ++skipped_;
    return;
  }
  if (++good_ >= growth_interval_) {
    scale_ *= 2.0;  // growth
    good_ = 0;
  }
}

void GradScaler::restore(double scale, int64_t good_steps, int64_t skipped) {
  DRIFT_CHECK(scale > 0 && std::isfinite(scale), "GradScaler: loss scale must be positive and finite, got ", scale);
  DRIFT_CHECK(good_steps >= 0 && good_steps < growth_interval_, "GradScaler: good steps must be in [0, ",
              growth_interval_, "), got ", good_steps);
  DRIFT_CHECK(skipped >= 0, "GradScaler: skipped steps must be >= 0, got ", skipped);
  scale_ = scale;
  good_ = good_steps;
  skipped_ = skipped;
}

}  // namespace drift::nn
