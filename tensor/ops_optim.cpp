// Frontend of the fused optimizer updates (AdamStep): argument checks and
// dispatch. The kernels update the tensors in place.
#include <cmath>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/ops.h"

namespace drift::ops {

void adam_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs, const AdamHyper& h) {
  const size_t n = params.size();
  DRIFT_CHECK(grads.size() == n && exp_avgs.size() == n && exp_avg_sqs.size() == n, "adam_step_: ", n,
              " params but ", grads.size(), " grads, ", exp_avgs.size(), " exp_avgs and ", exp_avg_sqs.size(),
              " exp_avg_sqs (expected equal counts)");
  DRIFT_CHECK(h.step >= 1, "adam_step_: step counts from 1, got ", h.step);
  DRIFT_CHECK(h.beta1 >= 0 && h.beta1 < 1 && h.beta2 >= 0 && h.beta2 < 1, "adam_step_: betas must be in [0, 1), got ",
              h.beta1, ", ", h.beta2);
  if (n == 0) return;
  const DType dt = params[0].dtype();
  const Device dev = params[0].device();
  DRIFT_CHECK(is_floating(dt), "adam_step_: expected float32 or float64 tensors, got ", dtype_name(dt));
  std::vector<Tensor*> p(n), m(n), v(n);
  std::vector<const Tensor*> g(n);
  std::vector<Tensor> keep(params.begin(), params.end());  // handles the kernel writes through
  std::vector<Tensor> keep_m(exp_avgs.begin(), exp_avgs.end()), keep_v(exp_avg_sqs.begin(), exp_avg_sqs.end());
  for (size_t i = 0; i < n; ++i) {
    const Tensor* quad[4] = {&params[i], &grads[i], &exp_avgs[i], &exp_avg_sqs[i]};
    static const char* names[4] = {"param", "grad", "exp_avg", "exp_avg_sq"};
    for (int k = 0; k < 4; ++k) {
      const Tensor& t = *quad[k];
      DRIFT_CHECK(t.defined(), "adam_step_: ", names[k], " ", i, " is undefined");
      DRIFT_CHECK(t.dtype() == dt && t.device() == dev, "adam_step_: ", names[k], " ", i, " is ", dtype_name(t.dtype()),
                  " on ", device_name(t.device()), ", expected ", dtype_name(dt), " on ", device_name(dev));
      DRIFT_CHECK(t.shape() == params[i].shape(), "adam_step_: ", names[k], " ", i, " has shape ", shape_str(t.shape()),
                  ", expected the param's ", shape_str(params[i].shape()));
      DRIFT_CHECK(t.is_contiguous(), "adam_step_: ", names[k], " ", i, " is not contiguous");
    }
    p[i] = &keep[i];
    g[i] = &grads[i];
    m[i] = &keep_m[i];
    v[i] = &keep_v[i];
  }
  AdamStepParams ap{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.decoupled,
                    1.0 - std::pow(h.beta1, static_cast<double>(h.step)),
                    1.0 - std::pow(h.beta2, static_cast<double>(h.step)),
                    static_cast<int64_t>(n), p.data(), g.data(), m.data(), v.data()};
  KernelArgs args;
  args.out[0] = &keep[0];
  args.params = &ap;
  dispatch(OpKind::AdamStep, dev, args);
}

}  // namespace drift::ops
