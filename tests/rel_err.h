#pragma once
// Relative error of a result against a reference, shared by the parity tests
// (test_parity_unet.cpp, test_cuda_unet.cpp, test_cuda_sampling.cpp):
//   max|ours - ref| / max|ref|   (the plain max difference when ref is all 0)
// Either tensor may live on any device; both are read as float64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/ops.h"

namespace drift::testing {

inline double rel_err(const Tensor& ours, const Tensor& ref) {
  std::vector<double> a = ops::to_vector_f64(ours), b = ops::to_vector_f64(ref);
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

}  // namespace drift::testing
