#include "diffusion/denoiser.h"

namespace drift::diffusion {

Tensor GuidedModel::raw(const Tensor& x, double t) {
  const int64_t n = x.size(0);
  Tensor tt = ops::full({n}, t, x.dtype(), x.device());
  const Tensor& labels = guidance_.labels;
  if (!labels.defined()) {
    ++nfe_;
    return model_.predict(x, tt, Tensor());
  }
  DRIFT_CHECK(labels.dim() == 1 && labels.size(0) == n, "GuidedModel: expected labels of shape [", n,
              "], got ", shape_str(labels.shape()));
  ++nfe_;
  Tensor cond = model_.predict(x, tt, labels);
  if (guidance_.scale == 1.0) return cond;
  ++nfe_;
  Tensor uncond = model_.predict(x, tt, ops::full({n}, double(kNullLabel), DType::Int64, x.device()));
  // pred = pred(null) + w (pred(c) - pred(null))   (Ho & Salimans 2021, eq. 6)
  return add(uncond, mul(sub(cond, uncond), guidance_.scale));
}

GuidedModel::Pred GuidedModel::eps_x0(const Tensor& x, double t) {
  Tensor out = raw(x, t);
  const double a = process_.alpha(t), s = process_.sigma(t);
  return {eps_from(model_.target(), out, x, a, s), x0_from(model_.target(), out, x, a, s)};
}

Tensor GuidedModel::eps(const Tensor& x, double t) {
  return eps_from(model_.target(), raw(x, t), x, process_.alpha(t), process_.sigma(t));
}

Tensor GuidedModel::x0(const Tensor& x, double t) {
  return x0_from(model_.target(), raw(x, t), x, process_.alpha(t), process_.sigma(t));
}

Tensor GuidedModel::score(const Tensor& x, double t) { return score_from_eps(eps(x, t), process_.sigma(t)); }

}  // namespace drift::diffusion
