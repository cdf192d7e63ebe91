#include "tests/op_harness.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <sstream>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tensor/backend.h"
#if __has_include("tensor/cpu/isa.h")
#include "tensor/cpu/isa.h"
#define DRIFT_OPTEST_HAVE_ISA 1
#endif
#ifdef DRIFT_HAVE_CUDA
#include "cuda/variant.h"
#endif

namespace drift::optest {

namespace {

// A stable seed per case (FNV-1a of op and what), so that adding a case
// does not change the inputs of the others.
uint64_t case_seed(const OpCase& c) {
  uint64_t h = 1469598103934665603ull;
  for (char ch : c.op + "|" + c.what) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return h;
}

std::vector<double> arg_values(const Arg& a, uint64_t seed) {
  const Shape& s = a.layout == Layout::Expanded ? a.small : a.shape;
  const size_t n = static_cast<size_t>(shape_numel(s));
  if (!a.values.empty()) {
    DRIFT_CHECK(a.values.size() == n, "op case: ", a.values.size(), " fixed values for shape ", shape_str(s));
    return a.values;
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(a.lo, a.hi);
  std::vector<double> v(n);
  for (double& x : v) {
    x = u(rng);
    if (a.grid > 0) x = std::trunc(x / a.grid) * a.grid;
    if (a.gap > 0 && std::abs(x) < a.gap) x = x < 0 ? x - a.gap : x + a.gap;
  }
  return v;
}

Tensor build(const Arg& a, const std::vector<double>& v, DType dt, Device d) {
  const Shape& s = a.layout == Layout::Expanded ? a.small : a.shape;
  Tensor base = ops::to(ops::to(ops::from_vector(v, s), dt), d);
  Layout layout = a.layout;
  if (layout == Layout::Transposed && a.shape.size() < 2) layout = Layout::Strided;
  switch (layout) {
    case Layout::Contiguous: return base;
    case Layout::Transposed: return ops::transpose(ops::contiguous(ops::transpose(base, -1, -2)), -1, -2);
    case Layout::Expanded: return ops::expand(base, a.shape);
    case Layout::Narrowed:
    case Layout::Strided: {
      if (a.shape.empty()) return base;
      Shape big = a.shape;
      const int64_t n = big.back();
      big.back() = layout == Layout::Narrowed ? n + 3 : 2 * n;
      Tensor mem = ops::full(big, 7.0, dt, d);  // a value that would show up if read by mistake
      Tensor view = layout == Layout::Narrowed ? ops::narrow(mem, -1, 1, n) : ops::slice(mem, -1, 0, 2 * n, 2);
      ops::copy_(view, base);
      return view;
    }
  }
  return base;
}

// |got - want| <= atol + rtol |want| elementwise (NaN matches NaN, inf matches
// the same inf). Names the worst element.
Check compare(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  Check r;
  if (got.shape() != want.shape()) {
    r.ok = false;
    r.message = what + ": shape " + shape_str(got.shape()) + ", expected " + shape_str(want.shape());
    return r;
  }
  std::vector<double> g = ops::to_vector_f64(got), w = ops::to_vector_f64(want);
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if ((std::isnan(g[i]) && std::isnan(w[i])) || g[i] == w[i]) continue;
    double excess = std::abs(g[i] - w[i]) - (atol + rtol * std::abs(w[i]));
    if (std::isnan(excess)) excess = INFINITY;
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  if (worst > 0) {
    std::ostringstream os;
    os.precision(17);
    os << what << ": element " << at << " of " << shape_str(got.shape()) << " is " << g[at] << ", expected " << w[at]
       << " (rtol " << rtol << ", atol " << atol << ")";
    r.ok = false;
    r.message = os.str();
  }
  return r;
}

Check failed(const std::string& msg) { return Check{false, msg}; }

template <class F>
Check guarded(const std::string& what, F f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return failed(what + " threw: " + e.what());
  }
}

std::vector<OpKind>* g_seen = nullptr;
void observe(OpKind op, Device) {
  if (g_seen && std::find(g_seen->begin(), g_seen->end(), op) == g_seen->end()) g_seen->push_back(op);
}

}  // namespace

std::string label(const OpCase& c, DType dt) {
  return c.op + " [" + c.what + "] " + dtype_name(dt);
}

std::string test_name(const OpCase& c, size_t index) {
  std::string n;
  for (char ch : c.op.substr(0, c.op.find('('))) n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  if (c.op.find("double") != std::string::npos) n += "_scalar";
  if (c.op.find("DType") != std::string::npos) n += "_dtype";
  if (c.op.find("Device") != std::string::npos) n += "_device";
  return n + "_" + std::to_string(index);
}

bool has_dtype(const OpCase& c, DType dt) {
  return std::find(c.dtypes.begin(), c.dtypes.end(), dt) != c.dtypes.end();
}

Tensors make_inputs(const OpCase& c, DType dt, Device d, bool requires_grad) {
  const uint64_t seed = case_seed(c);
  Tensors xs;
  for (size_t i = 0; i < c.args.size(); ++i) {
    const Arg& a = c.args[i];
    Tensor x = build(a, arg_values(a, seed + 7919 * i), a.int64 ? DType::Int64 : dt, d);
    if (requires_grad && a.diff && !a.int64) x.set_requires_grad(true);
    xs.push_back(x);
  }
  return xs;
}

// ---------------------------------------------------------------- variants

std::vector<Variant> cpu_variants() {
  std::vector<Variant> v;
#ifdef DRIFT_OPTEST_HAVE_ISA
  // Every ISA level this CPU supports; the default (detected, or lowered by
  // DRIFT_CPU_ISA) is restored after each.
  const cpu::CpuIsa initial = cpu::active_isa();
  for (cpu::CpuIsa isa : cpu::supported_isas())
    v.push_back({cpu::isa_name(isa), [isa] { cpu::set_active_isa(isa); }, [initial] { cpu::set_active_isa(initial); }});
#else
  // Hook: the CPU kernels have one variant until tensor/cpu/isa.h lands.
  v.push_back({"cpu", [] {}, [] {}});
#endif
  return v;
}

std::vector<Variant> backend_variants(Device d) {
  std::vector<Variant> v;
  if (d == Device::CPU) return cpu_variants();
#ifdef DRIFT_HAVE_CUDA
  v.push_back({"fast", [] { cuda::set_kernel_variant(cuda::KernelVariant::Fast); },
               [] { cuda::set_kernel_variant(cuda::KernelVariant::Fast); }});
  v.push_back({"naive", [] { cuda::set_kernel_variant(cuda::KernelVariant::Naive); },
               [] { cuda::set_kernel_variant(cuda::KernelVariant::Fast); }});
#else
  v.push_back({"default", [] {}, [] {}});
#endif
  return v;
}

Check under(const Variant& v, const std::function<Check()>& f) {
  v.select();
  Check r;
  try {
    r = f();
  } catch (...) {
    v.restore();
    throw;
  }
  v.restore();
  if (!r.ok) r.message = "[" + v.name + "] " + r.message;
  return r;
}

// ---------------------------------------------------------------- modes

Check check_value(const OpCase& c, DType dt) {
  const std::string what = label(c, dt);
  if (!c.ref) return failed(what + ": no reference");
  return guarded(what, [&] {
    Tensors xs = make_inputs(c, dt, Device::CPU);
    Tensor got = c.fn(xs);
    Tensors x64;
    for (const Tensor& x : xs) x64.push_back(tensor(host(x)));
    // The reference rounded to the result's dtype (as the op's own result is):
    // float32 rounding (overflow to inf included), int64 truncation (how a
    // float parameter such as a clamp bound converts).
    Tensor want = ops::to(ops::to(c.ref(x64), got.dtype()), DType::Float64);
    if (c.exact || got.dtype() == DType::Int64) return compare(got, want, 0, 0, what);
    if (dt == DType::Float32) return compare(got, want, c.tol32, c.atol32 < 0 ? c.tol32 : c.atol32, what);
    return compare(got, want, c.tol64, c.tol64, what);
  });
}

Check check_backend(const OpCase& c, DType dt, Device d) {
  const std::string what = label(c, dt) + " on " + device_name(d) + " vs cpu";
  return guarded(what, [&] {
    Tensor want = c.fn(make_inputs(c, dt, Device::CPU));
    Tensor got = c.fn(make_inputs(c, dt, d));
    if (got.device() != d) return failed(what + ": result on " + std::string(device_name(got.device())));
    Tensor g = ops::to(got, Device::CPU);
    if (g.dtype() != want.dtype())
      return failed(what + ": dtype " + dtype_name(g.dtype()) + ", cpu gives " + dtype_name(want.dtype()));
    if (want.dtype() == DType::Int64) return compare(g, want, 0, 0, what);
    if (want.dtype() == DType::Float64 && c.backend_tol64 >= 0) return compare(g, want, c.backend_tol64, c.backend_tol64, what);
    if (want.dtype() == DType::Float64) return compare(g, want, 1e-10, 1e-12, what);
    if (c.backend_tol32 >= 0) return compare(g, want, c.backend_tol32, c.backend_tol32, what);
    return compare(g, want, std::max(1e-4, c.tol32), std::max(1e-5, c.atol32 < 0 ? c.tol32 : c.atol32), what);
  });
}

Check check_grad(const OpCase& c, Device d) {
  const std::string what = label(c, DType::Float64) + " gradcheck on " + device_name(d);
  return guarded(what, [&] {
    Tensors all = make_inputs(c, DType::Float64, d, true);
    Tensors diff;
    std::vector<size_t> where;
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i].requires_grad()) {
        diff.push_back(all[i]);
        where.push_back(i);
      }
    auto fn = [&](const Tensors& x) {
      Tensors full = all;
      for (size_t k = 0; k < where.size(); ++k) full[where[k]] = x[k];
      return c.fn(full);
    };
    GradcheckResult r = gradcheck(fn, diff);
    return r.ok ? Check{} : failed(what + ": " + r.message);
  });
}

Check check_grad_backend(const OpCase& c, DType dt, Device d) {
  const std::string what = label(c, dt) + " gradients on " + device_name(d) + " vs cpu";
  const double rtol = dt == DType::Float64 ? 1e-9 : 1e-4, atol = dt == DType::Float64 ? 1e-10 : 2e-5;
  return guarded(what, [&] {
    struct Result {
      Tensor value;
      Tensors grads;
    };
    auto run = [&](Device dev) {
      Tensors xs = make_inputs(c, dt, dev, true);
      Tensor y = c.fn(xs);
      // a fixed projection r, the same on every device: r_i = sin(1 + i)
      std::vector<double> rv(static_cast<size_t>(y.numel()));
      for (size_t i = 0; i < rv.size(); ++i) rv[i] = std::sin(1.0 + static_cast<double>(i));
      Tensor r = ops::to(ops::to(ops::from_vector(rv, y.shape()), y.dtype()), dev);
      Tensors diff;
      for (const Tensor& x : xs)
        if (x.requires_grad()) diff.push_back(x);
      Result res;
      res.value = ops::to(y.detach(), Device::CPU);
      for (Tensor& g : drift::grad(sum(mul(y, r)), diff))
        res.grads.push_back(g.defined() ? ops::to(g, Device::CPU) : Tensor());
      return res;
    };
    Result cpu = run(Device::CPU), dev = run(d);
    Check v = compare(dev.value, cpu.value, rtol, atol, what + " value");
    if (!v.ok) return v;
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      if (cpu.grads[i].defined() != dev.grads[i].defined())
        return failed(what + ": gradient " + std::to_string(i) + " defined on one device only");
      if (!cpu.grads[i].defined()) continue;
      Check g = compare(dev.grads[i], cpu.grads[i], rtol, atol, what + " gradient of input " + std::to_string(i));
      if (!g.ok) return g;
    }
    return Check{};
  });
}

Perf measure(const OpCase& c, DType dt, Device d, double min_seconds) {
  Tensors xs = make_inputs(c, dt, d);
  Perf p;
  Tensor y = c.fn(xs);  // warm-up (allocator caches, BLAS threads)
  ops::synchronize(d);
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    y = c.fn(xs);
    ++p.calls;
    ops::synchronize(d);
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < min_seconds);
  p.seconds = elapsed / p.calls;
  const double scale = dt == DType::Float64 ? 2.0 : dt == DType::Float32 ? 1.0 : 2.0;  // bytes are given for float32
  p.gbps = c.bytes * scale / p.seconds / 1e9;
  p.gflops = c.flops / p.seconds / 1e9;
  return p;
}

std::vector<OpKind> dispatched_ops(const OpCase& c) {
  const DType dt = has_dtype(c, DType::Float64) ? DType::Float64 : c.dtypes.front();
  Tensors xs = make_inputs(c, dt, Device::CPU);
  std::vector<OpKind> seen;
  g_seen = &seen;
  set_dispatch_observer(observe);
  try {
    (void)c.fn(xs);
  } catch (...) {
    set_dispatch_observer(nullptr);
    g_seen = nullptr;
    throw;
  }
  set_dispatch_observer(nullptr);
  g_seen = nullptr;
  return seen;
}

}  // namespace drift::optest
