// Utilities for tests and tools: closeness checks, device synchronisation.
#include <cmath>

#include "tensor/backend.h"
#include "tensor/ops.h"

namespace drift::ops {

namespace {
// Host copies of a and b broadcast to a common shape (as float64).
void broadcast_host(const Tensor& a, const Tensor& b, const char* fn, std::vector<double>& av,
                    std::vector<double>& bv) {
  Shape shape;
  try {
    shape = broadcast_shapes(a.shape(), b.shape());
  } catch (const Error& e) {
    throw Error(str(fn, ": ", e.what()));
  }
  av = to_vector_f64(expand(a, shape));
  bv = to_vector_f64(expand(b, shape));
}
}  // namespace

// |a - b| <= atol + rtol * |b| everywhere (NumPy/PyTorch semantics; NaN is never close;
// equal infinities are).
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  std::vector<double> av, bv;
  broadcast_host(a, b, "allclose", av, bv);
  for (size_t i = 0; i < av.size(); ++i) {
    if (av[i] == bv[i]) continue;
    double d = std::fabs(av[i] - bv[i]);
    if (!(d <= atol + rtol * std::fabs(bv[i]))) return false;  // also false for NaN
  }
  return true;
}

// max |a - b| (NaN if either holds a NaN where the other differs; 0 for empty tensors).
double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> av, bv;
  broadcast_host(a, b, "max_abs_diff", av, bv);
  double m = 0;
  for (size_t i = 0; i < av.size(); ++i) {
    if (av[i] == bv[i]) continue;
    double d = std::fabs(av[i] - bv[i]);
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

void synchronize(Device d) { backend(d).synchronize(); }

}  // namespace drift::ops
