#include "tensor/tensor.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "tensor/backend.h"
#include "tensor/ops.h"

namespace drift {

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) {
  Allocator* a = d == Device::CPU ? &cpu_allocator() : backend(d).allocator;
  data = a->allocate(n);
}

Storage::~Storage() {
  if (!data) return;
  if (device == Device::CPU) {
    cpu_allocator().deallocate(data, nbytes);
  } else {
    backend(device).allocator->deallocate(data, nbytes);
  }
}

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype) {
  DRIFT_CHECK(storage != nullptr, "Tensor: null storage");
  DRIFT_CHECK(shape.size() == strides.size(), "Tensor: shape ", shape_str(shape), " and strides ",
              shape_str(strides), " differ in rank");
  for (int64_t d : shape) DRIFT_CHECK(d >= 0, "Tensor: negative size in shape ", shape_str(shape));
  impl_ = std::make_shared<TensorImpl>();
  impl_->storage = std::move(storage);
  impl_->shape = std::move(shape);
  impl_->strides = std::move(strides);
  impl_->offset = offset;
  impl_->dtype = dtype;
}

int64_t Tensor::size(int64_t d) const { return impl().shape[wrap_dim(d, dim())]; }
int64_t Tensor::stride(int64_t d) const { return impl().strides[wrap_dim(d, dim())]; }

bool Tensor::is_contiguous() const {
  const TensorImpl& t = impl();
  int64_t expected = 1;
  for (int64_t i = static_cast<int64_t>(t.shape.size()) - 1; i >= 0; --i) {
    if (t.shape[i] == 1) continue;
    if (t.strides[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

void* Tensor::data_ptr() const {
  const TensorImpl& t = impl();
  return static_cast<char*>(t.storage->data) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

bool Tensor::requires_grad() const { return impl_ && impl_->autograd && impl_->autograd->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  DRIFT_CHECK(!on || is_floating(dtype()), "only floating-point tensors can require grad, got ",
              dtype_name(dtype()));
  if (!on && !impl().autograd) return *this;
  DRIFT_CHECK(is_leaf() || on, "set_requires_grad(false) on a non-leaf tensor: use detach()");
  autograd_meta().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl_ && impl_->autograd ? impl_->autograd->grad : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
  if (g.defined()) {
    DRIFT_CHECK(g.shape() == shape(), "set_grad: gradient shape ", shape_str(g.shape()),
                " does not match tensor shape ", shape_str(shape()));
  }
  autograd_meta().grad = g;
}

bool Tensor::is_leaf() const { return !(impl_ && impl_->autograd && impl_->autograd->grad_fn); }

std::shared_ptr<Node> Tensor::grad_fn() const {
  return impl_ && impl_->autograd ? impl_->autograd->grad_fn : nullptr;
}

AutogradMeta& Tensor::autograd_meta() {
  TensorImpl& t = impl();
  if (!t.autograd) t.autograd = std::make_shared<AutogradMeta>();
  return *t.autograd;
}

Tensor Tensor::detach() const {
  const TensorImpl& t = impl();
  return Tensor(t.storage, t.shape, t.strides, t.offset, t.dtype);
}

// ---- printing ---------------------------------------------------------------

namespace {
void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& shape, const Shape& strides,
               int64_t base, size_t d, int edge, bool is_int, int indent) {
  if (shape.empty()) {
    os << v[base];
    return;
  }
  os << "[";
  int64_t n = shape[d];
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * edge && i == edge) {
      os << (d + 1 == shape.size() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - edge - 1;
      continue;
    }
    int64_t idx = base + i * strides[d];
    if (d + 1 == shape.size()) {
      if (is_int) os << static_cast<int64_t>(v[idx]);
      else os << std::setprecision(4) << v[idx];
    } else {
      print_rec(os, v, shape, strides, idx, d + 1, edge, is_int, indent + 1);
    }
    if (i + 1 < n) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}
}  // namespace

std::string Tensor::to_string(int edge) const {
  std::ostringstream os;
  if (!defined()) return "tensor(undefined)";
  os << "tensor(shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype()) << ", device="
     << device_name(device()) << (requires_grad() ? ", requires_grad" : "") << ")\n";
  std::vector<double> v = ops::to_vector_f64(*this);  // contiguous host copy
  print_rec(os, v, shape(), contiguous_strides(shape()), 0, 0, edge, dtype() == DType::Int64, 0);
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace drift
