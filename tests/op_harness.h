#pragma once
// Runs the cases of the op-test registry (tests/op_cases.h) in each mode.
// Every check returns a Check (ok + a message naming the case, dtype,
// device/variant, worst element and both values) rather than asserting, so
// GoogleTest (tests/test_{tensor,gradcheck,cuda}_ops.cpp) and the
// drift-test-ops program share it.
#include <functional>
#include <string>
#include <vector>

#include "tensor/op.h"
#include "tests/op_cases.h"

namespace drift::optest {

struct Check {
  bool ok = true;
  std::string message;
};

// "Conv2d [stride 2, padding 1] float32".
std::string label(const OpCase& c, DType dt);
// A GoogleTest-safe name: "Conv2d_12".
std::string test_name(const OpCase& c, size_t index);

// The inputs of c in dtype dt on device d, laid out as its Args say. The
// values depend only on the case (not on the device), so every backend sees
// the same numbers; `requires_grad` marks the differentiable float inputs.
Tensors make_inputs(const OpCase& c, DType dt, Device d, bool requires_grad = false);

// ---- kernel variants
// A way of running the same op: a CPU ISA level, or a CUDA kernel variant.
struct Variant {
  std::string name;
  std::function<void()> select;   // makes it current
  std::function<void()> restore;  // back to the default
};
// Each CPU kernel variant: every ISA level of tensor/cpu/isa.h this CPU
// supports (once that header exists), else the one default.
std::vector<Variant> cpu_variants();
// Each kernel variant of the backend of d (CUDA: fast and naive).
std::vector<Variant> backend_variants(Device d);
// Runs f under v (restores the default afterwards, also on a throw).
Check under(const Variant& v, const std::function<Check()>& f);

// ---- modes
// value: fn on the CPU against the float64 reference (current CPU variant).
Check check_value(const OpCase& c, DType dt);
// backend: fn on device d (current variant) against fn on the CPU.
Check check_backend(const OpCase& c, DType dt, Device d);
// grad: float64 gradcheck of a grad case on device d.
Check check_grad(const OpCase& c, Device d);
// grad backend: value and gradients of sum(fn * r) on d against the CPU.
Check check_grad_backend(const OpCase& c, DType dt, Device d);

struct Perf {
  double seconds = 0;  // per call
  double gbps = 0, gflops = 0;
  int calls = 0;
};
// Times fn (after a warm-up) until `min_seconds` have passed.
Perf measure(const OpCase& c, DType dt, Device d, double min_seconds);

// The OpKinds one call of c's fn dispatches (on the CPU, float64 unless the
// case has no float64).
std::vector<OpKind> dispatched_ops(const OpCase& c);

// Whether c runs in dtype dt.
bool has_dtype(const OpCase& c, DType dt);

}  // namespace drift::optest
