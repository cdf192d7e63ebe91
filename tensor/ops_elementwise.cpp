// Elementwise frontends: check dtypes/devices, broadcast (NumPy rules), allocate
// the output and dispatch. Kernels receive every input as a view of the output's
// shape (broadcast dims have stride 0), so they never need to know about broadcasting.
#include <cmath>
#include <limits>

#include "tensor/backend.h"
#include "tensor/ops.h"

namespace drift::ops {

namespace {

// Ops that also accept int64 (the rest are float32/float64 only).
bool supports_int64(OpKind op) {
  switch (op) {
    case OpKind::Add: case OpKind::Sub: case OpKind::Mul: case OpKind::Maximum: case OpKind::Minimum:
    case OpKind::Eq: case OpKind::Ne: case OpKind::Lt: case OpKind::Le: case OpKind::Gt: case OpKind::Ge:
    case OpKind::Where: case OpKind::Neg: case OpKind::Abs: case OpKind::Sign: case OpKind::Relu:
    case OpKind::Affine: case OpKind::Clamp:
      return true;
    default:
      return false;
  }
}

void check_dtype(OpKind op, DType dt) {
  DRIFT_CHECK(is_floating(dt) || supports_int64(op), op_name(op), ": expected a float32 or float64 tensor, got ",
              dtype_name(dt));
}

// A view of t with the output's shape (no copy when t already has it).
Tensor as_shape(const Tensor& t, const Shape& shape) { return t.shape() == shape ? t : expand(t, shape); }

Tensor binary(OpKind op, const Tensor& a, const Tensor& b) {
  DRIFT_CHECK(a.dtype() == b.dtype(), op_name(op), ": dtypes differ: ", dtype_name(a.dtype()), " (shape ",
              shape_str(a.shape()), ") vs ", dtype_name(b.dtype()), " (shape ", shape_str(b.shape()), ")");
  DRIFT_CHECK(a.device() == b.device(), op_name(op), ": devices differ: ", device_name(a.device()), " vs ",
              device_name(b.device()));
  check_dtype(op, a.dtype());
  Shape shape;
  try {
    shape = broadcast_shapes(a.shape(), b.shape());
  } catch (const Error& e) {
    throw Error(str(op_name(op), ": ", e.what()));
  }
  Tensor out = empty(shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  Tensor ae = as_shape(a, shape), be = as_shape(b, shape);
  KernelArgs args;
  args.in[0] = &ae;
  args.in[1] = &be;
  args.out[0] = &out;
  dispatch(op, out.device(), args);
  return out;
}

Tensor unary(OpKind op, const Tensor& x, const UnaryParams* params = nullptr) {
  check_dtype(op, x.dtype());
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  KernelArgs args;
  args.in[0] = &x;
  args.out[0] = &out;
  args.params = params;
  dispatch(op, out.device(), args);
  return out;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(OpKind::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(OpKind::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(OpKind::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(OpKind::Div, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(OpKind::Pow, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(OpKind::Maximum, a, b); }
Tensor silu_backward(const Tensor& grad, const Tensor& x) { return binary(OpKind::SiluBackward, grad, x); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(OpKind::Minimum, a, b); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary(OpKind::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary(OpKind::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary(OpKind::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary(OpKind::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary(OpKind::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary(OpKind::Ge, a, b); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  DRIFT_CHECK(a.dtype() == b.dtype(), "where: dtypes of a and b differ: ", dtype_name(a.dtype()), " vs ",
              dtype_name(b.dtype()));
  DRIFT_CHECK(a.device() == b.device() && cond.device() == a.device(), "where: devices differ: cond on ",
              device_name(cond.device()), ", a on ", device_name(a.device()), ", b on ", device_name(b.device()));
  Shape shape;
  try {
    shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape()), b.shape());
  } catch (const Error& e) {
    throw Error(str("where: cond ", shape_str(cond.shape()), ", a ", shape_str(a.shape()), ", b ",
                    shape_str(b.shape()), " do not broadcast: ", e.what()));
  }
  Tensor c = cond.dtype() == a.dtype() ? cond : to(cond, a.dtype());  // any nonzero value is true
  Tensor out = empty(shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  Tensor ce = as_shape(c, shape), ae = as_shape(a, shape), be = as_shape(b, shape);
  KernelArgs args;
  args.in[0] = &ce;
  args.in[1] = &ae;
  args.in[2] = &be;
  args.out[0] = &out;
  dispatch(OpKind::Where, out.device(), args);
  return out;
}

Tensor neg(const Tensor& x) { return unary(OpKind::Neg, x); }
Tensor abs(const Tensor& x) { return unary(OpKind::Abs, x); }
Tensor sign(const Tensor& x) { return unary(OpKind::Sign, x); }
Tensor exp(const Tensor& x) { return unary(OpKind::Exp, x); }
Tensor log(const Tensor& x) { return unary(OpKind::Log, x); }
Tensor sqrt(const Tensor& x) { return unary(OpKind::Sqrt, x); }
Tensor rsqrt(const Tensor& x) { return unary(OpKind::Rsqrt, x); }
Tensor sin(const Tensor& x) { return unary(OpKind::Sin, x); }
Tensor cos(const Tensor& x) { return unary(OpKind::Cos, x); }
Tensor tanh(const Tensor& x) { return unary(OpKind::Tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary(OpKind::Sigmoid, x); }
Tensor relu(const Tensor& x) { return unary(OpKind::Relu, x); }
Tensor silu(const Tensor& x) { return unary(OpKind::Silu, x); }
Tensor gelu(const Tensor& x) { return unary(OpKind::Gelu, x); }
Tensor erf(const Tensor& x) { return unary(OpKind::Erf, x); }
Tensor square(const Tensor& x) { return is_floating(x.dtype()) ? pow(x, 2.0) : mul(x, x); }

// ---- scalar forms ---------------------------------------------------------------

Tensor affine(const Tensor& x, double a, double b) {
  if (x.dtype() == DType::Int64)
    DRIFT_CHECK(std::floor(a) == a && std::floor(b) == b, "affine on an int64 tensor needs integer a and b, got a = ",
                a, ", b = ", b);
  UnaryParams p{a, b};
  return unary(OpKind::Affine, x, &p);
}
Tensor add(const Tensor& x, double s) { return affine(x, 1.0, s); }
Tensor sub(const Tensor& x, double s) { return affine(x, 1.0, -s); }
Tensor mul(const Tensor& x, double s) { return affine(x, s, 0.0); }
Tensor div(const Tensor& x, double s) {
  DRIFT_CHECK(is_floating(x.dtype()), "div: expected a float32 or float64 tensor, got ", dtype_name(x.dtype()));
  return affine(x, 1.0 / s, 0.0);
}
Tensor rsub(double s, const Tensor& x) { return affine(x, -1.0, s); }
Tensor pow(const Tensor& x, double e) {
  UnaryParams p{e, 0};
  return unary(OpKind::PowScalar, x, &p);
}
Tensor clamp(const Tensor& x, double lo, double hi) {
  DRIFT_CHECK(!(lo > hi), "clamp: expected lo <= hi, got lo = ", lo, ", hi = ", hi);
  UnaryParams p{lo, hi};
  return unary(OpKind::Clamp, x, &p);
}
Tensor maximum(const Tensor& x, double s) { return clamp(x, s, kInf); }
Tensor minimum(const Tensor& x, double s) { return clamp(x, -kInf, s); }

}  // namespace drift::ops
