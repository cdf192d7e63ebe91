#pragma once
// Shapes and strides (in elements, not bytes).
#include <cstdint>
#include <ostream>
#include <vector>

namespace drift {

using Shape = std::vector<int64_t>;

// The number of elements; throws on a negative size or a product past int64.
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);  // row-major
std::string shape_str(const Shape& s);     // "[2, 3, 4]"
// NumPy broadcasting of two shapes (right-aligned; sizes equal or 1). Throws on mismatch.
Shape broadcast_shapes(const Shape& a, const Shape& b);
// Normalises a possibly negative dim for a tensor of rank `ndim`; throws if out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim);

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << shape_str(s); }

}  // namespace drift
