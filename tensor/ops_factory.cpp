// Factories: empty/zeros/ones/full, ranges, host buffers, random tensors.
#include <cmath>
#include <cstdint>
#include <memory>

#include "tensor/backend.h"
#include "tensor/ops.h"

namespace drift::ops {

namespace {
void check_shape(const Shape& shape, const char* fn) {
  for (int64_t d : shape)
    DRIFT_CHECK(d >= 0, fn, ": sizes must be non-negative, got shape ", shape_str(shape));
}

// Fills `out` (contiguous, fresh) with a Philox stream: uniform or normal.
void fill_random(Tensor& out, OpKind op, Generator& gen, double a, double b) {
  RandParams p{gen.seed, gen.advance(out.numel()), a, b};
  KernelArgs args;
  args.out[0] = &out;
  args.params = &p;
  dispatch(op, out.device(), args);
}
}  // namespace

Tensor empty(const Shape& shape, DType dtype, Device device) {
  check_shape(shape, "empty");
  const int64_t numel = shape_numel(shape);  // throws past int64
  DRIFT_CHECK(static_cast<uint64_t>(numel) <= SIZE_MAX / dtype_size(dtype), "empty: shape ", shape_str(shape), " of ",
              dtype_name(dtype), " needs more than 2^64 bytes");
  size_t nbytes = static_cast<size_t>(numel) * dtype_size(dtype);
  auto storage = std::make_shared<Storage>(nbytes, device);
  return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.dtype(), t.device()); }
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

namespace {
// Builds a 1-D tensor of n values v(i) on the host, then moves it to `device`.
template <class F>
Tensor host_1d(int64_t n, DType dtype, Device device, const F& v) {
  Tensor h = empty({n}, dtype, Device::CPU);
  switch (dtype) {
    case DType::Float32: { float* p = h.data<float>(); for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(v(i)); break; }
    case DType::Float64: { double* p = h.data<double>(); for (int64_t i = 0; i < n; ++i) p[i] = v(i); break; }
    case DType::Int64: { int64_t* p = h.data<int64_t>(); for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(v(i)); break; }
    default: return to(host_1d(n, DType::Float32, device, v), dtype);  // 16-bit: rounded from float32
  }
  return device == Device::CPU ? h : to(h, device);
}
}  // namespace

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  DRIFT_CHECK(step != 0, "arange: step must be non-zero");
  DRIFT_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step), "arange: start ", start,
              ", end ", end, ", step ", step, " must be finite");
  // numpy: n = ceil((end - start) / step), at least 0.
  int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  if (n < 0) n = 0;
  return host_1d(n, dtype, device, [&](int64_t i) { return start + static_cast<double>(i) * step; });
}

Tensor arange(int64_t n, DType dtype, Device device) {
  DRIFT_CHECK(n >= 0, "arange: n must be non-negative, got ", n);
  return host_1d(n, dtype, device, [](int64_t i) { return static_cast<double>(i); });
}

Tensor linspace(double start, double end, int64_t n, DType dtype, Device device) {
  DRIFT_CHECK(n >= 0, "linspace: n must be non-negative, got ", n);
  double step = n > 1 ? (end - start) / static_cast<double>(n - 1) : 0.0;
  // The last point is `end` exactly (no accumulated rounding).
  return host_1d(n, dtype, device,
                 [&](int64_t i) { return i == n - 1 && n > 1 ? end : start + static_cast<double>(i) * step; });
}

Tensor from_buffer(const void* host_data, const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  size_t nbytes = static_cast<size_t>(t.numel()) * dtype_size(dtype);
  if (nbytes == 0) return t;
  DRIFT_CHECK(host_data != nullptr, "from_buffer: null host pointer for shape ", shape_str(shape));
  backend(device).copy_from_host(t.data_ptr(), host_data, nbytes);
  return t;
}

namespace {
template <class T>
Tensor from_vec(const std::vector<T>& v, const Shape& shape, Device device) {
  check_shape(shape, "from_vector");
  DRIFT_CHECK(static_cast<int64_t>(v.size()) == shape_numel(shape), "from_vector: shape ", shape_str(shape),
              " needs ", shape_numel(shape), " elements, got a vector of ", v.size());
  return from_buffer(v.data(), shape, dtype_of<T>::value, device);
}
}  // namespace

Tensor from_vector(const std::vector<float>& v, const Shape& shape, Device device) { return from_vec(v, shape, device); }
Tensor from_vector(const std::vector<double>& v, const Shape& shape, Device device) { return from_vec(v, shape, device); }
Tensor from_vector(const std::vector<int64_t>& v, const Shape& shape, Device device) { return from_vec(v, shape, device); }

// ---- random -------------------------------------------------------------------

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype, Device device) {
  DRIFT_CHECK(is_floating(dtype), "uniform: expected a floating dtype, got ", dtype_name(dtype));
  DRIFT_CHECK(low <= high, "uniform: expected low <= high, got low ", low, ", high ", high);
  Tensor t = empty(shape, dtype, device);
  fill_random(t, OpKind::RandUniform, gen, low, high);
  return t;
}

Tensor normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype, Device device) {
  DRIFT_CHECK(is_floating(dtype), "normal: expected a floating dtype, got ", dtype_name(dtype));
  DRIFT_CHECK(std >= 0, "normal: expected std >= 0, got ", std);
  Tensor t = empty(shape, dtype, device);
  fill_random(t, OpKind::RandNormal, gen, mean, std);
  return t;
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return uniform(shape, 0.0, 1.0, gen, dtype, device);
}
Tensor randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return normal(shape, 0.0, 1.0, gen, dtype, device);
}
Tensor randn_like(const Tensor& t, Generator& gen) { return randn(t.shape(), gen, t.dtype(), t.device()); }

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen, Device device) {
  DRIFT_CHECK(low < high, "randint: expected low < high, got low ", low, ", high ", high);
  // u has 24 random bits; wider ranges would leave gaps.
  DRIFT_CHECK(high - low <= (int64_t(1) << 24), "randint: range [", low, ", ", high,
              ") is wider than 2^24 values, which the 24-bit uniform cannot cover");
  Tensor t = empty(shape, DType::Int64, device);
  // floor(low + (high - low) * u), u in [0, 1)  ->  integers in [low, high)
  fill_random(t, OpKind::RandUniform, gen, static_cast<double>(low), static_cast<double>(high));
  return t;
}

}  // namespace drift::ops
