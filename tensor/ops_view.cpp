// Views: new shape/strides/offset over the same Storage, no data copied.
// (reshape is the one exception: it copies when no view can express the result.)
#include <algorithm>
#include <optional>

#include "tensor/ops.h"

namespace drift::ops {

namespace {
Tensor make_view(const Tensor& t, Shape shape, Shape strides, int64_t offset) {
  return Tensor(t.storage(), std::move(shape), std::move(strides), offset, t.dtype());
}

// Replaces a single -1 in `shape` by the size that keeps numel.
Shape infer_shape(const Shape& shape, int64_t numel, const char* fn, const Shape& from) {
  Shape out = shape;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      DRIFT_CHECK(infer_at < 0, fn, ": only one -1 allowed in shape ", shape_str(shape));
      infer_at = static_cast<int64_t>(i);
    } else {
      DRIFT_CHECK(out[i] >= 0, fn, ": invalid size ", out[i], " in shape ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer_at >= 0) {
    DRIFT_CHECK(known != 0 && numel % known == 0, fn, ": cannot infer -1 in shape ", shape_str(shape),
                " for a tensor of shape ", shape_str(from), " (", numel, " elements)");
    out[infer_at] = numel / known;
  }
  DRIFT_CHECK(shape_numel(out) == numel, fn, ": shape ", shape_str(shape), " (", shape_numel(out),
              " elements) does not match a tensor of shape ", shape_str(from), " (", numel, " elements)");
  return out;
}

// Strides that let `new_shape` view memory laid out as (old_shape, old_strides),
// or nothing if that needs a copy. Each maximal run of old dims that is
// contiguous in memory ("chunk") must map onto whole new dims (PyTorch's rule).
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape) {
  Shape new_strides(new_shape.size());
  if (shape_numel(old_shape) == 0 || old_shape.empty()) return contiguous_strides(new_shape);
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[tensor_d];
    bool chunk_ends = tensor_d == 0 || (old_shape[tensor_d - 1] != 1 &&
                                        old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
    if (chunk_ends) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}
}  // namespace

Tensor view(const Tensor& t, const Shape& shape) {
  Shape s = infer_shape(shape, t.numel(), "view", t.shape());
  std::optional<Shape> st = view_strides(t.shape(), t.strides(), s);
  DRIFT_CHECK(st.has_value(), "view: cannot view a tensor of shape ", shape_str(t.shape()), " and strides ",
              shape_str(t.strides()), " as shape ", shape_str(s), " without copying (use reshape)");
  return make_view(t, s, *st, t.offset());
}

Tensor reshape(const Tensor& t, const Shape& shape) {
  Shape s = infer_shape(shape, t.numel(), "reshape", t.shape());
  std::optional<Shape> st = view_strides(t.shape(), t.strides(), s);
  if (st) return make_view(t, s, *st, t.offset());
  Tensor c = clone(t);  // contiguous copy, then a view of it
  return make_view(c, s, contiguous_strides(s), c.offset());
}

Tensor flatten(const Tensor& t, int64_t start_dim, int64_t end_dim) {
  int64_t n = t.dim();
  if (n == 0) return reshape(t, {1});
  int64_t s = wrap_dim(start_dim, n), e = wrap_dim(end_dim, n);
  DRIFT_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim, " for shape ",
              shape_str(t.shape()));
  Shape out;
  for (int64_t i = 0; i < s; ++i) out.push_back(t.size(i));
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= t.size(i);
  out.push_back(m);
  for (int64_t i = e + 1; i < n; ++i) out.push_back(t.size(i));
  return reshape(t, out);
}

Tensor permute(const Tensor& t, const std::vector<int64_t>& dims) {
  int64_t n = t.dim();
  DRIFT_CHECK(static_cast<int64_t>(dims.size()) == n, "permute: got ", dims.size(), " dims ", shape_str(dims),
              " for a tensor of rank ", n, " (shape ", shape_str(t.shape()), ")");
  Shape shape(n), strides(n);
  std::vector<bool> seen(n, false);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrap_dim(dims[i], n);
    DRIFT_CHECK(!seen[d], "permute: dim ", dims[i], " repeated in ", shape_str(dims));
    seen[d] = true;
    shape[i] = t.shape()[d];
    strides[i] = t.strides()[d];
  }
  return make_view(t, shape, strides, t.offset());
}

Tensor transpose(const Tensor& t, int64_t d0, int64_t d1) {
  int64_t n = t.dim();
  if (n == 0) return make_view(t, t.shape(), t.strides(), t.offset());
  int64_t a = wrap_dim(d0, n), b = wrap_dim(d1, n);
  Shape shape = t.shape(), strides = t.strides();
  std::swap(shape[a], shape[b]);
  std::swap(strides[a], strides[b]);
  return make_view(t, shape, strides, t.offset());
}

Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length) {
  int64_t d = wrap_dim(dim, t.dim());
  int64_t size = t.shape()[d];
  if (start < 0) start += size;
  DRIFT_CHECK(start >= 0 && length >= 0 && start + length <= size, "narrow: range [", start, ", ",
              start + length, ") out of bounds for dim ", dim, " of size ", size, " (shape ",
              shape_str(t.shape()), ")");
  Shape shape = t.shape();
  shape[d] = length;
  return make_view(t, shape, t.strides(), t.offset() + start * t.strides()[d]);
}

Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step) {
  int64_t d = wrap_dim(dim, t.dim());
  DRIFT_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t size = t.shape()[d];
  // Python slicing: negative indices count from the end, out-of-range ones clamp.
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  Shape shape = t.shape(), strides = t.strides();
  shape[d] = (end - start + step - 1) / step;
  strides[d] = t.strides()[d] * step;
  return make_view(t, shape, strides, t.offset() + start * t.strides()[d]);
}

Tensor select(const Tensor& t, int64_t dim, int64_t index) {
  DRIFT_CHECK(t.dim() > 0, "select: cannot select from a 0-d tensor");
  int64_t d = wrap_dim(dim, t.dim());
  int64_t size = t.shape()[d];
  DRIFT_CHECK(index >= -size && index < size, "select: index ", index, " out of range for dim ", dim,
              " of size ", size, " (shape ", shape_str(t.shape()), ")");
  if (index < 0) index += size;
  Shape shape = t.shape(), strides = t.strides();
  int64_t offset = t.offset() + index * strides[d];
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return make_view(t, shape, strides, offset);
}

Tensor expand(const Tensor& t, const Shape& shape) {
  int64_t n = static_cast<int64_t>(shape.size()), m = t.dim();
  DRIFT_CHECK(n >= m, "expand: target shape ", shape_str(shape), " has fewer dims than the tensor's shape ",
              shape_str(t.shape()));
  Shape out(n), strides(n);
  for (int64_t i = n - 1; i >= 0; --i) {
    int64_t j = i - (n - m);  // matching dim of t (right-aligned), or < 0 for a new leading dim
    if (j >= 0) {
      int64_t have = t.shape()[j], want = shape[i] == -1 ? have : shape[i];
      DRIFT_CHECK(want == have || have == 1, "expand: cannot expand shape ", shape_str(t.shape()), " to ",
                  shape_str(shape), ": dim ", i, " has size ", have, " (expected ", want, " or 1)");
      out[i] = want;
      strides[i] = want == have ? t.strides()[j] : 0;
    } else {
      DRIFT_CHECK(shape[i] >= 0, "expand: size -1 is not allowed for new leading dim ", i, " in ",
                  shape_str(shape));
      out[i] = shape[i];
      strides[i] = 0;
    }
  }
  return make_view(t, out, strides, t.offset());
}

Tensor broadcast_to(const Tensor& t, const Shape& shape) {
  Shape b = broadcast_shapes(t.shape(), shape);
  DRIFT_CHECK(b == shape, "broadcast_to: cannot broadcast shape ", shape_str(t.shape()), " to ", shape_str(shape));
  return expand(t, shape);
}

Tensor squeeze(const Tensor& t, int64_t dim) {
  if (t.dim() == 0) return make_view(t, t.shape(), t.strides(), t.offset());
  int64_t d = wrap_dim(dim, t.dim());
  if (t.shape()[d] != 1) return make_view(t, t.shape(), t.strides(), t.offset());  // PyTorch: no-op
  Shape shape = t.shape(), strides = t.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return make_view(t, shape, strides, t.offset());
}

Tensor squeeze(const Tensor& t) {
  Shape shape, strides;
  for (int64_t i = 0; i < t.dim(); ++i) {
    if (t.shape()[i] == 1) continue;
    shape.push_back(t.shape()[i]);
    strides.push_back(t.strides()[i]);
  }
  return make_view(t, shape, strides, t.offset());
}

Tensor unsqueeze(const Tensor& t, int64_t dim) {
  int64_t n = t.dim();
  DRIFT_CHECK(dim >= -(n + 1) && dim <= n, "unsqueeze: dim ", dim, " out of range for a tensor of rank ", n,
              " (expected a dim in [", -(n + 1), ", ", n, "])");
  int64_t d = dim < 0 ? dim + n + 1 : dim;
  Shape shape = t.shape(), strides = t.strides();
  int64_t st = d < n ? shape[d] * strides[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, st);
  return make_view(t, shape, strides, t.offset());
}

std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim) {
  int64_t d = wrap_dim(dim, t.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    DRIFT_CHECK(s >= 0, "split: negative size in ", shape_str(sizes));
    total += s;
  }
  DRIFT_CHECK(total == t.shape()[d], "split: sizes ", shape_str(sizes), " sum to ", total, " but dim ", dim,
              " of shape ", shape_str(t.shape()), " has size ", t.shape()[d]);
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(t, d, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim) {
  DRIFT_CHECK(chunks > 0, "chunk: number of chunks must be positive, got ", chunks);
  int64_t d = wrap_dim(dim, t.dim());
  int64_t size = t.shape()[d];
  int64_t each = (size + chunks - 1) / chunks;  // PyTorch: ceil; the last chunk may be smaller
  std::vector<int64_t> sizes;
  for (int64_t start = 0; start < size; start += each) sizes.push_back(std::min(each, size - start));
  if (sizes.empty()) sizes.push_back(0);
  return split(t, sizes, d);
}

}  // namespace drift::ops
