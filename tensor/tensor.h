#pragma once
// Tensor = shared Storage + shape + strides + offset + dtype (+ device, from
// the storage). A Tensor is a handle: copying it shares the same TensorImpl,
// views (reshape, permute, narrow, expand, ...) are new TensorImpls that share
// the Storage. Tensor has no math methods: ops are free functions in
// tensor/ops.h (no autograd) and autograd/functions.h (differentiable), which
// dispatch through the backend table (tensor/backend.h).
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/shape.h"

namespace drift {

// A block of device memory, freed through its device's allocator.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device = Device::CPU;
  Storage(size_t nbytes, Device device);  // allocates
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct AutogradMeta;  // defined below; the autograd layer gives it meaning
struct Node;          // defined in autograd/node.h

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements, from storage->data
  DType dtype = DType::Float32;
  std::shared_ptr<AutogradMeta> autograd;  // null until gradients are involved
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype);
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t size(int64_t dim) const;    // negative dims count from the end
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t numel() const { return shape_numel(impl().shape); }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device; }
  size_t element_size() const { return dtype_size(impl().dtype); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }

  // Pointer to the first element (device memory for CUDA tensors).
  void* data_ptr() const;
  // Typed pointer; throws if T does not match dtype().
  template <class T> T* data() const {
    DRIFT_CHECK(dtype_of<T>::value == dtype(), "Tensor::data<", dtype_name(dtype_of<T>::value),
                ">() called on a ", dtype_name(dtype()), " tensor");
    return static_cast<T*>(data_ptr());
  }

  // ---- autograd slot (plain data; the engine lives in autograd/) ----
  bool requires_grad() const;
  // Marks a leaf as a trainable input. Throws on non-floating dtypes.
  Tensor& set_requires_grad(bool on = true);
  Tensor grad() const;              // undefined if none accumulated yet
  void set_grad(const Tensor& g);   // replaces the accumulated gradient
  bool is_leaf() const;             // no grad_fn
  std::shared_ptr<Node> grad_fn() const;
  AutogradMeta& autograd_meta();    // created on first use
  bool has_autograd_meta() const { return impl_ && impl_->autograd != nullptr; }
  // Same storage and metadata, no autograd history (a new leaf).
  Tensor detach() const;

  // Identity of the underlying TensorImpl (two handles to the same tensor).
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // "tensor(shape=[2, 3], dtype=float32, device=cpu)\n[[...]]" with at most
  // `edge` items shown at each end of each dimension.
  std::string to_string(int edge = 3) const;

 private:
  TensorImpl& impl() const {
    DRIFT_CHECK(impl_ != nullptr, "operation on an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;     // keep .grad on a non-leaf (see autograd retain_grad)
  Tensor grad;                   // accumulated d(root)/d(this)
  std::shared_ptr<Node> grad_fn; // the op that produced this value; null for leaves
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace drift
