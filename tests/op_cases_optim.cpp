// Cases: optimizer updates (optim): the fused Adam / AdamW step over a list
// of tensors. Reference: the formula of AdamStepParams (tensor/op.h) in
// float64 loops.
#include <cmath>

#include "tests/op_cases.h"

namespace drift::optest {
namespace {

// args = {p0, g0, m0, v0, p1, g1, m1, v1, ...}; returns pack({p0', m0', v0', p1', ...}).
Tensor run_adam(V x, const ops::AdamHyper& h) {
  std::vector<Tensor> p, g, m, v;
  for (size_t k = 0; k + 3 < x.size(); k += 4) {
    p.push_back(ops::clone(x[k]));  // the op updates in place: work on copies
    g.push_back(x[k + 1]);
    m.push_back(ops::clone(x[k + 2]));
    v.push_back(ops::clone(x[k + 3]));
  }
  ops::adam_step_(p, g, m, v, h);
  Tensors out;
  for (size_t k = 0; k < p.size(); ++k) out.insert(out.end(), {p[k], m[k], v[k]});
  return pack(out);
}

Tensor ref_adam(V x, const ops::AdamHyper& h) {
  const double bc1 = 1 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2 = 1 - std::pow(h.beta2, static_cast<double>(h.step));
  Tensors out;
  for (size_t k = 0; k + 3 < x.size(); k += 4) {
    Host p = host(x[k]), g = host(x[k + 1]), m = host(x[k + 2]), v = host(x[k + 3]);
    for (int64_t i = 0; i < p.numel(); ++i) {
      double gi = g.v[i], pi = p.v[i];
      if (h.weight_decay != 0) {
        if (h.decoupled) pi *= 1 - h.lr * h.weight_decay;
        else gi += h.weight_decay * p.v[i];
      }
      m.v[i] = h.beta1 * m.v[i] + (1 - h.beta1) * gi;
      v.v[i] = h.beta2 * v.v[i] + (1 - h.beta2) * gi * gi;
      p.v[i] = pi - h.lr / bc1 * m.v[i] / (std::sqrt(v.v[i]) / std::sqrt(bc2) + h.eps);
    }
    out.insert(out.end(), {tensor(p), tensor(m), tensor(v)});
  }
  return pack(out);
}

}  // namespace

DRIFT_OP_CASES(optim) {
  struct Variant {
    const char* what;
    ops::AdamHyper h;
  };
  const Variant variants[] = {
      {"Adam, step 1, two tensors", {1e-2, 0.9, 0.999, 1e-8, 0, false, 1}},
      {"Adam with L2 weight decay, step 7", {1e-2, 0.8, 0.95, 1e-6, 0.1, false, 7}},
      {"AdamW (decoupled weight decay), step 3", {3e-2, 0.9, 0.99, 1e-8, 0.05, true, 3}},
  };
  for (const Variant& var : variants) {
    const ops::AdamHyper h = var.h;
    OpCase a{"AdamStep", var.what,
             {in({4, 33}), in({4, 33}), in({4, 33}, -0.1, 0.1), in({4, 33}, 0, 0.01),
              in({7}), in({7}), in({7}, -0.1, 0.1), in({7}, 0, 0.01)},
             [h](V x) { return run_adam(x, h); },
             [h](V x) { return ref_adam(x, h); }};
    a.tol32 = 1e-5;
    a.bytes = 7.0 * 4 * (4 * 33 + 7);
    c.push_back(a);
  }
}

}  // namespace drift::optest
