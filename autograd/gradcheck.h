#pragma once
// Numerical gradient checking by central differences (in float64).
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace drift {

struct GradcheckResult {
  bool ok = true;
  double max_abs_err = 0, max_rel_err = 0;
  std::string message;  // which input and element disagreed, and by how much
};

// fn maps the inputs to any tensor; the check uses a random projection
// sum(fn(x) * r) so that one backward pass covers every output. Inputs must
// be float64 and require grad. d(sum(fn*r))/dx_i is compared against
// (f(x + h e_i) - f(x - h e_i)) / 2h for every element i of every input.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-3);

}  // namespace drift
