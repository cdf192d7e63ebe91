#pragma once
// Argument checks shared by the op frontends (tensor/ops_*.cpp). Messages
// name the op, the argument and what was expected.
#include "tensor/ops.h"

namespace drift::ops::checks {

inline void check_defined(const Tensor& t, const char* op, const char* name) {
  DRIFT_CHECK(t.defined(), op, ": argument '", name, "' is an undefined tensor");
}

inline void check_same(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
  DRIFT_CHECK(a.dtype() == b.dtype(), op, ": '", an, "' is ", dtype_name(a.dtype()), " but '", bn, "' is ",
              dtype_name(b.dtype()), " (expected the same dtype)");
  DRIFT_CHECK(a.device() == b.device(), op, ": '", an, "' is on ", device_name(a.device()), " but '", bn,
              "' is on ", device_name(b.device()), " (expected the same device)");
}

inline void check_floating(const Tensor& t, const char* op) {
  DRIFT_CHECK(is_floating(t.dtype()), op, ": expected a float32 or float64 tensor, got ", dtype_name(t.dtype()));
}

// t itself when contiguous, else a contiguous copy.
inline Tensor contig(const Tensor& t) { return t.is_contiguous() ? t : contiguous(t); }

}  // namespace drift::ops::checks
