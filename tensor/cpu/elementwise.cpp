// CPU elementwise kernels: binary ops (operands arrive as views of the output's
// shape, broadcast dims with stride 0), comparisons, Where, unary ops and the
// scalar-parameter ops Affine / PowScalar / Clamp.
//
// Each op is one functor with the math for one element; the loops around it
// (contiguous, scalar-broadcast, strided) are written once below and run in
// parallel chunks through for_each_strided (tensor/cpu/loops.h).
// Every op supports float32 and float64; ops whose functor says kInt = true
// also support int64.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"

namespace drift::cpu {
namespace {

// ---- fast float exp -------------------------------------------------------------
// exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2],
// exp(r) by the Cephes degree-6 polynomial (about 1 ulp). Branch-free so that
// loops calling it vectorize; std::exp on float does not.
inline float exp_f32(float x) {
  const float kHi = 88.72283f, kLo = -87.0f;
  float xc = x > kLo ? (x < kHi ? x : kHi) : kLo;  // NaN -> kLo here (fixed up at the end)
  // n = round(x log2 e): adding 1.5 * 2^23 rounds to an integer (floor does not vectorize)
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693359375f;  // ln 2 split in two parts for an exact n ln 2
  r = r + n * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  // 2^(n-1) from the exponent bits (n - 1 + 127 in [1, 254]), times 2.
  uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 126) << 23;
  float scale = __builtin_bit_cast(float, bits);
  float res = y * scale * 2.0f;
  res = x > kHi ? std::numeric_limits<float>::infinity() : res;
  res = x < kLo ? 0.0f : res;
  return x != x ? x : res;  // NaN in, NaN out
}
inline double exp_any(double x) { return std::exp(x); }
inline float exp_any(float x) { return exp_f32(x); }

// ---- fast float erf -------------------------------------------------------------
// erf(x) = x P(x^2) / Q(x^2) on [-4, 4] (|erf| rounds to 1 in float outside), the
// rational approximation used by Eigen and XLA; a few ulp, and vectorizable.
inline float erf_f32(float x_in) {
  const float x = std::min(std::max(x_in, -4.0f), 4.0f);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  float r = p / q;
  return x_in != x_in ? x_in : r;  // NaN in, NaN out
}
inline double erf_any(double x) { return std::erf(x); }
inline float erf_any(float x) { return erf_f32(x); }

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
  template <class T> T operator()(T g, T x) const {
    const T s = T(1) / (T(1) + exp_any(-x));
    return g * s * (T(1) + x * (T(1) - s));
  }
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
  }
}

// ---- unary functors -------------------------------------------------------------
constexpr double kInvSqrt2 = 0.70710678118654752440;

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
struct ExpF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return exp_any(x); } };
struct LogF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::log(x); } };
struct SqrtF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::sqrt(x); } };
struct RsqrtF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return T(1) / std::sqrt(x); } };
struct SinF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::sin(x); } };
struct CosF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::cos(x); } };
struct TanhF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return std::tanh(x); } };
// sigmoid(x) = 1 / (1 + e^-x)
struct SigmoidF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return T(1) / (T(1) + exp_any(-x)); } };
struct ReluF { static constexpr bool kInt = true; template <class T> T operator()(T x) const { return x > T(0) ? x : (x != x ? x : T(0)); } };
// silu(x) = x * sigmoid(x)   (Elfwing et al. 2018; "swish")
struct SiluF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return x / (T(1) + exp_any(-x)); } };
// gelu(x) = x * Phi(x) = x/2 (1 + erf(x / sqrt 2))   (Hendrycks & Gimpel 2016, exact form)
struct GeluF {
  static constexpr bool kInt = false;
  template <class T> T operator()(T x) const { return T(0.5) * x * (T(1) + erf_any(x * T(kInvSqrt2))); }
};
struct ErfF { static constexpr bool kInt = false; template <class T> T operator()(T x) const { return erf_any(x); } };

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
  }
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
  set(OpKind::SiluBackward, binary_kernel<SiluBackwardF>);
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
  set(OpKind::Exp, unary_kernel<ExpF>);
  set(OpKind::Log, unary_kernel<LogF>);
  set(OpKind::Sqrt, unary_kernel<SqrtF>);
  set(OpKind::Rsqrt, unary_kernel<RsqrtF>);
  set(OpKind::Sin, unary_kernel<SinF>);
  set(OpKind::Cos, unary_kernel<CosF>);
  set(OpKind::Tanh, unary_kernel<TanhF>);
  set(OpKind::Sigmoid, unary_kernel<SigmoidF>);
  set(OpKind::Relu, unary_kernel<ReluF>);
  set(OpKind::Silu, unary_kernel<SiluF>);
  set(OpKind::Gelu, unary_kernel<GeluF>);
  set(OpKind::Erf, unary_kernel<ErfF>);
  set(OpKind::Affine, affine_kernel);
  set(OpKind::PowScalar, pow_scalar_kernel);
  set(OpKind::Clamp, clamp_kernel);
}

}  // namespace drift::cpu
