// Reductions over any set of dims. The kernels reduce the middle dim of a
// contiguous [outer, reduce, inner] view (tensor/op.h ReduceParams); a set of
// dims is split into maximal runs of adjacent dims and each run is one kernel
// call, last run first. Reducing NCHW over (0, 2, 3) is thus two calls,
// [N*C, H*W, 1] then [1, N, C], with no permuted copy.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/backend.h"
#include "tensor/ops.h"

namespace drift::ops {

namespace {

// Sorted, unique, non-negative dims; an empty list means every dim.
std::vector<int64_t> normalize_dims(const Tensor& x, const std::vector<int64_t>& dims, const char* fn) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) {
    DRIFT_CHECK(x.dim() > 0 || d == 0 || d == -1, fn, ": dim ", d, " out of range for a 0-d tensor");
    if (x.dim() == 0) continue;
    int64_t w = wrap_dim(d, x.dim());
    DRIFT_CHECK(std::find(out.begin(), out.end(), w) == out.end(), fn, ": dim ", d, " repeated in ",
                shape_str(dims));
    out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The result shape: reduced dims dropped, or kept with size 1.
Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    bool reduced = std::find(dims.begin(), dims.end(), d) != dims.end();
    if (!reduced) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

int64_t reduced_count(const Shape& shape, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= shape[d];
  return n;
}

// One kernel call: reduces dims [d0, d1] of the contiguous tensor x.
Tensor reduce_run(OpKind op, const Tensor& x, int64_t d0, int64_t d1, DType out_dtype) {
  const Shape& s = x.shape();
  ReduceParams p{1, 1, 1};
  Shape out_shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < d0) { p.outer *= s[d]; out_shape.push_back(s[d]); }
    else if (d <= d1) { p.reduce *= s[d]; }
    else { p.inner *= s[d]; out_shape.push_back(s[d]); }
  }
  Tensor out = empty(out_shape, out_dtype, x.device());
  if (out.numel() == 0) return out;
  KernelArgs args;
  args.in[0] = &x;
  args.out[0] = &out;
  args.params = &p;
  dispatch(op, x.device(), args);
  return out;
}

// Sum/Max/Min over sorted dims, one run of adjacent dims at a time.
Tensor reduce_dims(OpKind op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Shape final_shape = reduced_shape(x.shape(), dims, keepdim);
  if (dims.empty()) return reshape(clone(x), final_shape);  // a 0-d tensor: nothing to reduce
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (int64_t d : dims) {
    if (!runs.empty() && runs.back().second + 1 == d) runs.back().second = d;
    else runs.push_back({d, d});
  }
  Tensor cur = contiguous(x);
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) cur = reduce_run(op, cur, it->first, it->second, x.dtype());
  return view(cur, final_shape);
}

void check_nonempty(const Tensor& x, const std::vector<int64_t>& dims, const char* fn) {
  for (int64_t d : dims)
    DRIFT_CHECK(x.shape()[d] > 0, fn, ": cannot reduce over dim ", d, " of size 0 (shape ", shape_str(x.shape()), ")");
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce_dims(OpKind::Sum, x, normalize_dims(x, dims, "sum"), keepdim);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  DRIFT_CHECK(is_floating(x.dtype()), "mean: expected a float32 or float64 tensor, got ", dtype_name(x.dtype()));
  std::vector<int64_t> d = normalize_dims(x, dims, "mean");
  int64_t n = reduced_count(x.shape(), d);
  Tensor s = reduce_dims(OpKind::Sum, x, d, keepdim);
  return mul(s, n > 0 ? 1.0 / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN());
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, int64_t correction) {
  DRIFT_CHECK(is_floating(x.dtype()), "var: expected a float32 or float64 tensor, got ", dtype_name(x.dtype()));
  std::vector<int64_t> d = normalize_dims(x, dims, "var");
  int64_t n = reduced_count(x.shape(), d);
  // Two passes: var = sum((x - mean)^2) / (n - correction)
  Tensor m = mean(x, d, /*keepdim=*/true);
  Tensor diff = sub(x, m);
  Tensor ss = reduce_dims(OpKind::Sum, mul(diff, diff), d, keepdim);
  double denom = static_cast<double>(n - correction);
  // n <= correction gives inf or NaN, as in PyTorch.
  return mul(ss, denom > 0 ? 1.0 / denom : std::numeric_limits<double>::infinity());
}

Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int64_t> d = normalize_dims(x, dims, "amax");
  check_nonempty(x, d, "amax");
  return reduce_dims(OpKind::Max, x, d, keepdim);
}

Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int64_t> d = normalize_dims(x, dims, "amin");
  check_nonempty(x, d, "amin");
  return reduce_dims(OpKind::Min, x, d, keepdim);
}

namespace {
Tensor arg_reduce(OpKind op, const char* fn, const Tensor& x, int64_t dim, bool keepdim) {
  if (x.dim() == 0) {
    DRIFT_CHECK(dim == 0 || dim == -1, fn, ": dim ", dim, " out of range for a 0-d tensor");
    return zeros({}, DType::Int64, x.device());
  }
  int64_t d = wrap_dim(dim, x.dim());
  check_nonempty(x, {d}, fn);
  Tensor out = reduce_run(op, contiguous(x), d, d, DType::Int64);
  return view(out, reduced_shape(x.shape(), {d}, keepdim));
}
}  // namespace

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce(OpKind::ArgMax, "argmax", x, dim, keepdim); }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce(OpKind::ArgMin, "argmin", x, dim, keepdim); }

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  DRIFT_CHECK(is_floating(x.dtype()), "logsumexp: expected a float32 or float64 tensor, got ",
              dtype_name(x.dtype()));
  std::vector<int64_t> d = normalize_dims(x, dims, "logsumexp");
  check_nonempty(x, d, "logsumexp");
  // logsumexp(x) = m + log(sum(exp(x - m))), m = max(x); an infinite m is replaced by 0
  // so that all -inf gives -inf and a +inf gives +inf (not NaN).
  Tensor m = reduce_dims(OpKind::Max, x, d, /*keepdim=*/true);
  Tensor m_inf = eq(abs(m), full_like(m, std::numeric_limits<double>::infinity()));
  Tensor m_safe = where(m_inf, zeros_like(m), m);
  Tensor s = reduce_dims(OpKind::Sum, exp(sub(x, m_safe)), d, /*keepdim=*/true);
  Tensor out = add(log(s), m_safe);
  return keepdim ? out : view(out, reduced_shape(x.shape(), d, false));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  DRIFT_CHECK(static_cast<int64_t>(shape.size()) <= x.dim(), "sum_to: target shape ", shape_str(shape),
              " has more dims than the tensor's shape ", shape_str(x.shape()));
  int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    int64_t want = shape[d - lead], have = x.shape()[d];
    DRIFT_CHECK(want == have || want == 1, "sum_to: cannot reduce shape ", shape_str(x.shape()), " to ",
                shape_str(shape), ": dim ", d, " has size ", have, " (expected ", want, " or 1 in the target)");
    if (want == 1 && have != 1) dims.push_back(d);
  }
  if (dims.empty()) return x.shape() == shape ? x : view(x, shape);
  return view(reduce_dims(OpKind::Sum, x, dims, /*keepdim=*/true), shape);
}

}  // namespace drift::ops
