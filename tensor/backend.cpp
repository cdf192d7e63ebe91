#include "tensor/backend.h"

#include <atomic>
#include <chrono>
#include <mutex>

#include "tensor/ops.h"
#include "tensor/profiler.h"

namespace drift {

const char* op_name(OpKind op) {
  static const char* names[] = {
#define DRIFT_X(name, family) #name,
      DRIFT_OP_LIST(DRIFT_X)
#undef DRIFT_X
  };
  int i = static_cast<int>(op);
  return i >= 0 && i < kNumOps ? names[i] : "?";
}

const char* op_family(OpKind op) {
  static const char* families[] = {
#define DRIFT_X(name, family) #family,
      DRIFT_OP_LIST(DRIFT_X)
#undef DRIFT_X
  };
  int i = static_cast<int>(op);
  return i >= 0 && i < kNumOps ? families[i] : "?";
}

namespace {
struct Registry {
  std::mutex mu;
  std::array<std::unique_ptr<Backend>, kNumDevices> backends;
  std::array<std::string, kNumDevices> errors;  // why a registration failed
};
std::atomic<DispatchObserver> g_observer{nullptr};
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}
void ensure_cpu() {
  static std::once_flag once;
  std::call_once(once, [] { register_backend(make_cpu_backend()); });
}
}  // namespace

std::string missing_ops(const Backend& b) {
  std::string missing;
  for (int i = 0; i < kNumOps; ++i)
    if (!b.kernels[i]) missing += (missing.empty() ? "" : ", ") + std::string(op_name(static_cast<OpKind>(i)));
  return missing;
}

void register_backend(const Backend& b) {
  Registry& r = registry();
  std::string error;
  if (std::string missing = missing_ops(b); !missing.empty())
    error = "backend '" + b.name + "' does not implement: " + missing;
  else if (!(b.allocator && b.copy_to_host && b.copy_from_host && b.synchronize && b.available))
    error = "backend '" + b.name + "' is missing its allocator or copy functions";
  std::lock_guard<std::mutex> lock(r.mu);
  r.errors[static_cast<int>(b.device)] = error;
  DRIFT_CHECK(error.empty(), error);
  r.backends[static_cast<int>(b.device)] = std::make_unique<Backend>(b);
}

const Backend* registered_backend(Device d) {
  ensure_cpu();
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.backends[static_cast<int>(d)].get();
}

std::string registration_error(Device d) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.errors[static_cast<int>(d)];
}

void set_dispatch_observer(DispatchObserver observer) { g_observer.store(observer); }

bool backend_available(Device d) {
  ensure_cpu();
  Registry& r = registry();
  const Backend* b;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    b = r.backends[static_cast<int>(d)].get();
  }
  return b != nullptr && b->available();
}

const Backend& backend(Device d) {
  ensure_cpu();
  Registry& r = registry();
  const Backend* b;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    b = r.backends[static_cast<int>(d)].get();
  }
  DRIFT_CHECK(b != nullptr, "no backend registered for device '", device_name(d),
              "' (was drift built with CUDA? nvcc must be found at configure time)");
  DRIFT_CHECK(b->available(), "backend '", b->name, "' is built but no ", device_name(d), " device is present");
  return *b;
}

std::unique_ptr<DeviceGraph> capture_graph(Device d, const std::function<void()>& body) {
  const Backend& b = backend(d);
  DRIFT_CHECK(b.capture_graph != nullptr, "capture_graph: the ", b.name, " backend has no graphs (CUDA only)");
  return b.capture_graph(body);
}

namespace {
bool has_half_operand(const KernelArgs& args) {
  for (const Tensor* t : args.in)
    if (t && t->defined() && is_half(t->dtype())) return true;
  for (const Tensor* t : args.out)
    if (t && t->defined() && is_half(t->dtype())) return true;
  return false;
}

// Runs a float32 kernel on 16-bit operands: inputs widened to float32,
// outputs computed in float32 (starting from their current values, since
// some kernels accumulate into them) and rounded back to nearest even.
void run_widened(KernelFn fn, const KernelArgs& args) {
  KernelArgs wide = args;
  std::array<Tensor, 5> in32;
  std::array<Tensor, 3> out32;
  for (size_t i = 0; i < args.in.size(); ++i)
    if (args.in[i] && args.in[i]->defined() && is_half(args.in[i]->dtype())) {
      in32[i] = ops::to(*args.in[i], DType::Float32);
      wide.in[i] = &in32[i];
    }
  for (size_t i = 0; i < args.out.size(); ++i)
    if (args.out[i] && args.out[i]->defined() && is_half(args.out[i]->dtype())) {
      out32[i] = ops::contiguous(ops::to(*args.out[i], DType::Float32));
      wide.out[i] = &out32[i];
    }
  fn(wide);
  for (size_t i = 0; i < args.out.size(); ++i)
    if (out32[i].defined()) ops::copy_(*args.out[i], out32[i]);
}
}  // namespace

void dispatch(OpKind op, Device device, const KernelArgs& args) {
  const Backend& b = backend(device);
  KernelFn fn = b.kernels[static_cast<int>(op)];
  DRIFT_CHECK(fn != nullptr, "op ", op_name(op), " has no kernel on ", b.name);
  if (DispatchObserver obs = g_observer.load(std::memory_order_relaxed)) obs(op, device);
  const bool widen = !b.half_native[static_cast<int>(op)] && has_half_operand(args);
  if (profiler::mode() == profiler::Mode::Off) {
    widen ? run_widened(fn, args) : fn(args);
    return;
  }
  // DRIFT_PROFILE (tensor/profiler.h): time the kernel, device work included.
  b.synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  widen ? run_widened(fn, args) : fn(args);
  b.synchronize();
  profiler::record(op, device, args, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace drift
