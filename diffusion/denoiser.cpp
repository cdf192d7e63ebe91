#include "diffusion/denoiser.h"

#include <algorithm>
#include <cmath>
#include <vector>

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
  Pred p{Tensor(), x0_from(model_.target(), out, x, a, s)};
  if (clip_.mode == X0ClipMode::None) {
    p.eps = eps_from(model_.target(), out, x, a, s);
  } else {
    p.x0 = clip_x0(p.x0, clip_);
    p.eps = eps_from(Prediction::X0, p.x0, x, a, s);  // eps = (x_t - alpha x0) / sigma
  }
  return p;
}

Tensor GuidedModel::eps(const Tensor& x, double t) {
  if (clip_.mode != X0ClipMode::None) return eps_x0(x, t).eps;
  return eps_from(model_.target(), raw(x, t), x, process_.alpha(t), process_.sigma(t));
}

Tensor GuidedModel::x0(const Tensor& x, double t) {
  if (clip_.mode != X0ClipMode::None) return eps_x0(x, t).x0;
  return x0_from(model_.target(), raw(x, t), x, process_.alpha(t), process_.sigma(t));
}

Tensor GuidedModel::score(const Tensor& x, double t) { return score_from_eps(eps(x, t), process_.sigma(t)); }

Tensor GuidedModel::velocity(const Tensor& x, double t) {
  Pred p = eps_x0(x, t);
  return add(mul(p.x0, process_.dalpha(t)), mul(p.eps, process_.dsigma(t)));  // alpha' x0 + sigma' eps
}

Tensor clip_x0(const Tensor& x0, const X0Clip& clip) {
  switch (clip.mode) {
    case X0ClipMode::None: return x0;
    case X0ClipMode::Clip: return clamp(x0, -1.0, 1.0);
    case X0ClipMode::Dynamic: {
      DRIFT_CHECK(clip.percentile > 0 && clip.percentile <= 1, "x0 dynamic thresholding: expected a percentile in (0, 1], got ",
                  clip.percentile);
      const int64_t n = x0.size(0), per = x0.numel() / std::max<int64_t>(n, 1);
      std::vector<double> v = ops::to_vector_f64(x0), s(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> row(v.begin() + i * per, v.begin() + (i + 1) * per);
        for (double& y : row) y = std::abs(y);
        // the `percentile` quantile of |x0| (nearest rank), at least 1
        const size_t k = std::min<size_t>(row.size() - 1, size_t(std::ceil(clip.percentile * double(per))) - 1);
        std::nth_element(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(k), row.end());
        s[i] = std::max(1.0, row[k]);
      }
      Shape bshape(static_cast<size_t>(x0.dim()), 1);
      bshape[0] = n;
      Tensor st = ops::to(ops::to(ops::from_vector(s, bshape), x0.device()), x0.dtype());
      return div(maximum(minimum(x0, st), neg(st)), st);  // clamp(x0, -s, s) / s
    }
  }
  return x0;
}

}  // namespace drift::diffusion
