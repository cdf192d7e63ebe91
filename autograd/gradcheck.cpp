// Numerical gradient checking: analytic gradients from backward() against
// central differences (f(x + h e_i) - f(x - h e_i)) / 2h, all in float64.
#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "autograd/functions.h"

namespace drift {

namespace {

// "[1, 0, 2]": the multi-index of flat element `flat` in a row-major `shape`.
std::string index_str(int64_t flat, const Shape& shape) {
  Shape idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}

// The projected scalar sum(fn(xs) * r), evaluated without recording a graph.
double projected(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& xs,
                 const Tensor& r) {
  return ops::item(ops::sum(ops::mul(fn(xs), r)));
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    DRIFT_CHECK(x.defined(), "gradcheck: input ", i, " is undefined");
    DRIFT_CHECK(x.dtype() == DType::Float64, "gradcheck: input ", i, " must be float64 (central differences "
                "need the precision), got ", dtype_name(x.dtype()));
    DRIFT_CHECK(x.requires_grad() && x.is_leaf(), "gradcheck: input ", i,
                " must be a leaf that requires grad (call set_requires_grad())");
  }

  // ---- analytic: one backward pass of sum(fn(x) * r), r a fixed random projection
  std::vector<Tensor> analytic(inputs.size());
  Tensor r;
  {
    bool prev_mode = grad_enabled();
    set_grad_enabled(true);
    Tensor out;
    try {
      out = fn(inputs);
    } catch (...) {
      set_grad_enabled(prev_mode);
      throw;
    }
    set_grad_enabled(prev_mode);
    DRIFT_CHECK(out.dtype() == DType::Float64, "gradcheck: fn must return float64, got ", dtype_name(out.dtype()));
    std::mt19937_64 rng(20240601);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<double> rv(static_cast<size_t>(out.numel()));
    for (double& v : rv) v = uniform(rng);
    r = ops::from_vector(rv, out.shape(), out.device());

    Tensor loss = sum(mul(out, r));
    if (loss.requires_grad()) {
      std::vector<Tensor> previous;
      for (const Tensor& x : inputs) previous.push_back(x.grad());
      for (Tensor x : inputs) x.set_grad(Tensor());
      backward(loss);
      for (size_t i = 0; i < inputs.size(); ++i) {
        analytic[i] = inputs[i].grad();
        Tensor x = inputs[i];
        x.set_grad(previous[i]);  // leave the caller's .grad as it was
      }
    }
  }

  // ---- numeric: central differences on contiguous copies of the inputs
  NoGradGuard no_grad;
  std::vector<Tensor> xs;
  for (const Tensor& x : inputs) xs.push_back(ops::clone(x));

  GradcheckResult res;
  int64_t failures = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    std::vector<double> a = analytic[i].defined() ? ops::to_vector_f64(analytic[i])
                                                  : std::vector<double>(static_cast<size_t>(xs[i].numel()), 0.0);
    std::vector<double> host = ops::to_vector_f64(xs[i]);
    for (int64_t j = 0; j < xs[i].numel(); ++j) {
      const double orig = host[j];
      auto eval_at = [&](double v) {
        host[j] = v;
        xs[i] = ops::from_vector(host, inputs[i].shape(), inputs[i].device());
        return projected(fn, xs, r);
      };
      const double f_plus = eval_at(orig + eps), f_minus = eval_at(orig - eps);
      host[j] = orig;
      const double numeric = (f_plus - f_minus) / (2 * eps);

      const double err = std::abs(a[j] - numeric);
      const double scale = std::max(std::abs(a[j]), std::abs(numeric));
      const double rel = scale > 0 ? err / scale : 0.0;
      res.max_abs_err = std::max(res.max_abs_err, err);
      res.max_rel_err = std::max(res.max_rel_err, rel);
      const bool bad = !(err <= atol + rtol * std::abs(numeric));  // also catches NaN
      if (bad) {
        if (failures == 0) {
          res.message = str("gradcheck: input ", i, " (shape ", shape_str(inputs[i].shape()), ") element ", j, " ",
                            index_str(j, inputs[i].shape()), ": analytic ", a[j], " vs numeric ", numeric,
                            " (abs err ", err, ", allowed ", atol + rtol * std::abs(numeric), ")");
        }
        ++failures;
      }
    }
    xs[i] = ops::from_vector(host, inputs[i].shape(), inputs[i].device());
  }
  if (failures > 0) {
    res.ok = false;
    if (failures > 1) res.message += str("; ", failures - 1, " more elements disagree");
  }
  return res;
}

}  // namespace drift
