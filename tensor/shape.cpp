#include "tensor/shape.h"

#include <sstream>

#include "tensor/error.h"

namespace drift {

int64_t shape_numel(const Shape& s) {
  // Shapes can come from files, so the product is checked: every size >= 0,
  // and the product of the non-zero sizes must fit in int64 (then every
  // contiguous stride fits too, even when some size is 0).
  int64_t n = 1, nonzero = 1;
  for (int64_t d : s) {
    DRIFT_CHECK(d >= 0, "shape ", shape_str(s), " has a negative size");
    if (d == 0) {
      n = 0;
      continue;
    }
    DRIFT_CHECK(!__builtin_mul_overflow(nonzero, d, &nonzero), "shape ", shape_str(s),
                " has more than 2^63 - 1 elements");
  }
  return n == 0 ? 0 : nonzero;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DRIFT_CHECK(da == db || da == 1 || db == 1, "shapes ", shape_str(a), " and ", shape_str(b),
                " cannot be broadcast: dim ", i, " has sizes ", da, " and ", db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  DRIFT_CHECK(dim >= lo && dim <= hi, "dim ", dim, " out of range for a tensor of rank ", ndim,
              " (expected a dim in [", lo, ", ", hi, "])");
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

}  // namespace drift
