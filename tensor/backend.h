#pragma once
// The backend interface: one kernel table per device, indexed by OpKind.
// A kernel receives already-allocated, shape-checked tensors (the frontend in
// tensor/ops_*.cpp does the checking, broadcasting and output allocation) and
// a pointer to the op's parameter struct (tensor/op.h). Kernels know nothing
// of autograd.
#include <array>
#include <functional>
#include <memory>
#include <string>

#include "tensor/allocator.h"
#include "tensor/op.h"
#include "tensor/tensor.h"

namespace drift {

struct KernelArgs {
  std::array<const Tensor*, 6> in{};  // inputs; null where an optional one is absent
  std::array<Tensor*, 3> out{};       // outputs, preallocated by the frontend
  const void* params = nullptr;       // the op's parameter struct, or null

  template <class P> const P& p() const { return *static_cast<const P*>(params); }
};
using KernelFn = void (*)(const KernelArgs&);

struct DeviceGraph;

struct Backend {
  Device device = Device::CPU;
  std::string name;
  Allocator* allocator = nullptr;
  std::array<KernelFn, kNumOps> kernels{};
  // Ops whose kernel reads and writes bfloat16/float16 itself. For every other
  // op, dispatch() widens 16-bit operands to float32, runs the float32 kernel
  // and rounds the results back (tensor/half.h), so every op works on the
  // 16-bit storage types and accumulates in float32.
  std::array<bool, kNumOps> half_native{};
  // Raw byte copies between this device and the host (contiguous buffers).
  void (*copy_to_host)(void* dst_host, const void* src_dev, size_t nbytes) = nullptr;
  void (*copy_from_host)(void* dst_dev, const void* src_host, size_t nbytes) = nullptr;
  void (*synchronize)() = nullptr;
  // Whether a usable device is present at run time (a CUDA build may run on
  // a machine with no GPU).
  bool (*available)() = nullptr;
  // Runs `body` once while capturing the device work it issues into a graph
  // that replay() runs again (CUDA graphs, cuda/graph.cu). The body's kernels
  // do not run during the capture. Null where the device has no graphs.
  std::unique_ptr<DeviceGraph> (*capture_graph)(const std::function<void()>& body) = nullptr;
};

// A captured sequence of device work, replayed as one launch. The memory
// its kernels use stays reserved for it (a private pool of the device's
// caching allocator) until it is destroyed.
struct DeviceGraph {
  virtual ~DeviceGraph() = default;
  virtual void replay() = 0;
};
// backend(d).capture_graph(body); throws naming the device if it has none.
std::unique_ptr<DeviceGraph> capture_graph(Device d, const std::function<void()>& body);

// For a kernel's dtype switch: the dtypes it has no code for (the 16-bit
// storage types never reach a kernel that is not half_native).
[[noreturn]] inline void kernel_dtype_error(const char* op, DType t) {
  throw Error(str(op, ": this kernel has no ", dtype_name(t), " version"));
}

// Registers a backend. Throws if an op is missing from its table, naming it.
void register_backend(const Backend& b);
// The backend for a device; throws if none is registered or it is unavailable.
const Backend& backend(Device d);
// True if a backend for d is registered and its device is present.
bool backend_available(Device d);
// Names the ops missing from b's table ("" if complete).
std::string missing_ops(const Backend& b);
// The backend registered for d whether or not its device is present (null if
// none): building a kernel table needs no device, so a test can check that a
// CUDA build registers every op on a machine without a GPU.
const Backend* registered_backend(Device d);
// Why registering a backend for d failed ("" if it did not): e.g. the ops
// its table misses.
std::string registration_error(Device d);

// Test hook: called with every dispatched op (null = none). The op-test
// registry (tests/op_harness.cpp) uses it to see which ops a case exercises.
using DispatchObserver = void (*)(OpKind op, Device device);
void set_dispatch_observer(DispatchObserver observer);

// Looks up and runs the kernel for `op` on `device`.
void dispatch(OpKind op, Device device, const KernelArgs& args);

// CPU backend registration (tensor/cpu/register.cpp); called automatically.
Backend make_cpu_backend();

}  // namespace drift
