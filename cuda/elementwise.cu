// Elementwise ops: binary (broadcasting), Where, unary, and unary with scalar
// parameters (Affine, PowScalar, Clamp). Each op is a small functor; one
// templated kernel per arity applies it, with a contiguous fast path (plain
// i -> i indexing the compiler can vectorise) and a general strided path
// (broadcast inputs have stride 0). dtypes follow the CPU backend: every op on
// float32/float64; Add/Sub/Mul, Maximum/Minimum, comparisons, Where,
// Neg/Abs/Sign/Relu, Affine and Clamp also on int64; Div, Pow, PowScalar and
// the transcendental ops on floating types only. NaN handling matches
// tensor/cpu/elementwise.cpp (Maximum/Minimum/Relu/Sign/Clamp keep NaN).
#include <cmath>
#include <limits>
#include <type_traits>

#include "cuda/common.cuh"

namespace drift::cuda {
namespace {

template <class T> constexpr bool is_int = std::is_same<T, int64_t>::value;

// Ops defined on floating types only derive from this tag.
struct FloatOnlyOp {};

// ---- binary functors: T op(T a, T b) -------------------------------------------
struct AddOp { template <class T> __device__ T operator()(T a, T b) const { return a + b; } };
struct SubOp { template <class T> __device__ T operator()(T a, T b) const { return a - b; } };
struct MulOp { template <class T> __device__ T operator()(T a, T b) const { return a * b; } };
struct DivOp : FloatOnlyOp { template <class T> __device__ T operator()(T a, T b) const { return a / b; } };
struct PowOp : FloatOnlyOp { template <class T> __device__ T operator()(T a, T b) const { return pow(a, b); } };
// Maximum/Minimum propagate NaN (as PyTorch and the CPU backend do).
struct MaximumOp {
  template <class T> __device__ T operator()(T a, T b) const { return a != a ? a : (b != b ? b : (a > b ? a : b)); }
};
struct MinimumOp {
  template <class T> __device__ T operator()(T a, T b) const { return a != a ? a : (b != b ? b : (a < b ? a : b)); }
};
// dx = g s (1 + x (1 - s)), s = sigmoid(x)  (autograd's silu backward, one pass)
struct SiluBackwardOp : FloatOnlyOp {
  template <class T> __device__ T operator()(T g, T x) const {
    const T s = T(1) / (T(1) + exp(-x));
    return g * s * (T(1) + x * (T(1) - s));
  }
};
struct EqOp { template <class T> __device__ T operator()(T a, T b) const { return a == b ? T(1) : T(0); } };
struct NeOp { template <class T> __device__ T operator()(T a, T b) const { return a != b ? T(1) : T(0); } };
struct LtOp { template <class T> __device__ T operator()(T a, T b) const { return a < b ? T(1) : T(0); } };
struct LeOp { template <class T> __device__ T operator()(T a, T b) const { return a <= b ? T(1) : T(0); } };
struct GtOp { template <class T> __device__ T operator()(T a, T b) const { return a > b ? T(1) : T(0); } };
struct GeOp { template <class T> __device__ T operator()(T a, T b) const { return a >= b ? T(1) : T(0); } };

// ---- unary functors: T op(T x) --------------------------------------------------
struct NegOp { template <class T> __device__ T operator()(T x) const { return -x; } };
struct AbsOp { template <class T> __device__ T operator()(T x) const { return x < T(0) ? -x : x; } };
struct SignOp {  // sign(0) = 0, NaN stays NaN
  template <class T> __device__ T operator()(T x) const { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x); }
};
struct ReluOp {  // NaN stays NaN
  template <class T> __device__ T operator()(T x) const { return x > T(0) ? x : (x != x ? x : T(0)); }
};
#define DRIFT_FLOAT_UNARY(Name, expr)                                   \
  struct Name : FloatOnlyOp {                                           \
    template <class T> __device__ T operator()(T x) const { return expr; } \
  };
DRIFT_FLOAT_UNARY(ExpOp, exp(x))
DRIFT_FLOAT_UNARY(LogOp, log(x))
DRIFT_FLOAT_UNARY(SqrtOp, sqrt(x))
DRIFT_FLOAT_UNARY(RsqrtOp, T(1) / sqrt(x))
DRIFT_FLOAT_UNARY(SinOp, sin(x))
DRIFT_FLOAT_UNARY(CosOp, cos(x))
DRIFT_FLOAT_UNARY(TanhOp, tanh(x))
DRIFT_FLOAT_UNARY(SigmoidOp, T(1) / (T(1) + exp(-x)))             // 1 / (1 + e^-x)
DRIFT_FLOAT_UNARY(SiluOp, x / (T(1) + exp(-x)))                    // x * sigmoid(x)
DRIFT_FLOAT_UNARY(GeluOp, T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440))))  // x * Phi(x), exact
DRIFT_FLOAT_UNARY(ErfOp, erf(x))
#undef DRIFT_FLOAT_UNARY

// ---- unary with scalar parameters (UnaryParams a, b) ---------------------------
// The host converts the parameters to the element type (as the CPU does).
template <class T> struct AffineOp {  // y = a*x + b  (int64: a, b truncated to integers)
  T a, b;
  __device__ T operator()(T x) const { return a * x + b; }
};
template <class T> struct ClampOp {  // y = min(max(x, lo), hi); NaN stays NaN
  T lo, hi;
  __device__ T operator()(T x) const { return x < lo ? lo : (x > hi ? hi : x); }
};
// x^e, with the common exponents as plain multiplications (exact, like the CPU).
enum class PowCase { General, Square, Identity, Cube, Sqrt, Reciprocal, Rsqrt };
template <class T> struct PowScalarOp {
  T e;
  PowCase c;
  __device__ T operator()(T x) const {
    switch (c) {
      case PowCase::Square: return x * x;
      case PowCase::Identity: return x;
      case PowCase::Cube: return x * x * x;
      case PowCase::Sqrt: return sqrt(x);
      case PowCase::Reciprocal: return T(1) / x;
      case PowCase::Rsqrt: return T(1) / sqrt(x);
      default: return pow(x, e);
    }
  }
};

// Calls f(T{}) for the dtypes Op supports.
template <class Op, class F>
void dispatch_op(DType t, const char* name, F&& f) {
  if constexpr (std::is_base_of<FloatOnlyOp, Op>::value) dispatch_float(t, name, f);
  else dispatch_all(t, name, f);
}

// ---- kernels ----------------------------------------------------------------------
template <class T, class Op>
__global__ void unary_contiguous(T* out, const T* x, int64_t n, Op op) {
  DRIFT_CUDA_KERNEL_LOOP(i, n) out[i] = op(x[i]);
}
template <class T, class Op>
__global__ void unary_strided(T* out, const T* x, Strided<2> s, int64_t n, Op op) {
  DRIFT_CUDA_KERNEL_LOOP(i, n) {
    int64_t off[2];
    s.offsets(i, off);
    out[off[0]] = op(x[off[1]]);
  }
}
template <class T, class Op>
__global__ void binary_contiguous(T* out, const T* a, const T* b, int64_t n, Op op) {
  DRIFT_CUDA_KERNEL_LOOP(i, n) out[i] = op(a[i], b[i]);
}
template <class T, class Op>
__global__ void binary_strided(T* out, const T* a, const T* b, Strided<3> s, int64_t n, Op op) {
  DRIFT_CUDA_KERNEL_LOOP(i, n) {
    int64_t off[3];
    s.offsets(i, off);
    out[off[0]] = op(a[off[1]], b[off[2]]);
  }
}
// out = cond != 0 ? a : b
template <class T>
__global__ void where_strided(T* out, const T* cond, const T* a, const T* b, Strided<4> s, int64_t n) {
  DRIFT_CUDA_KERNEL_LOOP(i, n) {
    int64_t off[4];
    s.offsets(i, off);
    out[off[0]] = cond[off[1]] != T(0) ? a[off[2]] : b[off[3]];
  }
}

void check_same_dtype(const Tensor& a, const Tensor& out, const char* name) {
  DRIFT_CHECK(a.dtype() == out.dtype(), "CUDA ", name, ": input dtype ", dtype_name(a.dtype()),
              " differs from output dtype ", dtype_name(out.dtype()));
  DRIFT_CHECK(a.device() == Device::CUDA, "CUDA ", name, ": input is on ", device_name(a.device()));
}

// out = op(x) for element type T.
template <class T, class Op>
void run_unary_typed(const KernelArgs& args, const char* name, Op op) {
  const Tensor& x = *args.in[0];
  Tensor& out = *args.out[0];
  check_same_dtype(x, out, name);
  int64_t n = out.numel();
  if (n == 0) return;
  Strided<2> s = make_strided<2>(out.shape(), {&out, &x});
  T* o = static_cast<T*>(out.data_ptr());
  const T* xp = static_cast<const T*>(x.data_ptr());
  if (s.all_contiguous()) unary_contiguous<T, Op><<<blocks_for(n), kThreads, 0, current_stream()>>>(o, xp, n, op);
  else unary_strided<T, Op><<<blocks_for(n), kThreads, 0, current_stream()>>>(o, xp, s, n, op);
  DRIFT_CUDA_CHECK_LAUNCH();
}

template <class Op>
void run_unary(const KernelArgs& args, const char* name, Op op) {
  dispatch_op<Op>(args.out[0]->dtype(), name, [&](auto tag) { run_unary_typed<decltype(tag)>(args, name, op); });
}

template <class Op>
void run_binary(const KernelArgs& args, const char* name) {
  const Tensor& a = *args.in[0];
  const Tensor& b = *args.in[1];
  Tensor& out = *args.out[0];
  check_same_dtype(a, out, name);
  check_same_dtype(b, out, name);
  int64_t n = out.numel();
  if (n == 0) return;
  Strided<3> s = make_strided<3>(out.shape(), {&out, &a, &b});
  dispatch_op<Op>(out.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out.data_ptr());
    const T* ap = static_cast<const T*>(a.data_ptr());
    const T* bp = static_cast<const T*>(b.data_ptr());
    if (s.all_contiguous()) binary_contiguous<T, Op><<<blocks_for(n), kThreads, 0, current_stream()>>>(o, ap, bp, n, Op{});
    else binary_strided<T, Op><<<blocks_for(n), kThreads, 0, current_stream()>>>(o, ap, bp, s, n, Op{});
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

void where_kernel(const KernelArgs& args) {
  const Tensor& cond = *args.in[0];
  const Tensor& a = *args.in[1];
  const Tensor& b = *args.in[2];
  Tensor& out = *args.out[0];
  check_same_dtype(cond, out, "Where");
  check_same_dtype(a, out, "Where");
  check_same_dtype(b, out, "Where");
  int64_t n = out.numel();
  if (n == 0) return;
  Strided<4> s = make_strided<4>(out.shape(), {&out, &cond, &a, &b});
  dispatch_all(out.dtype(), "Where", [&](auto tag) {
    using T = decltype(tag);
    where_strided<T><<<blocks_for(n), kThreads, 0, current_stream()>>>(static_cast<T*>(out.data_ptr()),
                                                  static_cast<const T*>(cond.data_ptr()),
                                                  static_cast<const T*>(a.data_ptr()),
                                                  static_cast<const T*>(b.data_ptr()), s, n);
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

void affine_kernel(const KernelArgs& args) {
  const UnaryParams& p = args.p<UnaryParams>();
  dispatch_all(args.out[0]->dtype(), "Affine", [&](auto tag) {
    using T = decltype(tag);
    run_unary_typed<T>(args, "Affine", AffineOp<T>{static_cast<T>(p.a), static_cast<T>(p.b)});
  });
}

void clamp_kernel(const KernelArgs& args) {
  const UnaryParams& p = args.p<UnaryParams>();
  dispatch_all(args.out[0]->dtype(), "Clamp", [&](auto tag) {
    using T = decltype(tag);
    T lo, hi;
    if constexpr (is_int<T>) {  // integer bounds; infinite bounds mean "no bound"
      lo = p.a <= -9.2e18 ? std::numeric_limits<T>::lowest() : static_cast<T>(std::ceil(p.a));
      hi = p.b >= 9.2e18 ? std::numeric_limits<T>::max() : static_cast<T>(std::floor(p.b));
    } else {
      lo = static_cast<T>(p.a);
      hi = static_cast<T>(p.b);
    }
    run_unary_typed<T>(args, "Clamp", ClampOp<T>{lo, hi});
  });
}

void pow_scalar_kernel(const KernelArgs& args) {
  const double e = args.p<UnaryParams>().a;
  PowCase c = e == 2 ? PowCase::Square : e == 1 ? PowCase::Identity : e == 3 ? PowCase::Cube
            : e == 0.5 ? PowCase::Sqrt : e == -1 ? PowCase::Reciprocal : e == -0.5 ? PowCase::Rsqrt
            : PowCase::General;
  dispatch_float(args.out[0]->dtype(), "PowScalar", [&](auto tag) {
    using T = decltype(tag);
    run_unary_typed<T>(args, "PowScalar", PowScalarOp<T>{static_cast<T>(e), c});
  });
}

}  // namespace

void register_elementwise_kernels(Backend& b) {
  auto set = [&](OpKind k, KernelFn f) { b.kernels[static_cast<int>(k)] = f; };
  set(OpKind::Add, [](const KernelArgs& a) { run_binary<AddOp>(a, "Add"); });
  set(OpKind::Sub, [](const KernelArgs& a) { run_binary<SubOp>(a, "Sub"); });
  set(OpKind::Mul, [](const KernelArgs& a) { run_binary<MulOp>(a, "Mul"); });
  set(OpKind::Div, [](const KernelArgs& a) { run_binary<DivOp>(a, "Div"); });
  set(OpKind::Pow, [](const KernelArgs& a) { run_binary<PowOp>(a, "Pow"); });
  set(OpKind::Maximum, [](const KernelArgs& a) { run_binary<MaximumOp>(a, "Maximum"); });
  set(OpKind::SiluBackward, [](const KernelArgs& a) { run_binary<SiluBackwardOp>(a, "SiluBackward"); });
  set(OpKind::Minimum, [](const KernelArgs& a) { run_binary<MinimumOp>(a, "Minimum"); });
  set(OpKind::Eq, [](const KernelArgs& a) { run_binary<EqOp>(a, "Eq"); });
  set(OpKind::Ne, [](const KernelArgs& a) { run_binary<NeOp>(a, "Ne"); });
  set(OpKind::Lt, [](const KernelArgs& a) { run_binary<LtOp>(a, "Lt"); });
  set(OpKind::Le, [](const KernelArgs& a) { run_binary<LeOp>(a, "Le"); });
  set(OpKind::Gt, [](const KernelArgs& a) { run_binary<GtOp>(a, "Gt"); });
  set(OpKind::Ge, [](const KernelArgs& a) { run_binary<GeOp>(a, "Ge"); });
  set(OpKind::Where, where_kernel);

  set(OpKind::Neg, [](const KernelArgs& a) { run_unary(a, "Neg", NegOp{}); });
  set(OpKind::Abs, [](const KernelArgs& a) { run_unary(a, "Abs", AbsOp{}); });
  set(OpKind::Sign, [](const KernelArgs& a) { run_unary(a, "Sign", SignOp{}); });
  set(OpKind::Exp, [](const KernelArgs& a) { run_unary(a, "Exp", ExpOp{}); });
  set(OpKind::Log, [](const KernelArgs& a) { run_unary(a, "Log", LogOp{}); });
  set(OpKind::Sqrt, [](const KernelArgs& a) { run_unary(a, "Sqrt", SqrtOp{}); });
  set(OpKind::Rsqrt, [](const KernelArgs& a) { run_unary(a, "Rsqrt", RsqrtOp{}); });
  set(OpKind::Sin, [](const KernelArgs& a) { run_unary(a, "Sin", SinOp{}); });
  set(OpKind::Cos, [](const KernelArgs& a) { run_unary(a, "Cos", CosOp{}); });
  set(OpKind::Tanh, [](const KernelArgs& a) { run_unary(a, "Tanh", TanhOp{}); });
  set(OpKind::Sigmoid, [](const KernelArgs& a) { run_unary(a, "Sigmoid", SigmoidOp{}); });
  set(OpKind::Relu, [](const KernelArgs& a) { run_unary(a, "Relu", ReluOp{}); });
  set(OpKind::Silu, [](const KernelArgs& a) { run_unary(a, "Silu", SiluOp{}); });
  set(OpKind::Gelu, [](const KernelArgs& a) { run_unary(a, "Gelu", GeluOp{}); });
  set(OpKind::Erf, [](const KernelArgs& a) { run_unary(a, "Erf", ErfOp{}); });

  set(OpKind::Affine, affine_kernel);
  set(OpKind::Clamp, clamp_kernel);
  set(OpKind::PowScalar, pow_scalar_kernel);
}

}  // namespace drift::cuda
