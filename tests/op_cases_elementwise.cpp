// Cases: elementwise ops (tensor/cpu/elementwise.cpp, cuda/elementwise.cu).
#include <cmath>
#include <limits>

#include "tests/op_cases.h"

namespace drift::optest {
namespace {

using Bin = Tensor (*)(const Tensor&, const Tensor&);
using Un = Tensor (*)(const Tensor&);
struct Binary { const char* op; Bin fn; double (*ref)(double, double); bool int64; bool positive_b; bool exact; };
struct Unary { const char* op; Un fn; double (*ref)(double); bool int64; bool positive; };

const Binary kBinary[] = {
    {"Add", ops::add, [](double a, double b) { return a + b; }, true, false, false},
    {"Sub", ops::sub, [](double a, double b) { return a - b; }, true, false, false},
    {"Mul", ops::mul, [](double a, double b) { return a * b; }, true, false, false},
    {"Div", ops::div, [](double a, double b) { return a / b; }, false, true, false},
    {"Maximum", ops::maximum, [](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }, true, false, true},
    {"Minimum", ops::minimum, [](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); }, true, false, true},
    {"Eq", ops::eq, [](double a, double b) { return a == b ? 1.0 : 0.0; }, true, false, true},
    {"Ne", ops::ne, [](double a, double b) { return a != b ? 1.0 : 0.0; }, true, false, true},
    {"Lt", ops::lt, [](double a, double b) { return a < b ? 1.0 : 0.0; }, true, false, true},
    {"Le", ops::le, [](double a, double b) { return a <= b ? 1.0 : 0.0; }, true, false, true},
    {"Gt", ops::gt, [](double a, double b) { return a > b ? 1.0 : 0.0; }, true, false, true},
    {"Ge", ops::ge, [](double a, double b) { return a >= b ? 1.0 : 0.0; }, true, false, true},
};

double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }

const Unary kUnary[] = {
    {"Neg", ops::neg, [](double x) { return -x; }, true, false},
    {"Abs", ops::abs, [](double x) { return std::fabs(x); }, true, false},
    {"Sign", ops::sign, [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }, true, false},
    {"Exp", ops::exp, [](double x) { return std::exp(x); }, false, false},
    {"Log", ops::log, [](double x) { return std::log(x); }, false, true},
    {"Sqrt", ops::sqrt, [](double x) { return std::sqrt(x); }, false, true},
    {"Rsqrt", ops::rsqrt, [](double x) { return 1 / std::sqrt(x); }, false, true},
    {"Sin", ops::sin, [](double x) { return std::sin(x); }, false, false},
    {"Cos", ops::cos, [](double x) { return std::cos(x); }, false, false},
    {"Tanh", ops::tanh, [](double x) { return std::tanh(x); }, false, false},
    {"Sigmoid", ops::sigmoid, sigmoid_ref, false, false},
    {"Relu", ops::relu, [](double x) { return x > 0 ? x : (std::isnan(x) ? x : 0.0); }, true, false},
    // silu(-inf) is its limit -0, not -inf * 0 (tensor/cpu/vecmath.h)
    {"Silu", ops::silu, [](double x) { return std::isinf(x) && x < 0 ? -0.0 : x * sigmoid_ref(x); }, false, false},
    {"Gelu", ops::gelu, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, false, false},
    {"Erf", ops::erf, [](double x) { return std::erf(x); }, false, false},
    {"PowScalar", ops::square, [](double x) { return x * x; }, true, false},  // square: x^2 (x * x for int64)
};

// -20 .. 20 in steps of 0.05 and large magnitudes (exp/sigmoid/silu saturation).
std::vector<double> libm_points(bool positive) {
  std::vector<double> xs;
  for (int i = -400; i <= 400; ++i) xs.push_back(i * 0.05);
  for (double x : {-120.0, -88.0, -87.5, -30.0, 30.0, 80.0, 88.5, 89.0, 200.0}) xs.push_back(x);
  std::vector<double> out;
  for (double x : xs)
    if (!positive || x > 0) out.push_back(x);
  return out;
}

}  // namespace

DRIFT_OP_CASES(elementwise_binary) {
  // Broadcasting shapes: bias-like [C,1,1], row, column, scalar, both sides, a U-Net sized one.
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3, 4, 5}, {3, 1, 1}}, {{2, 3, 4, 5}, {5}}, {{4, 1}, {1, 6}},     {{2, 3}, {}},
      {{}, {2, 3}},              {{1, 3, 1}, {2, 1, 4}}, {{64, 8, 16, 16}, {64, 8, 1, 1}}, {{3, 1, 7}, {3, 5, 7}}};
  for (const Binary& b : kBinary) {
    std::vector<DType> dts = {F32, F64};
    if (b.int64) dts.push_back(I64);
    for (const auto& [sa, sb] : shapes) {
      const bool big = shape_numel(sa) > 100000;
      if (big && b.op != std::string("Add") && b.op != std::string("Mul")) continue;
      Arg a = in(sa, -3, 3), bb = b.positive_b ? in(sb, 0.5, 3) : in(sb, -3, 3);
      if (b.exact) a.grid = bb.grid = 0.5;  // ties for comparisons and max/min
      OpCase k{b.op, "broadcast " + shape_str(sa) + " with " + shape_str(sb), {a, bb},
               [f = b.fn](V x) { return f(x[0], x[1]); },
               [r = b.ref](V x) { return ref_zip(x[0], x[1], r); }, dts};
      k.exact = b.exact;
      const double n = static_cast<double>(shape_numel(broadcast_shapes(sa, sb)));
      k.bytes = 12 * n;  // float32: read two, write one
      k.flops = n;
      k.tol64 = 1e-14;
      k.tol32 = 1e-6;
      c.push_back(k);
    }
    // Non-contiguous inputs: transposed vs expanded, strided vs narrowed.
    Arg t = tr({8, 6}, -3, 3), e = b.positive_b ? bc({8, 1}, {8, 6}, 0.5, 3) : bc({8, 1}, {8, 6}, -3, 3);
    Arg s = strided({5, 7}, -3, 3), n = b.positive_b ? nar({5, 7}, 0.5, 3) : nar({5, 7}, -3, 3);
    for (Arg* a : {&t, &e, &s, &n})
      if (b.exact) a->grid = 0.5;
    for (auto [x, y, what] : {std::tuple{t, e, "transposed with expanded"}, std::tuple{s, n, "strided with narrowed"}}) {
      OpCase k{b.op, what, {x, y}, [f = b.fn](V v) { return f(v[0], v[1]); },
               [r = b.ref](V v) { return ref_zip(v[0], v[1], r); }, dts};
      k.exact = b.exact;
      k.tol64 = 1e-14;
      k.tol32 = 1e-6;
      c.push_back(k);
    }
  }
  // A large permuted 4-d tensor times a broadcast channel vector (multi-threaded strided loop).
  {
    OpCase m{"Mul", "permuted [8,24,16,32] * [24,1,1]", {with_layout(in({8, 24, 16, 32}), Layout::Transposed), in({24, 1, 1})},
             [](V x) { return ops::mul(ops::permute(x[0], {0, 3, 1, 2}), x[1]); },
             [](V x) { return ref_zip(ops::permute(x[0], {0, 3, 1, 2}), x[1], [](double a, double b) { return a * b; }); }};
    m.args[0].shape = {8, 16, 32, 24};
    m.tol32 = 1e-6;
    c.push_back(m);
  }
  // Pow: positive bases, any exponent.
  for (auto [a, b, what] : {std::tuple{in({6, 7}, 0.2, 3), in({6, 7}, -2, 2), "same shape"},
                            std::tuple{pos({3, 4}), in({4}, -2, 2), "broadcast exponent"},
                            std::tuple{tr({4, 5}, 0.2, 3), strided({4, 5}, -2, 2), "strided"}}) {
    OpCase p{"Pow", what, {a, b}, [](V x) { return ops::pow(x[0], x[1]); },
             [](V x) { return ref_zip(x[0], x[1], [](double u, double v) { return std::pow(u, v); }); }};
    p.tol32 = 2e-6;
    p.bytes = 12.0 * 42;
    c.push_back(p);
  }
  // Where: cond broadcast [4,1,6], a [5,6], b [4,5,1]; cond in the inputs' dtype or another one.
  {
    Arg cond = in({4, 1, 6});
    cond.grid = 1;  // -1, 0 or 1 after truncation: zero and nonzero
    OpCase w{"Where", "broadcast cond [4,1,6], a [5,6], b [4,5,1]", {cond, in({5, 6}, -9, 9), in({4, 5, 1}, -9, 9)},
             [](V x) { return ops::where(x[0], x[1], x[2]); },
             [](V x) { return ref_zip3(x[0], x[1], x[2], [](double q, double a, double b) { return q != 0 ? a : b; }); },
             {F32, F64, I64}};
    w.exact = true;
    c.push_back(w);
    OpCase ws = w;
    ws.what = "strided a and b";
    ws.args = {cond, tr({5, 6}, -9, 9), strided({4, 5, 1}, -9, 9)};
    c.push_back(ws);
    OpCase wi = w;
    wi.what = "int64 condition";
    wi.args = {ids({0, 1, 0}, {3, 1}), in({3, 2}), in({2})};
    c.push_back(wi);
  }
  // SiluBackward: grad * s (1 + x (1 - s)), broadcast grad, saturated x.
  {
    std::vector<double> xs;
    for (int i = -40; i <= 40; ++i) xs.push_back(0.37 * i);
    xs.push_back(90.0);
    xs.push_back(-90.0);
    OpCase s{"SiluBackward", "broadcast grad [2,1] with x [1,83], |x| up to 90",
             {fixed({0.5, -2.0}, {2, 1}), fixed(xs, {1, static_cast<int64_t>(xs.size())})},
             [](V x) { return ops::silu_backward(x[0], x[1]); },
             [](V x) {
               return ref_zip(x[0], x[1], [](double g, double v) {
                 const double s = sigmoid_ref(v);
                 return g * s * (1 + v * (1 - s));
               });
             }};
    s.tol32 = 2e-6;
    s.atol32 = 1e-7;
    s.tol64 = 1e-14;
    c.push_back(s);
    OpCase st = s;
    st.what = "strided";
    st.args = {tr({5, 6}, -2, 2), nar({5, 6}, -6, 6)};
    c.push_back(st);
  }
  // NaN propagates through maximum / minimum.
  for (const char* op : {"Maximum", "Minimum"}) {
    OpCase n{op, "NaN propagates",
             {fixed({1, NAN, 3, -2, 5, 0, NAN, 4, 7, -1, 2, 2}, {3, 4}), fixed({NAN, 0, 1, 9, 9, 9, 9, 9, NAN, 0, 0, 0}, {3, 4})},
             op == std::string("Maximum") ? Fn([](V x) { return ops::maximum(x[0], x[1]); })
                                         : Fn([](V x) { return ops::minimum(x[0], x[1]); }),
             op == std::string("Maximum") ? Fn([](V x) { return ref_zip(x[0], x[1], kBinary[4].ref); })
                                         : Fn([](V x) { return ref_zip(x[0], x[1], kBinary[5].ref); })};
    n.exact = true;
    c.push_back(n);
  }
}

DRIFT_OP_CASES(elementwise_unary) {
  for (const Unary& u : kUnary) {
    std::vector<double> pts = libm_points(u.positive);
    std::vector<DType> dts = {F32, F64};
    OpCase c1{u.op, std::string(u.op == std::string("PowScalar") ? "square" : "") + " against libm, -20..20 and large |x|",
              {fixed(pts, {static_cast<int64_t>(pts.size())})}, [f = u.fn](V x) { return f(x[0]); },
              [r = u.ref](V x) { return ref_map(x[0], r); }, dts};
    // float32 results near zero (sin, erf) need an absolute tolerance too;
    // gelu(x) = x/2 (1 + erf(x/sqrt2)) cancels for x << 0, leaving a few 1e-7 absolute.
    c1.tol32 = 1e-6;
    c1.atol32 = u.op == std::string("Gelu") ? 1e-6 : 1e-7;
    c1.tol64 = 1e-14;
    c.push_back(c1);
    // strided layouts (and int64 where the op takes integers)
    if (u.int64) dts.push_back(I64);
    for (Layout l : {Layout::Transposed, Layout::Narrowed, Layout::Expanded}) {
      Arg a = u.positive ? in({7, 9}, 0.05, 5) : in({7, 9}, -4, 4);
      a.layout = l;
      if (l == Layout::Expanded) a.small = {1, 9};
      OpCase c2{u.op, std::string(u.op == std::string("PowScalar") ? "square " : "") + "layout " + std::to_string(int(l)),
                {a}, [f = u.fn](V x) { return f(x[0]); }, [r = u.ref](V x) { return ref_map(x[0], r); }, dts};
      c2.tol32 = 1e-6;
      c2.atol32 = 1e-6;
      c2.tol64 = 1e-14;
      c2.bytes = 8.0 * 63;
      c.push_back(c2);
    }
  }
  // Special values: inf, -inf, NaN, saturation.
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> special = {0.0, 1.0, -1.0, 100.0, -100.0, inf, -inf, NAN};
  for (const Unary& u : kUnary) {
    if (std::string(u.op) != "Exp" && std::string(u.op) != "Sigmoid" && std::string(u.op) != "Silu" &&
        std::string(u.op) != "Relu")
      continue;
    OpCase s{u.op, "inf, -inf, NaN and saturation", {fixed(special, {8})}, [f = u.fn](V x) { return f(x[0]); },
             [r = u.ref](V x) { return ref_map(x[0], r); }};
    s.tol32 = 3e-7;
    s.atol32 = 1e-30;
    s.tol64 = 1e-15;
    c.push_back(s);
  }
  // Scalar forms: affine (add, sub, mul, div, rsub), pow, clamp.
  struct Scalar { const char* op; const char* what; Tensor (*fn)(const Tensor&); double (*ref)(double); bool int64; bool positive; };
  const Scalar scalars[] = {
      {"Affine", "a x + b", [](const Tensor& x) { return ops::affine(x, -1.5, 0.25); }, [](double x) { return -1.5 * x + 0.25; }, false, false},
      {"Affine", "integer a, b", [](const Tensor& x) { return ops::affine(x, 3, -1); }, [](double x) { return 3 * x - 1; }, true, false},
      {"Affine", "add", [](const Tensor& x) { return ops::add(x, 1.0); }, [](double x) { return x + 1; }, false, false},
      {"Affine", "sub", [](const Tensor& x) { return ops::sub(x, 1.0); }, [](double x) { return x - 1; }, false, false},
      {"Affine", "mul", [](const Tensor& x) { return ops::mul(x, -2.0); }, [](double x) { return -2 * x; }, false, false},
      {"Affine", "div", [](const Tensor& x) { return ops::div(x, 4.0); }, [](double x) { return x / 4; }, false, false},
      {"Affine", "rsub", [](const Tensor& x) { return ops::rsub(2.0, x); }, [](double x) { return 2 - x; }, false, false},
      {"Clamp", "[-0.5, 0.75]", [](const Tensor& x) { return ops::clamp(x, -0.5, 0.75); }, [](double x) { return std::min(std::max(x, -0.5), 0.75); }, false, false},
      {"Clamp", "[-5.5, 7.5]", [](const Tensor& x) { return ops::clamp(x, -5.5, 7.5); }, [](double x) { return std::min(std::max(x, -5.5), 7.5); }, true, false},
      {"Clamp", "maximum with scalar 0", [](const Tensor& x) { return ops::maximum(x, 0.0); }, [](double x) { return std::max(x, 0.0); }, true, false},
      {"Clamp", "minimum with scalar 0", [](const Tensor& x) { return ops::minimum(x, 0.0); }, [](double x) { return std::min(x, 0.0); }, false, false},
      {"PowScalar", "2", [](const Tensor& x) { return ops::pow(x, 2.0); }, [](double x) { return x * x; }, false, false},
      {"PowScalar", "3", [](const Tensor& x) { return ops::pow(x, 3.0); }, [](double x) { return x * x * x; }, false, false},
      {"PowScalar", "-1", [](const Tensor& x) { return ops::pow(x, -1.0); }, [](double x) { return 1 / x; }, false, true},
      {"PowScalar", "0.5", [](const Tensor& x) { return ops::pow(x, 0.5); }, [](double x) { return std::sqrt(x); }, false, true},
      {"PowScalar", "-0.5", [](const Tensor& x) { return ops::pow(x, -0.5); }, [](double x) { return 1 / std::sqrt(x); }, false, true},
      {"PowScalar", "1.5", [](const Tensor& x) { return ops::pow(x, 1.5); }, [](double x) { return std::pow(x, 1.5); }, false, true},
      {"PowScalar", "1.7", [](const Tensor& x) { return ops::pow(x, 1.7); }, [](double x) { return std::pow(x, 1.7); }, false, true},
  };
  for (const Scalar& s : scalars) {
    std::vector<DType> dts = {F32, F64};
    if (s.int64) dts.push_back(I64);
    Arg a = s.positive ? in({7, 9}, 0.05, 5) : in({7, 9}, -30, 30);
    a.layout = Layout::Transposed;
    OpCase k{s.op, s.what, {a}, [f = s.fn](V x) { return f(x[0]); }, [r = s.ref](V x) { return ref_map(x[0], r); }, dts};
    k.tol32 = 1e-6;
    k.tol64 = 1e-14;
    c.push_back(k);
  }
}

}  // namespace drift::optest
