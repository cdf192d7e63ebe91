#pragma once
// The op-test registry (in the spirit of ggml's test-backend-ops): one table
// of cases for every OpKind of tensor/op.h and every differentiable function
// of autograd/functions.h. One harness (tests/op_harness.h) runs each case in
// every mode:
//   value   - the op on the CPU (float32, float64, int64 where supported),
//             under every CPU kernel variant, against the case's float64
//             naive reference;
//   backend - each other backend (CUDA, fast and naive kernel variants)
//             against the CPU, same inputs, same strides;
//   grad    - float64 gradcheck of the differentiable cases (CPU, and on
//             the GPU when there is one), and CPU vs CUDA gradients;
//   perf    - time per call, GB/s and GFLOP/s (build/drift-test-ops perf).
// The ctest families tensor (test_tensor_ops), gradcheck (test_gradcheck_ops)
// and cuda (test_cuda_ops) run the modes; a coverage test names any op or
// function without a case.
//
// Adding cases is a one-place change: write them in the family's
// tests/op_cases_<family>.cpp inside its DRIFT_OP_CASES block (a new file
// needs no list edit either: every op_cases_*.cpp is globbed and registers
// itself before main()).
#include <functional>
#include <string>
#include <vector>

#include "tensor/ops.h"

namespace drift::optest {

using Tensors = std::vector<Tensor>;
using V = const Tensors&;

// How an input is laid out in memory. Every layout holds the same values.
enum class Layout {
  Contiguous,
  Transposed,  // the last two dims swapped in memory (a transposed contiguous tensor, transposed back)
  Narrowed,    // a window [1, 1 + n) of a last dim 3 longer
  Expanded,    // broadcast (stride 0) from `small`
  Strided,     // every other element of a twice-as-long last dim
};

// One input of a case.
struct Arg {
  Shape shape;
  double lo = -1, hi = 1;          // values uniform in [lo, hi) (rounded to the case's dtype)
  Layout layout = Layout::Contiguous;
  Shape small;                     // Expanded: the shape that is broadcast to `shape`
  std::vector<double> values;      // fixed values instead of random ones (row-major, shape's numel)
  bool int64 = false;              // always int64 whatever the case's dtype (indices, labels); never differentiated
  bool diff = true;                // differentiated in grad mode
  double grid = 0;                 // > 0: values rounded towards 0 to multiples of grid (ties for comparisons)
  double gap = 0;                  // > 0: no value within gap of 0 (kinks of relu/abs away from x +- h)
};

// Argument builders.
inline Arg in(Shape s, double lo = -1, double hi = 1) {
  Arg a;
  a.shape = std::move(s);
  a.lo = lo;
  a.hi = hi;
  return a;
}
inline Arg with_layout(Arg a, Layout l) { a.layout = l; return a; }
inline Arg pos(Shape s) { return in(std::move(s), 0.5, 2.0); }  // safe for log, sqrt, pow bases
inline Arg tr(Shape s, double lo = -1, double hi = 1) { return with_layout(in(std::move(s), lo, hi), Layout::Transposed); }
inline Arg nar(Shape s, double lo = -1, double hi = 1) { return with_layout(in(std::move(s), lo, hi), Layout::Narrowed); }
inline Arg strided(Shape s, double lo = -1, double hi = 1) { return with_layout(in(std::move(s), lo, hi), Layout::Strided); }
inline Arg bc(Shape small, Shape s, double lo = -1, double hi = 1) {
  Arg a = with_layout(in(std::move(s), lo, hi), Layout::Expanded);
  a.small = std::move(small);
  return a;
}
inline Arg fixed(std::vector<double> v, Shape s) {
  Arg a = in(std::move(s));
  a.values = std::move(v);
  return a;
}
inline Arg ids(std::vector<double> v, Shape s) {  // int64 indices / labels
  Arg a = fixed(std::move(v), std::move(s));
  a.int64 = true;
  a.diff = false;
  return a;
}
inline Arg nodiff(Arg a) { a.diff = false; return a; }

using Fn = std::function<Tensor(V)>;
Tensor pack(const Tensors& outs);

constexpr DType F32 = DType::Float32, F64 = DType::Float64, I64 = DType::Int64;

struct OpCase {
  // What it covers: an OpKind name ("Conv2d") or a functions.h declaration
  // key ("conv2d(Tensor,Tensor,Tensor,int64_t,int64_t)") for grad cases.
  std::string op;
  std::string what;  // what the case exercises ("stride 2, padding 1, odd sizes")
  std::vector<Arg> args;
  // The op under test. Builds its outputs from the inputs only (constants on
  // the inputs' device: see on() below), so it runs on every backend.
  Fn fn;
  // Float64 naive reference on contiguous float64 CPU inputs (loops over
  // host vectors, independent of the kernels). Empty for grad cases
  // (they are checked against central differences instead).
  Fn ref;
  std::vector<DType> dtypes{F32, F64};
  bool grad = false;     // a gradcheck case (fn is built from autograd/functions.h)
  double tol32 = 2e-5;   // float32 vs the reference: |got - want| <= atol32 + tol32 |want|
  double atol32 = -1;    // (negative: the same as tol32)
  double tol64 = 1e-10;  // float64 vs the reference (relative and absolute)
  // Backend mode (another backend vs the CPU), relative and absolute; negative:
  // the defaults (float32 max(1e-4, tol32), float64 1e-10 / 1e-12, int64 exact).
  double backend_tol32 = -1, backend_tol64 = -1;
  // Perf mode: bytes moved and flops of one call (0 = not reported). Cases
  // with perf_only run only in perf mode (large shapes).
  double bytes = 0, flops = 0;
  bool perf_only = false;
  bool exact = false;    // float results must match the reference bit for bit (copies, comparisons)
};

// The registry. Cases register themselves from op_cases_*.cpp.
std::vector<OpCase>& registry();
const std::vector<OpCase>& all_cases();  // sorted by op, then registration order
struct Registrar {
  explicit Registrar(void (*add)(std::vector<OpCase>&)) { add(registry()); }
};
#define DRIFT_OP_CASES_CAT2(a, b) a##b
#define DRIFT_OP_CASES_CAT(a, b) DRIFT_OP_CASES_CAT2(a, b)
// DRIFT_OP_CASES(elementwise) { c.push_back({...}); }
#define DRIFT_OP_CASES(family)                                                               \
  static void drift_op_cases_##family(std::vector<::drift::optest::OpCase>& c);              \
  static ::drift::optest::Registrar DRIFT_OP_CASES_CAT(drift_op_registrar_, family)(drift_op_cases_##family); \
  static void drift_op_cases_##family(std::vector<::drift::optest::OpCase>& c)

// A constant placed on the device and dtype of `like`.
Tensor on(const Tensor& t, const Tensor& like);
Tensor on_device(const Tensor& t, const Tensor& like);  // device only (keeps t's dtype, e.g. int64 labels)

// ---- helpers for references: host data in float64 ----
struct Host {
  Shape shape;
  std::vector<double> v;
  int64_t numel() const { return static_cast<int64_t>(v.size()); }
};
Host host(const Tensor& t);                 // any tensor -> contiguous float64 host copy
Tensor tensor(const Host& h);               // -> float64 CPU tensor
Tensor tensor(std::vector<double> v, Shape s);

// Reference elementwise ops with NumPy broadcasting.
Tensor ref_map(const Tensor& x, const std::function<double(double)>& f);
Tensor ref_zip(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f);
Tensor ref_zip3(const Tensor& a, const Tensor& b, const Tensor& c, const std::function<double(double, double, double)>& f);
// Reduction over `dims` (empty = all) with keepdim: f folds the values of one
// output element (in index order).
Tensor ref_reduce(const Tensor& x, std::vector<int64_t> dims, bool keepdim,
                  const std::function<double(const std::vector<double>&)>& f);
// d/dx sum(f(x, others) * g) by central differences of a float64 reference
// (exact up to ~1e-8 for the linear and smooth maps used here): the
// reference of a backward op built from its forward's reference.
// The adjoint of a linear map f at g: out_i = <f(e_i), g> (exact).
Tensor ref_adjoint(const std::function<Tensor(const Tensor&)>& f, const Shape& x_shape, const Tensor& g);
Tensor ref_vjp(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& g);

}  // namespace drift::optest
