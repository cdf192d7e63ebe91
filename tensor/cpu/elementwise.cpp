// CPU elementwise kernels: binary ops (operands arrive as views of the output's
// shape, broadcast dims with stride 0), comparisons, Where, unary ops and the
// scalar-parameter ops Affine / PowScalar / Clamp.
//
// Each op is one functor with the math for one element; the loops around it
// (contiguous, scalar-broadcast, strided) are written once below and run in
// parallel chunks through for_each_strided (tensor/cpu/loops.h).
// Every op supports float32 and float64; ops whose functor says kInt = true
// also support int64. The float32 transcendentals (exp, log, tanh, sigmoid,
// silu and its backward, gelu, erf) run through the vector kernels of the
// active ISA level (tensor/cpu/vecmath.h); their float64 versions use the
// double reference definitions there.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/vecmath.h"

namespace drift::cpu {
namespace {

// ---- binary functors ------------------------------------------------------------
struct AddF { static constexpr bool kInt = true; template <class T> T operator()(T a, T b) const { return a + b; } };
struct SubF { static constexpr bool kInt = true; template <class T> T operator()(T a, T b) const { return a - b; } };
struct MulF { static constexpr bool kInt = true; template <class T> T operator()(T a, T b) const { return a * b; } };
struct DivF { static constexpr bool kInt = false; template <class T> T operator()(T a, T b) const { return a / b; } };
struct PowF { static constexpr bool kInt = false; template <class T> T operator()(T a, T b) const { return std::pow(a, b); } };
// maximum/minimum propagate NaN (as PyTorch does).
struct MaximumF {
  static constexpr bool kInt = true;
  template <class T> T operator()(T a, T b) const { return a != a ? a : (b != b ? b : (a > b ? a : b)); }
};
struct MinimumF {
  static constexpr bool kInt = true;
  template <class T> T operator()(T a, T b) const { return a != a ? a : (b != b ? b : (a < b ? a : b)); }
};
// dx = g s (1 + x (1 - s)), s = sigmoid(x): the derivative of silu(x) = x s times g,
// in one pass (autograd's silu backward; the composite formula takes six).
struct SiluBackwardF {
  static constexpr bool kInt = false;
  double operator()(double g, double x) const { return silu_backward_ref(g, x); }
};
// Comparisons give 1 or 0 in the operands' dtype.
struct EqF { static constexpr bool kInt = true; template <class T> T operator()(T a, T b) const { return a == b ? T(1) : T(0); } };
struct NeF { static constexpr bool kInt = true; template <class T> T operator()(T a, T b) const { return a != b ? T(1) : T(0); } };
struct LtF { static constexpr bool kInt = true; template <class T> T operator()(T a, T b) const { return a < b ? T(1) : T(0); } };
struct LeF { static constexpr bool kInt = true; template <class T> T operator()(T a, T b) const { return a <= b ? T(1) : T(0); } };
struct GtF { static constexpr bool kInt = true; template <class T> T operator()(T a, T b) const { return a > b ? T(1) : T(0); } };
struct GeF { static constexpr bool kInt = true; template <class T> T operator()(T a, T b) const { return a >= b ? T(1) : T(0); } };

// One run of n elements: out = op(a, b). Strides in bytes.
template <class T, class Op>
void binary_run(char* const* p, const int64_t* s, int64_t n) {
  const Op op;
  constexpr int64_t es = sizeof(T);
  T* __restrict o = reinterpret_cast<T*>(p[0]);
  const T* a = reinterpret_cast<const T*>(p[1]);
  const T* b = reinterpret_cast<const T*>(p[2]);
  if (s[0] == es && s[1] == es && s[2] == es) {  // all contiguous
    for (int64_t i = 0; i < n; ++i) o[i] = op(a[i], b[i]);
  } else if (s[0] == es && s[1] == es && s[2] == 0) {  // b broadcast along the run (e.g. a bias [C,1,1])
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) o[i] = op(a[i], bv);
  } else if (s[0] == es && s[1] == 0 && s[2] == es) {  // a broadcast along the run
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) o[i] = op(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<T*>(p[0] + i * s[0]) =
          op(*reinterpret_cast<const T*>(p[1] + i * s[1]), *reinterpret_cast<const T*>(p[2] + i * s[2]));
  }
}

template <class Op>
void binary_kernel(const KernelArgs& args) {
  std::array<const Tensor*, 3> ts{args.out[0], args.in[0], args.in[1]};
  switch (args.out[0]->dtype()) {
    case DType::Float32: for_each_strided<3>(ts, binary_run<float, Op>); break;
    case DType::Float64: for_each_strided<3>(ts, binary_run<double, Op>); break;
    case DType::Int64:
      if constexpr (Op::kInt) {
        for_each_strided<3>(ts, binary_run<int64_t, Op>);
      } else {
        throw Error("CPU elementwise kernel: this binary op does not support int64 (expected float32 or float64)");
      }
      break;
    default: kernel_dtype_error("elementwise.cpp", args.out[0]->dtype());
  }
}

// ---- where ----------------------------------------------------------------------
template <class T>
void where_run(char* const* p, const int64_t* s, int64_t n) {
  constexpr int64_t es = sizeof(T);
  T* __restrict o = reinterpret_cast<T*>(p[0]);
  const T* c = reinterpret_cast<const T*>(p[1]);
  const T* a = reinterpret_cast<const T*>(p[2]);
  const T* b = reinterpret_cast<const T*>(p[3]);
  if (s[0] == es && s[1] == es && s[2] == es && s[3] == es) {
    for (int64_t i = 0; i < n; ++i) o[i] = c[i] != T(0) ? a[i] : b[i];
  } else {
    for (int64_t i = 0; i < n; ++i) {
      T cv = *reinterpret_cast<const T*>(p[1] + i * s[1]);
      *reinterpret_cast<T*>(p[0] + i * s[0]) =
          cv != T(0) ? *reinterpret_cast<const T*>(p[2] + i * s[2]) : *reinterpret_cast<const T*>(p[3] + i * s[3]);
    }
  }
}

void where_kernel(const KernelArgs& args) {
  std::array<const Tensor*, 4> ts{args.out[0], args.in[0], args.in[1], args.in[2]};
  switch (args.out[0]->dtype()) {
    case DType::Float32: for_each_strided<4>(ts, where_run<float>); break;
    case DType::Float64: for_each_strided<4>(ts, where_run<double>); break;
    case DType::Int64: for_each_strided<4>(ts, where_run<int64_t>); break;
    default: kernel_dtype_error("elementwise.cpp", args.out[0]->dtype());
  }
}

// ---- unary functors -------------------------------------------------------------
struct NegF { static constexpr bool kInt = true; template <class T> T operator()(T x) const { return -x; } };
struct AbsF {
  static constexpr bool kInt = true;
  template <class T> T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return std::fabs(x);
    else return x < T(0) ? -x : x;
  }
};
struct SignF {
  static constexpr bool kInt = true;
  template <class T> T operator()(T x) const { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x); }  // sign(0)=0, NaN stays
};
struct ExpF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::exp(x); } };
struct LogF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::log(x); } };
struct SqrtF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::sqrt(x); } };
struct RsqrtF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return T(1) / std::sqrt(x); } };
struct SinF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::sin(x); } };
struct CosF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::cos(x); } };
struct TanhF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::tanh(x); } };
struct SigmoidF { static constexpr bool kInt = false; double operator()(double x) const { return sigmoid_ref(x); } };
struct ReluF { static constexpr bool kInt = true; template <class T> T operator()(T x) const { return x > T(0) ? x : (x != x ? x : T(0)); } };
struct SiluF { static constexpr bool kInt = false; double operator()(double x) const { return silu_ref(x); } };
struct GeluF { static constexpr bool kInt = false; double operator()(double x) const { return gelu_ref(x); } };
struct ErfF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::erf(x); } };

// Scalar-parameter functors, built from UnaryParams for the element type T.
template <class T> struct AffineF {  // y = a x + b
  T a, b;
  T operator()(T x) const { return a * x + b; }
};
template <class T> struct ClampF {  // y = min(max(x, lo), hi); NaN stays NaN
  T lo, hi;
  T operator()(T x) const { return x < lo ? lo : (x > hi ? hi : x); }
};
template <class T> struct PowScalarF {  // y = x^e
  T e;
  T operator()(T x) const { return std::pow(x, e); }
};
struct SquareF { template <class T> T operator()(T x) const { return x * x; } };
struct CubeF { template <class T> T operator()(T x) const { return x * x * x; } };
struct ReciprocalF { template <class T> T operator()(T x) const { return T(1) / x; } };
struct IdentityF { template <class T> T operator()(T x) const { return x; } };

// One run: out = op(in).
template <class T, class Op>
void unary_strided(const KernelArgs& args, const Op& op) {
  for_each_strided<2>({args.out[0], args.in[0]}, [&op](char* const* p, const int64_t* s, int64_t n) {
    constexpr int64_t es = sizeof(T);
    T* __restrict o = reinterpret_cast<T*>(p[0]);
    const T* a = reinterpret_cast<const T*>(p[1]);
    if (s[0] == es && s[1] == es) {
      for (int64_t i = 0; i < n; ++i) o[i] = op(a[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<T*>(p[0] + i * s[0]) = op(*reinterpret_cast<const T*>(p[1] + i * s[1]));
    }
  });
}

template <class Op>
void unary_kernel(const KernelArgs& args) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: unary_strided<float>(args, Op()); break;
    case DType::Float64: unary_strided<double>(args, Op()); break;
    case DType::Int64:
      if constexpr (Op::kInt) {
        unary_strided<int64_t>(args, Op());
      } else {
        throw Error("CPU elementwise kernel: this unary op does not support int64 (expected float32 or float64)");
      }
      break;
    default: kernel_dtype_error("elementwise.cpp", args.out[0]->dtype());
  }
}

// float32 through the active level's vector kernel (tensor/cpu/vecmath.h),
// other dtypes through the functor. Contiguous runs go straight to the vector
// kernel; strided runs through a small buffer, so a value's result does not
// depend on the layout.
constexpr int64_t kVecBuf = 256;
template <VecFn F, class Op>
void vec_unary_kernel(const KernelArgs& args) {
  if (args.out[0]->dtype() != DType::Float32) return unary_kernel<Op>(args);
  const VecUnaryFn fn = active_vecmath().unary[static_cast<int>(F)];
  for_each_strided<2>({args.out[0], args.in[0]}, [fn](char* const* p, const int64_t* s, int64_t n) {
    if (s[0] == 4 && s[1] == 4) return fn(reinterpret_cast<const float*>(p[1]), reinterpret_cast<float*>(p[0]), n);
    float buf[kVecBuf];
    for (int64_t i0 = 0; i0 < n; i0 += kVecBuf) {
      const int64_t m = std::min(kVecBuf, n - i0);
      for (int64_t i = 0; i < m; ++i) buf[i] = *reinterpret_cast<const float*>(p[1] + (i0 + i) * s[1]);
      fn(buf, buf, m);
      for (int64_t i = 0; i < m; ++i) *reinterpret_cast<float*>(p[0] + (i0 + i) * s[0]) = buf[i];
    }
  });
}
// dx = silu_backward(g, x), likewise.
void silu_backward_kernel(const KernelArgs& args) {
  if (args.out[0]->dtype() != DType::Float32) return binary_kernel<SiluBackwardF>(args);
  const VecSiluBackwardFn fn = active_vecmath().silu_backward;
  std::array<const Tensor*, 3> ts{args.out[0], args.in[0], args.in[1]};
  for_each_strided<3>(ts, [fn](char* const* p, const int64_t* s, int64_t n) {
    if (s[0] == 4 && s[1] == 4 && s[2] == 4)
      return fn(reinterpret_cast<const float*>(p[1]), reinterpret_cast<const float*>(p[2]),
                reinterpret_cast<float*>(p[0]), n);
    float g[kVecBuf], x[kVecBuf];
    for (int64_t i0 = 0; i0 < n; i0 += kVecBuf) {
      const int64_t m = std::min(kVecBuf, n - i0);
      for (int64_t i = 0; i < m; ++i) {
        g[i] = *reinterpret_cast<const float*>(p[1] + (i0 + i) * s[1]);
        x[i] = *reinterpret_cast<const float*>(p[2] + (i0 + i) * s[2]);
      }
      fn(g, x, g, m);
      for (int64_t i = 0; i < m; ++i) *reinterpret_cast<float*>(p[0] + (i0 + i) * s[0]) = g[i];
    }
  });
}

template <class T>
void affine_typed(const KernelArgs& args) {
  const UnaryParams& p = args.p<UnaryParams>();
  unary_strided<T>(args, AffineF<T>{static_cast<T>(p.a), static_cast<T>(p.b)});
}
void affine_kernel(const KernelArgs& args) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: affine_typed<float>(args); break;
    case DType::Float64: affine_typed<double>(args); break;
    case DType::Int64: affine_typed<int64_t>(args); break;  // a, b rounded to integers
    default: kernel_dtype_error("elementwise.cpp", args.out[0]->dtype());
  }
}

template <class T>
void clamp_typed(const KernelArgs& args) {
  const UnaryParams& p = args.p<UnaryParams>();
  T lo, hi;
  if constexpr (std::is_integral_v<T>) {  // infinite bounds mean "no bound"
    lo = p.a <= -9.2e18 ? std::numeric_limits<T>::lowest() : static_cast<T>(std::ceil(p.a));
    hi = p.b >= 9.2e18 ? std::numeric_limits<T>::max() : static_cast<T>(std::floor(p.b));
  } else {
    lo = static_cast<T>(p.a);
    hi = static_cast<T>(p.b);
  }
  unary_strided<T>(args, ClampF<T>{lo, hi});
}
void clamp_kernel(const KernelArgs& args) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: clamp_typed<float>(args); break;
    case DType::Float64: clamp_typed<double>(args); break;
    case DType::Int64: clamp_typed<int64_t>(args); break;
    default: kernel_dtype_error("elementwise.cpp", args.out[0]->dtype());
  }
}

// x^e with the common exponents as plain multiplications (exact and fast).
template <class T>
void pow_scalar_typed(const KernelArgs& args) {
  const double e = args.p<UnaryParams>().a;
  if (e == 2) unary_strided<T>(args, SquareF());
  else if (e == 1) unary_strided<T>(args, IdentityF());
  else if (e == 3) unary_strided<T>(args, CubeF());
  else if (e == 0.5) unary_strided<T>(args, SqrtF());
  else if (e == -1) unary_strided<T>(args, ReciprocalF());
  else if (e == -0.5) unary_strided<T>(args, RsqrtF());
  else unary_strided<T>(args, PowScalarF<T>{static_cast<T>(e)});
}
void pow_scalar_kernel(const KernelArgs& args) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: pow_scalar_typed<float>(args); break;
    case DType::Float64: pow_scalar_typed<double>(args); break;
    case DType::Int64: throw Error("CPU PowScalar: int64 is not supported (expected float32 or float64)");
    default: kernel_dtype_error("elementwise.cpp", args.out[0]->dtype());
  }
}

}  // namespace

void register_elementwise_kernels(Backend& b) {
  auto set = [&b](OpKind op, KernelFn fn) { b.kernels[static_cast<int>(op)] = fn; };
  set(OpKind::Add, binary_kernel<AddF>);
  set(OpKind::Sub, binary_kernel<SubF>);
  set(OpKind::Mul, binary_kernel<MulF>);
  set(OpKind::Div, binary_kernel<DivF>);
  set(OpKind::Pow, binary_kernel<PowF>);
  set(OpKind::Maximum, binary_kernel<MaximumF>);
  set(OpKind::SiluBackward, silu_backward_kernel);
  set(OpKind::Minimum, binary_kernel<MinimumF>);
  set(OpKind::Eq, binary_kernel<EqF>);
  set(OpKind::Ne, binary_kernel<NeF>);
  set(OpKind::Lt, binary_kernel<LtF>);
  set(OpKind::Le, binary_kernel<LeF>);
  set(OpKind::Gt, binary_kernel<GtF>);
  set(OpKind::Ge, binary_kernel<GeF>);
  set(OpKind::Where, where_kernel);
  set(OpKind::Neg, unary_kernel<NegF>);
  set(OpKind::Abs, unary_kernel<AbsF>);
  set(OpKind::Sign, unary_kernel<SignF>);
  set(OpKind::Exp, vec_unary_kernel<VecFn::Exp, ExpF>);
  set(OpKind::Log, vec_unary_kernel<VecFn::Log, LogF>);
  set(OpKind::Sqrt, unary_kernel<SqrtF>);
  set(OpKind::Rsqrt, unary_kernel<RsqrtF>);
  set(OpKind::Sin, unary_kernel<SinF>);
  set(OpKind::Cos, unary_kernel<CosF>);
  set(OpKind::Tanh, vec_unary_kernel<VecFn::Tanh, TanhF>);
  set(OpKind::Sigmoid, vec_unary_kernel<VecFn::Sigmoid, SigmoidF>);
  set(OpKind::Relu, unary_kernel<ReluF>);
  set(OpKind::Silu, vec_unary_kernel<VecFn::Silu, SiluF>);
  set(OpKind::Gelu, vec_unary_kernel<VecFn::Gelu, GeluF>);
  set(OpKind::Erf, vec_unary_kernel<VecFn::Erf, ErfF>);
  set(OpKind::Affine, affine_kernel);
  set(OpKind::PowScalar, pow_scalar_kernel);
  set(OpKind::Clamp, clamp_kernel);
}

}  // namespace drift::cpu
