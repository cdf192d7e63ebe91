// Copies: contiguous/clone, dtype and device conversion, copy_/fill_, cat/stack, host access.
#include <cstring>

#include "tensor/backend.h"
#include "tensor/ops.h"

namespace drift::ops {

namespace {
// dst <- src, same device, src already of dst's shape (possibly a broadcast view).
void run_copy(Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  KernelArgs args;
  args.in[0] = &src;
  args.out[0] = &dst;
  dispatch(OpKind::Copy, dst.device(), args);
}
}  // namespace

Tensor contiguous(const Tensor& t) { return t.is_contiguous() ? t : clone(t); }

Tensor clone(const Tensor& t) {
  Tensor out = empty(t.shape(), t.dtype(), t.device());
  run_copy(out, t);
  return out;
}

Tensor to(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = empty(t.shape(), dtype, t.device());
  run_copy(out, t);
  return out;
}

Tensor to(const Tensor& t, Device device) {
  if (t.device() == device) return t;
  Tensor src = contiguous(t);
  Tensor out = empty(t.shape(), t.dtype(), device);
  size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (nbytes == 0) return out;
  if (src.device() == Device::CPU) {
    backend(device).copy_from_host(out.data_ptr(), src.data_ptr(), nbytes);
  } else if (device == Device::CPU) {
    backend(src.device()).copy_to_host(out.data_ptr(), src.data_ptr(), nbytes);
  } else {  // device -> host -> device
    Tensor host = to(src, Device::CPU);
    backend(device).copy_from_host(out.data_ptr(), host.data_ptr(), nbytes);
  }
  return out;
}

void copy_(Tensor& dst, const Tensor& src) {
  Tensor s = src.device() == dst.device() ? src : to(src, dst.device());
  DRIFT_CHECK(broadcast_shapes(s.shape(), dst.shape()) == dst.shape(), "copy_: source shape ",
              shape_str(src.shape()), " cannot be broadcast to destination shape ", shape_str(dst.shape()));
  // Overlapping source and destination: read from a private copy.
  if (s.storage() == dst.storage()) s = clone(s);
  Tensor se = expand(s, dst.shape());
  run_copy(dst, se);
}

void fill_(Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  FillParams p{value};
  KernelArgs args;
  args.out[0] = &dst;
  args.params = &p;
  dispatch(OpKind::Fill, dst.device(), args);
}

Tensor cat(const std::vector<Tensor>& ts, int64_t dim) {
  DRIFT_CHECK(!ts.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = ts[0];
  DRIFT_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated (use stack)");
  int64_t d = wrap_dim(dim, first.dim());
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const Tensor& t = ts[i];
    DRIFT_CHECK(t.dtype() == first.dtype(), "cat: tensor ", i, " has dtype ", dtype_name(t.dtype()),
                ", expected ", dtype_name(first.dtype()), " like tensor 0");
    DRIFT_CHECK(t.device() == first.device(), "cat: tensor ", i, " is on ", device_name(t.device()),
                ", expected ", device_name(first.device()), " like tensor 0");
    bool ok = t.dim() == first.dim();
    for (int64_t k = 0; ok && k < t.dim(); ++k) ok = k == d || t.shape()[k] == first.shape()[k];
    DRIFT_CHECK(ok, "cat: tensor ", i, " has shape ", shape_str(t.shape()), " but tensor 0 has shape ",
                shape_str(first.shape()), " (sizes must match except in dim ", d, ")");
    out_shape[d] += t.shape()[d];
  }
  Tensor out = empty(out_shape, first.dtype(), first.device());
  int64_t start = 0;
  for (const Tensor& t : ts) {
    Tensor part = narrow(out, d, start, t.shape()[d]);
    run_copy(part, t);
    start += t.shape()[d];
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& ts, int64_t dim) {
  DRIFT_CHECK(!ts.empty(), "stack: expected a non-empty list of tensors");
  int64_t n = ts[0].dim();
  DRIFT_CHECK(dim >= -(n + 1) && dim <= n, "stack: dim ", dim, " out of range for tensors of rank ", n);
  int64_t d = dim < 0 ? dim + n + 1 : dim;
  std::vector<Tensor> parts;
  parts.reserve(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    DRIFT_CHECK(ts[i].shape() == ts[0].shape(), "stack: tensor ", i, " has shape ", shape_str(ts[i].shape()),
                ", expected ", shape_str(ts[0].shape()), " like tensor 0");
    parts.push_back(unsqueeze(ts[i], d));
  }
  return cat(parts, d);
}

// ---- host access ----------------------------------------------------------------

namespace {
template <class T>
std::vector<T> to_host_vector(const Tensor& t) {
  Tensor h = contiguous(to(to(t, Device::CPU), dtype_of<T>::value));
  std::vector<T> v(static_cast<size_t>(h.numel()));
  if (!v.empty()) std::memcpy(v.data(), h.data_ptr(), v.size() * sizeof(T));
  return v;
}
}  // namespace

std::vector<float> to_vector_f32(const Tensor& t) { return to_host_vector<float>(t); }
std::vector<double> to_vector_f64(const Tensor& t) { return to_host_vector<double>(t); }
std::vector<int64_t> to_vector_i64(const Tensor& t) { return to_host_vector<int64_t>(t); }

double item(const Tensor& t) {
  DRIFT_CHECK(t.numel() == 1, "item: expected a tensor with one element, got shape ", shape_str(t.shape()));
  Tensor one = reshape(t, {1});
  if (one.device() != Device::CPU) one = to(one, Device::CPU);
  switch (one.dtype()) {
    case DType::Float32: return static_cast<double>(*one.data<float>());
    case DType::Float64: return *one.data<double>();
    case DType::Int64: return static_cast<double>(*one.data<int64_t>());
    case DType::BFloat16: return static_cast<float>(*one.data<bfloat16>());
    case DType::Float16: return static_cast<float>(*one.data<float16>());
  }
  return 0;
}

}  // namespace drift::ops
