// CPU optimizer kernels: the fused Adam / AdamW step (AdamStepParams,
// tensor/op.h), one pass over p, g, m, v per element instead of the ~13
// allocating elementwise ops of the unfused formula (kept in nn/optim.cpp as
// the reference). All tensors of the list are walked as one index range, so
// the threads share the work evenly however the parameters are sized.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"

namespace drift::cpu {
namespace {

// The same operations, in the same order and precision, as the unfused chain
// of tensor ops (each scalar rounded to T first, as the Affine kernel does).
template <class T>
void adam_range(const AdamStepParams& a, int64_t t, int64_t b, int64_t e) {
  T* __restrict p = a.param[t]->data<T>();
  const T* __restrict g = a.grad[t]->data<T>();
  T* __restrict m = a.exp_avg[t]->data<T>();
  T* __restrict v = a.exp_avg_sq[t]->data<T>();
  const T b1 = T(a.beta1), c1 = T(1.0 - a.beta1), b2 = T(a.beta2), c2 = T(1.0 - a.beta2);
  const T wd = T(a.weight_decay), shrink = T(1.0 - a.lr * a.weight_decay);
  const T inv_sqrt_bc2 = T(1.0 / std::sqrt(a.bias_correction2)), eps = T(a.eps);
  const T step = T(a.lr / a.bias_correction1);
  const bool decay = a.weight_decay != 0, decoupled = a.decoupled;
  for (int64_t i = b; i < e; ++i) {
    T pi = p[i], gi = g[i];
    if (decay) {
      if (decoupled) pi = pi * shrink;  // p <- p (1 - lr wd)
      else gi = gi + p[i] * wd;         // g <- g + wd p
    }
    const T mi = m[i] * b1 + gi * c1;
    const T vi = v[i] * b2 + (gi * gi) * c2;
    m[i] = mi;
    v[i] = vi;
    const T denom = std::sqrt(vi) * inv_sqrt_bc2 + eps;
    p[i] = pi - (mi / denom) * step;
  }
}

void adam_step_kernel(const KernelArgs& args) {
  const AdamStepParams& a = args.p<AdamStepParams>();
  // Global element index -> (tensor, offset) through the prefix sums.
  std::vector<int64_t> start(static_cast<size_t>(a.count) + 1, 0);
  for (int64_t t = 0; t < a.count; ++t) start[t + 1] = start[t] + a.param[t]->numel();
  const bool f64 = a.count > 0 && a.param[0]->dtype() == DType::Float64;
  parallel_for(0, start.back(), kGrain, [&](int64_t b, int64_t e) {
    int64_t t = static_cast<int64_t>(std::upper_bound(start.begin(), start.end(), b) - start.begin()) - 1;
    for (; t < a.count && start[t] < e; ++t) {
      const int64_t lo = std::max(b, start[t]) - start[t], hi = std::min(e, start[t + 1]) - start[t];
      if (lo >= hi) continue;
      if (f64) adam_range<double>(a, t, lo, hi);
      else adam_range<float>(a, t, lo, hi);
    }
  });
}

}  // namespace

void register_optim_kernels(Backend& b) { b.kernels[static_cast<int>(OpKind::AdamStep)] = adam_step_kernel; }

}  // namespace drift::cpu
