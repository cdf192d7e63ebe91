// Differentiable ops. Each block: the forward (a tensor op from tensor/ops.h)
// and, when a gradient is needed, the backward formula recorded with record()
// (autograd/engine.h). Backward formulas use tensor ops only (ops::...), so
// they run on every backend. `g` is d(loss)/d(output); each formula returns
// d(loss)/d(input) for every input, in the order the inputs were recorded
// (undefined = zero, or no gradient needed).
//
// Saved tensors are detach()ed: the closure must not hold the output's
// autograd history, or output -> node -> closure -> output would be a cycle.
#include "autograd/functions.h"

#include <cmath>

namespace drift {

namespace {

using Grads = std::vector<Tensor>;

// A tensor kept for the backward pass (same storage, no autograd history).
Tensor saved(const Tensor& t) { return t.defined() ? t.detach() : Tensor(); }

// A rank-0 tensor of t's dtype and device (broadcasts against t).
Tensor scalar_like(const Tensor& t, double v) { return ops::scalar_tensor(v, t.dtype(), t.device()); }

// Shape of x after a keepdim reduction over `dims` (empty = all dims).
Shape keepdim_shape(const Shape& in, const std::vector<int64_t>& dims) {
  Shape out = in;
  int64_t n = static_cast<int64_t>(in.size());
  if (dims.empty()) {
    for (int64_t& d : out) d = 1;
  } else {
    for (int64_t d : dims) out[wrap_dim(d, n)] = 1;
  }
  return out;
}

// Number of elements folded into each output element by that reduction.
int64_t reduced_count(const Shape& in, const std::vector<int64_t>& dims) {
  return shape_numel(in) / shape_numel(keepdim_shape(in, dims));
}

// A reduction's gradient (or output) reshaped so that it broadcasts against the input.
Tensor unreduce(const Tensor& g, const Shape& in, const std::vector<int64_t>& dims) {
  return ops::reshape(g, keepdim_shape(in, dims));
}

// Gradient of narrow/select-like views: zeros of the input's shape, with g
// copied into the region the view covered.
template <class MakeView>
Tensor scatter_into_zeros(const Tensor& g, const Shape& in_shape, MakeView make_view) {
  Tensor dx = ops::zeros(in_shape, g.dtype(), g.device());
  Tensor region = make_view(dx);
  ops::copy_(region, g);
  return dx;
}

}  // namespace

// ================================================================= views

// y = x viewed with a new shape;  dx = reshape(g, x.shape)
Tensor reshape(const Tensor& t, const Shape& shape) {
  Tensor y = ops::reshape(t, shape);
  record(y, "reshape", {t}, [in = t.shape()](const Tensor& g) -> Grads { return {ops::reshape(g, in)}; });
  return y;
}

// Same as reshape, but never copies in the forward pass.
Tensor view(const Tensor& t, const Shape& shape) {
  Tensor y = ops::view(t, shape);
  record(y, "view", {t}, [in = t.shape()](const Tensor& g) -> Grads { return {ops::reshape(g, in)}; });
  return y;
}

// y = x with dims start..end merged;  dx = reshape(g, x.shape)
Tensor flatten(const Tensor& t, int64_t start_dim, int64_t end_dim) {
  Tensor y = ops::flatten(t, start_dim, end_dim);
  record(y, "flatten", {t}, [in = t.shape()](const Tensor& g) -> Grads { return {ops::reshape(g, in)}; });
  return y;
}

// y = x.permute(p);  dx = g.permute(p^-1) where p^-1[p[i]] = i
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims) {
  Tensor y = ops::permute(t, dims);
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inverse[wrap_dim(dims[i], t.dim())] = static_cast<int64_t>(i);
  record(y, "permute", {t}, [inverse](const Tensor& g) -> Grads { return {ops::permute(g, inverse)}; });
  return y;
}

// y = x with dims d0, d1 swapped;  dx = g with d0, d1 swapped back
Tensor transpose(const Tensor& t, int64_t d0, int64_t d1) {
  Tensor y = ops::transpose(t, d0, d1);
  record(y, "transpose", {t}, [d0, d1](const Tensor& g) -> Grads { return {ops::transpose(g, d0, d1)}; });
  return y;
}

// y = x[..., start:start+length, ...];  dx = zeros with g in that slice
Tensor narrow(const Tensor& t, int64_t dim, int64_t start, int64_t length) {
  Tensor y = ops::narrow(t, dim, start, length);
  record(y, "narrow", {t}, [in = t.shape(), dim, start, length](const Tensor& g) -> Grads {
    return {scatter_into_zeros(g, in, [&](const Tensor& dx) { return ops::narrow(dx, dim, start, length); })};
  });
  return y;
}

// y = x[..., index, ...] (dim dropped);  dx = zeros with g at that index
Tensor select(const Tensor& t, int64_t dim, int64_t index) {
  Tensor y = ops::select(t, dim, index);
  record(y, "select", {t}, [in = t.shape(), dim, index](const Tensor& g) -> Grads {
    return {scatter_into_zeros(g, in, [&](const Tensor& dx) { return ops::select(dx, dim, index); })};
  });
  return y;
}

// y = x broadcast to `shape` (stride 0);  dx = g summed over the broadcast dims
Tensor expand(const Tensor& t, const Shape& shape) {
  Tensor y = ops::expand(t, shape);
  record(y, "expand", {t}, [in = t.shape()](const Tensor& g) -> Grads { return {ops::sum_to(g, in)}; });
  return y;
}

// Removes a size-1 dim;  dx = reshape(g, x.shape)
Tensor squeeze(const Tensor& t, int64_t dim) {
  Tensor y = ops::squeeze(t, dim);
  record(y, "squeeze", {t}, [in = t.shape()](const Tensor& g) -> Grads { return {ops::reshape(g, in)}; });
  return y;
}

// Inserts a size-1 dim;  dx = reshape(g, x.shape)
Tensor unsqueeze(const Tensor& t, int64_t dim) {
  Tensor y = ops::unsqueeze(t, dim);
  record(y, "unsqueeze", {t}, [in = t.shape()](const Tensor& g) -> Grads { return {ops::reshape(g, in)}; });
  return y;
}

// Pieces along `dim` (views);  each piece is a narrow(), with its own node.
std::vector<Tensor> split(const Tensor& t, const std::vector<int64_t>& sizes, int64_t dim) {
  std::vector<Tensor> pieces = ops::split(t, sizes, dim);  // checks that the sizes add up
  int64_t d = wrap_dim(dim, t.dim()), start = 0;
  for (Tensor& p : pieces) {
    int64_t length = p.size(d);
    record(p, "split", {t}, [in = t.shape(), d, start, length](const Tensor& g) -> Grads {
      return {scatter_into_zeros(g, in, [&](const Tensor& dx) { return ops::narrow(dx, d, start, length); })};
    });
    start += length;
  }
  return pieces;
}

std::vector<Tensor> chunk(const Tensor& t, int64_t chunks, int64_t dim) {
  std::vector<Tensor> pieces = ops::chunk(t, chunks, dim);
  int64_t d = wrap_dim(dim, t.dim()), start = 0;
  for (Tensor& p : pieces) {
    int64_t length = p.size(d);
    record(p, "chunk", {t}, [in = t.shape(), d, start, length](const Tensor& g) -> Grads {
      return {scatter_into_zeros(g, in, [&](const Tensor& dx) { return ops::narrow(dx, d, start, length); })};
    });
    start += length;
  }
  return pieces;
}

// A contiguous copy (or x itself);  dx = g
Tensor contiguous(const Tensor& t) {
  Tensor y = ops::contiguous(t);
  record(y, "contiguous", {t}, [](const Tensor& g) -> Grads { return {g}; });
  return y;
}

// dtype conversion;  dx = g converted back to x's dtype
Tensor to(const Tensor& t, DType dtype) {
  Tensor y = ops::to(t, dtype);
  record(y, "to(dtype)", {t}, [from = t.dtype()](const Tensor& g) -> Grads { return {ops::to(g, from)}; });
  return y;
}

// device transfer;  dx = g moved back to x's device
Tensor to(const Tensor& t, Device device) {
  Tensor y = ops::to(t, device);
  record(y, "to(device)", {t}, [from = t.device()](const Tensor& g) -> Grads { return {ops::to(g, from)}; });
  return y;
}

// y = [x0, x1, ...] joined along dim;  dx_i = the slice of g that x_i filled
Tensor cat(const std::vector<Tensor>& ts, int64_t dim) {
  Tensor y = ops::cat(ts, dim);
  std::vector<int64_t> sizes;
  for (const Tensor& t : ts) sizes.push_back(t.size(dim));
  record(y, "cat", ts, [sizes, dim](const Tensor& g) -> Grads { return ops::split(g, sizes, dim); });
  return y;
}

// y = [x0, x1, ...] stacked along a new dim;  dx_i = select(g, dim, i)
Tensor stack(const std::vector<Tensor>& ts, int64_t dim) {
  Tensor y = ops::stack(ts, dim);
  int64_t d = wrap_dim(dim, y.dim());
  record(y, "stack", ts, [d, n = ts.size()](const Tensor& g) -> Grads {
    Grads dx;
    for (size_t i = 0; i < n; ++i) dx.push_back(ops::select(g, d, static_cast<int64_t>(i)));
    return dx;
  });
  return y;
}

// ================================================================= binary elementwise
// Inputs broadcast against each other, so each gradient is summed back to
// its input's shape: dx = sum_to(g * dy/dx, x.shape).

// y = a + b;  da = g, db = g
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = ops::add(a, b);
  record(y, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) -> Grads {
    return {ops::sum_to(g, sa), ops::sum_to(g, sb)};
  });
  return y;
}

// y = a - b;  da = g, db = -g
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = ops::sub(a, b);
  record(y, "sub", {a, b}, [sa = a.shape(), sb = b.shape(), nb = b.requires_grad()](const Tensor& g) -> Grads {
    return {ops::sum_to(g, sa), nb ? ops::sum_to(ops::neg(g), sb) : Tensor()};
  });
  return y;
}

// y = a * b;  da = g b, db = g a
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = ops::mul(a, b);
  record(y, "mul", {a, b},
         [a_ = saved(a), b_ = saved(b), na = a.requires_grad(), nb = b.requires_grad()](const Tensor& g) -> Grads {
           return {na ? ops::sum_to(ops::mul(g, b_), a_.shape()) : Tensor(),
                   nb ? ops::sum_to(ops::mul(g, a_), b_.shape()) : Tensor()};
         });
  return y;
}

// y = a / b;  da = g / b, db = -g a / b^2
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = ops::div(a, b);
  record(y, "div", {a, b},
         [a_ = saved(a), b_ = saved(b), na = a.requires_grad(), nb = b.requires_grad()](const Tensor& g) -> Grads {
           Tensor g_over_b = ops::div(g, b_);
           return {na ? ops::sum_to(g_over_b, a_.shape()) : Tensor(),
                   nb ? ops::sum_to(ops::neg(ops::div(ops::mul(g_over_b, a_), b_)), b_.shape()) : Tensor()};
         });
  return y;
}

// y = a^b;  da = g b a^(b-1), db = g y ln(a)  (taken as 0 where a <= 0, as in PyTorch for a = 0)
Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor y = ops::pow(a, b);
  record(y, "pow", {a, b},
         [a_ = saved(a), b_ = saved(b), y_ = saved(y), na = a.requires_grad(), nb = b.requires_grad()](
             const Tensor& g) -> Grads {
           Tensor da, db;
           if (na) da = ops::sum_to(ops::mul(g, ops::mul(b_, ops::pow(a_, ops::sub(b_, 1.0)))), a_.shape());
           if (nb) {
             Tensor y_ln_a = ops::mul(y_, ops::log(a_));
             Tensor safe = ops::where(ops::gt(a_, scalar_like(a_, 0)), y_ln_a, ops::zeros_like(y_ln_a));
             db = ops::sum_to(ops::mul(g, safe), b_.shape());
           }
           return {da, db};
         });
  return y;
}

// y = max(a, b);  the gradient goes to the larger input, split in half on ties (as PyTorch)
Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor y = ops::maximum(a, b);
  record(y, "maximum", {a, b}, [a_ = saved(a), b_ = saved(b)](const Tensor& g) -> Grads {
    // mask_a = [a > b] + 1/2 [a == b],  mask_b = 1 - mask_a
    Tensor mask_a = ops::add(ops::gt(a_, b_), ops::mul(ops::eq(a_, b_), 0.5));
    Tensor ga = ops::mul(g, mask_a);
    return {ops::sum_to(ga, a_.shape()), ops::sum_to(ops::sub(g, ga), b_.shape())};
  });
  return y;
}

// y = min(a, b);  the gradient goes to the smaller input, split in half on ties
Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor y = ops::minimum(a, b);
  record(y, "minimum", {a, b}, [a_ = saved(a), b_ = saved(b)](const Tensor& g) -> Grads {
    // mask_a = [a < b] + 1/2 [a == b],  mask_b = 1 - mask_a
    Tensor mask_a = ops::add(ops::lt(a_, b_), ops::mul(ops::eq(a_, b_), 0.5));
    Tensor ga = ops::mul(g, mask_a);
    return {ops::sum_to(ga, a_.shape()), ops::sum_to(ops::sub(g, ga), b_.shape())};
  });
  return y;
}

// y = cond ? a : b;  da = g where cond, db = g elsewhere (cond gets no gradient)
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tensor y = ops::where(cond, a, b);
  record(y, "where", {a, b}, [c = saved(cond), sa = a.shape(), sb = b.shape()](const Tensor& g) -> Grads {
    Tensor zero = ops::zeros_like(g);
    return {ops::sum_to(ops::where(c, g, zero), sa), ops::sum_to(ops::where(c, zero, g), sb)};
  });
  return y;
}

// ================================================================= unary elementwise

// y = -x;  dx = -g
Tensor neg(const Tensor& x) {
  Tensor y = ops::neg(x);
  record(y, "neg", {x}, [](const Tensor& g) -> Grads { return {ops::neg(g)}; });
  return y;
}

// y = |x|;  dx = g sign(x)  (0 at x = 0)
Tensor abs(const Tensor& x) {
  Tensor y = ops::abs(x);
  record(y, "abs", {x}, [x_ = saved(x)](const Tensor& g) -> Grads { return {ops::mul(g, ops::sign(x_))}; });
  return y;
}

// y = e^x;  dx = g y
Tensor exp(const Tensor& x) {
  Tensor y = ops::exp(x);
  record(y, "exp", {x}, [y_ = saved(y)](const Tensor& g) -> Grads { return {ops::mul(g, y_)}; });
  return y;
}

// y = ln x;  dx = g / x
Tensor log(const Tensor& x) {
  Tensor y = ops::log(x);
  record(y, "log", {x}, [x_ = saved(x)](const Tensor& g) -> Grads { return {ops::div(g, x_)}; });
  return y;
}

// y = sqrt(x);  dx = g / (2 y)
Tensor sqrt(const Tensor& x) {
  Tensor y = ops::sqrt(x);
  record(y, "sqrt", {x}, [y_ = saved(y)](const Tensor& g) -> Grads { return {ops::div(ops::mul(g, 0.5), y_)}; });
  return y;
}

// y = x^(-1/2);  dx = -1/2 g x^(-3/2) = -1/2 g y^3
Tensor rsqrt(const Tensor& x) {
  Tensor y = ops::rsqrt(x);
  record(y, "rsqrt", {x}, [y_ = saved(y)](const Tensor& g) -> Grads {
    return {ops::mul(ops::mul(g, ops::mul(y_, ops::square(y_))), -0.5)};
  });
  return y;
}

// y = sin x;  dx = g cos x
Tensor sin(const Tensor& x) {
  Tensor y = ops::sin(x);
  record(y, "sin", {x}, [x_ = saved(x)](const Tensor& g) -> Grads { return {ops::mul(g, ops::cos(x_))}; });
  return y;
}

// y = cos x;  dx = -g sin x
Tensor cos(const Tensor& x) {
  Tensor y = ops::cos(x);
  record(y, "cos", {x}, [x_ = saved(x)](const Tensor& g) -> Grads { return {ops::neg(ops::mul(g, ops::sin(x_)))}; });
  return y;
}

// y = tanh x;  dx = g (1 - y^2)
Tensor tanh(const Tensor& x) {
  Tensor y = ops::tanh(x);
  record(y, "tanh", {x}, [y_ = saved(y)](const Tensor& g) -> Grads {
    return {ops::mul(g, ops::rsub(1.0, ops::square(y_)))};
  });
  return y;
}

// y = 1 / (1 + e^-x);  dx = g y (1 - y)
Tensor sigmoid(const Tensor& x) {
  Tensor y = ops::sigmoid(x);
  record(y, "sigmoid", {x}, [y_ = saved(y)](const Tensor& g) -> Grads {
    return {ops::mul(g, ops::mul(y_, ops::rsub(1.0, y_)))};
  });
  return y;
}

// y = max(x, 0);  dx = g [x > 0]
Tensor relu(const Tensor& x) {
  Tensor y = ops::relu(x);
  record(y, "relu", {x}, [y_ = saved(y)](const Tensor& g) -> Grads {
    return {ops::mul(g, ops::gt(y_, scalar_like(y_, 0)))};
  });
  return y;
}

// y = x s with s = sigmoid(x);  dx = g s (1 + x (1 - s))
// (one fused kernel, ops::silu_backward: this backward runs twice per U-Net
// residual block, on the largest activations, and six passes cost ~5% of a step)
Tensor silu(const Tensor& x) {
  Tensor y = ops::silu(x);
  record(y, "silu", {x}, [x_ = saved(x)](const Tensor& g) -> Grads { return {ops::silu_backward(g, x_)}; });
  return y;
}

// y = x Phi(x) (exact GELU);  dx = g (Phi(x) + x phi(x)),
// Phi(x) = (1 + erf(x / sqrt 2)) / 2,  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
Tensor gelu(const Tensor& x) {
  Tensor y = ops::gelu(x);
  record(y, "gelu", {x}, [x_ = saved(x)](const Tensor& g) -> Grads {
    const double kPi = 3.14159265358979323846;
    const double inv_sqrt2 = 1.0 / std::sqrt(2.0), inv_sqrt_2pi = 1.0 / std::sqrt(2.0 * kPi);
    Tensor cdf = ops::affine(ops::erf(ops::mul(x_, inv_sqrt2)), 0.5, 0.5);
    Tensor pdf = ops::mul(ops::exp(ops::mul(ops::square(x_), -0.5)), inv_sqrt_2pi);
    return {ops::mul(g, ops::add(cdf, ops::mul(x_, pdf)))};
  });
  return y;
}

// y = x^2;  dx = 2 g x
Tensor square(const Tensor& x) {
  Tensor y = ops::square(x);
  record(y, "square", {x}, [x_ = saved(x)](const Tensor& g) -> Grads { return {ops::mul(ops::mul(g, x_), 2.0)}; });
  return y;
}

// y = x + s;  dx = g
Tensor add(const Tensor& x, double s) {
  Tensor y = ops::add(x, s);
  record(y, "add_scalar", {x}, [](const Tensor& g) -> Grads { return {g}; });
  return y;
}

// y = x - s;  dx = g
Tensor sub(const Tensor& x, double s) {
  Tensor y = ops::sub(x, s);
  record(y, "sub_scalar", {x}, [](const Tensor& g) -> Grads { return {g}; });
  return y;
}

// y = x s;  dx = g s
Tensor mul(const Tensor& x, double s) {
  Tensor y = ops::mul(x, s);
  record(y, "mul_scalar", {x}, [s](const Tensor& g) -> Grads { return {ops::mul(g, s)}; });
  return y;
}

// y = x / s;  dx = g / s
Tensor div(const Tensor& x, double s) {
  Tensor y = ops::div(x, s);
  record(y, "div_scalar", {x}, [s](const Tensor& g) -> Grads { return {ops::div(g, s)}; });
  return y;
}

// y = s - x;  dx = -g
Tensor rsub(double s, const Tensor& x) {
  Tensor y = ops::rsub(s, x);
  record(y, "rsub", {x}, [](const Tensor& g) -> Grads { return {ops::neg(g)}; });
  return y;
}

// y = x^e;  dx = g e x^(e-1)  (0 for e = 0)
Tensor pow(const Tensor& x, double e) {
  Tensor y = ops::pow(x, e);
  record(y, "pow_scalar", {x}, [x_ = saved(x), e](const Tensor& g) -> Grads {
    if (e == 0) return {ops::zeros_like(g)};
    return {ops::mul(ops::mul(g, ops::pow(x_, e - 1)), e)};
  });
  return y;
}

// y = min(max(x, lo), hi);  dx = g [lo <= x <= hi]
Tensor clamp(const Tensor& x, double lo, double hi) {
  Tensor y = ops::clamp(x, lo, hi);
  record(y, "clamp", {x}, [x_ = saved(x), lo, hi](const Tensor& g) -> Grads {
    Tensor inside = ops::mul(ops::ge(x_, scalar_like(x_, lo)), ops::le(x_, scalar_like(x_, hi)));
    return {ops::mul(g, inside)};
  });
  return y;
}

// ================================================================= reductions
// g has the reduced shape; unreduce() reshapes it to the keepdim shape so
// that it broadcasts against x.

// y = sum_R x;  dx = g broadcast over R
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = ops::sum(x, dims, keepdim);
  record(y, "sum", {x}, [in = x.shape(), dims](const Tensor& g) -> Grads {
    return {ops::expand(unreduce(g, in, dims), in)};
  });
  return y;
}

// y = sum_R x / |R|;  dx = g / |R| broadcast over R
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = ops::mean(x, dims, keepdim);
  record(y, "mean", {x}, [in = x.shape(), dims](const Tensor& g) -> Grads {
    double count = static_cast<double>(reduced_count(in, dims));
    return {ops::expand(ops::div(unreduce(g, in, dims), count), in)};
  });
  return y;
}

// y = sum_R (x - mean)^2 / (|R| - correction);  dx = 2 g (x - mean) / (|R| - correction)
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, int64_t correction) {
  Tensor y = ops::var(x, dims, keepdim, correction);
  record(y, "var", {x}, [x_ = saved(x), dims, correction](const Tensor& g) -> Grads {
    double denom = static_cast<double>(reduced_count(x_.shape(), dims) - correction);
    Tensor centered = ops::sub(x_, ops::mean(x_, dims, true));
    return {ops::mul(ops::mul(unreduce(g, x_.shape(), dims), centered), 2.0 / denom)};
  });
  return y;
}

namespace {
// Gradient of amax/amin: g shared evenly among the elements equal to the
// extreme value (ties split, as in PyTorch).  dx = g [x == y] / #[x == y]
Tensor extreme_backward(const Tensor& g, const Tensor& x, const Tensor& y, const std::vector<int64_t>& dims) {
  Tensor mask = ops::eq(x, unreduce(y, x.shape(), dims));
  Tensor count = ops::sum(mask, dims, true);
  return ops::div(ops::mul(unreduce(g, x.shape(), dims), mask), count);
}
}  // namespace

// y = max_R x;  dx = g at the maximum (shared on ties)
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = ops::amax(x, dims, keepdim);
  record(y, "amax", {x}, [x_ = saved(x), y_ = saved(y), dims](const Tensor& g) -> Grads {
    return {extreme_backward(g, x_, y_, dims)};
  });
  return y;
}

// y = min_R x;  dx = g at the minimum (shared on ties)
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = ops::amin(x, dims, keepdim);
  record(y, "amin", {x}, [x_ = saved(x), y_ = saved(y), dims](const Tensor& g) -> Grads {
    return {extreme_backward(g, x_, y_, dims)};
  });
  return y;
}

// y = log sum_R e^x;  dx = g e^(x - y)  (= g softmax(x) over R)
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = ops::logsumexp(x, dims, keepdim);
  record(y, "logsumexp", {x}, [x_ = saved(x), y_ = saved(y), dims](const Tensor& g) -> Grads {
    Tensor p = ops::exp(ops::sub(x_, unreduce(y_, x_.shape(), dims)));
    return {ops::mul(unreduce(g, x_.shape(), dims), p)};
  });
  return y;
}

// ================================================================= linear algebra, convolution, resampling

// Y = A B (batched, broadcast);  dA = G B^T, dB = A^T G, summed over broadcast batch dims.
// The transposes are views: the matmul kernel reads them with BLAS flags, no copy.
Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor y = ops::matmul(a, b);
  record(y, "matmul", {a, b},
         [a_ = saved(a), b_ = saved(b), na = a.requires_grad(), nb = b.requires_grad()](const Tensor& g) -> Grads {
           Tensor da, db;
           if (na) da = ops::sum_to(ops::matmul(g, ops::transpose(b_, -1, -2)), a_.shape());
           if (nb) db = ops::sum_to(ops::matmul(ops::transpose(a_, -1, -2), g), b_.shape());
           return {da, db};
         });
  return y;
}

// y = x W^T + b, x [..., in], W [out, in], b [out] or undefined.
// Composed of differentiable ops; leading dims of x are folded into one so
// that dW = G^T X is a single matrix product.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  DRIFT_CHECK(w.dim() == 2, "linear: expected a weight [out, in], got ", shape_str(w.shape()));
  DRIFT_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input ", shape_str(x.shape()),
              " does not end with in_features = ", w.size(1), " of the weight ", shape_str(w.shape()));
  Shape out_shape = x.shape();
  out_shape.back() = w.size(0);
  Tensor x2 = x.dim() == 2 ? x : reshape(x, {-1, w.size(1)});
  Tensor y = matmul(x2, transpose(w, 0, 1));
  if (b.defined()) y = add(y, b);
  return x.dim() == 2 ? y : reshape(y, out_shape);
}

// y = conv2d(x, W) + b;  dx, dW from the conv backward kernels, db = sum of g over (N, H, W)
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride, int64_t padding) {
  Tensor y = ops::conv2d(x, w, bias, stride, padding);
  record(y, "conv2d", {x, w, bias},
         [x_ = saved(x), w_ = saved(w), nx = x.requires_grad(), nw = w.requires_grad(),
          nb = bias.defined() && bias.requires_grad(), stride, padding](const Tensor& g) -> Grads {
           Tensor dx, dw, db;
           if (nx) dx = ops::conv2d_backward_input(g, w_, x_.shape(), stride, padding);
           if (nw) dw = ops::conv2d_backward_weight(g, x_, w_.shape(), stride, padding);
           if (nb) db = ops::sum(g, {0, 2, 3});
           return {dx, dw, db};
         });
  return y;
}

// k x k mean windows;  dx = g / k^2 spread over each window
Tensor avg_pool2d(const Tensor& x, int64_t k) {
  Tensor y = ops::avg_pool2d(x, k);
  record(y, "avg_pool2d", {x}, [in = x.shape(), k](const Tensor& g) -> Grads {
    return {ops::avg_pool2d_backward(g, in, k)};
  });
  return y;
}

// each pixel repeated scale x scale times;  dx = g summed over each block
Tensor upsample_nearest2d(const Tensor& x, int64_t scale) {
  Tensor y = ops::upsample_nearest2d(x, scale);
  record(y, "upsample_nearest2d", {x}, [in = x.shape(), scale](const Tensor& g) -> Grads {
    return {ops::upsample_nearest2d_backward(g, in, scale)};
  });
  return y;
}

// ================================================================= indexing

// y = t.index_select(dim, index);  dt = zeros with g rows added at index (repeats add up)
Tensor index_select(const Tensor& t, int64_t dim, const Tensor& index) {
  Tensor y = ops::index_select(t, dim, index);
  record(y, "index_select", {t}, [in = t.shape(), dim, idx = saved(index)](const Tensor& g) -> Grads {
    return {ops::index_add(in, dim, idx, g)};
  });
  return y;
}

// y[..., :] = W[ids[...], :];  dW = rows of g added at ids
Tensor embedding(const Tensor& weight, const Tensor& ids) {
  Tensor y = ops::embedding(weight, ids);
  record(y, "embedding", {weight}, [in = weight.shape(), ids_ = saved(ids)](const Tensor& g) -> Grads {
    Tensor flat_ids = ops::reshape(ids_, {ids_.numel()});
    Tensor rows = ops::reshape(g, {ids_.numel(), in[1]});
    return {ops::index_add(in, 0, flat_ids, rows)};
  });
  return y;
}

// ================================================================= softmax, normalisation, dropout, losses

// y = softmax(x) along dim;  dx = y (g - sum(g y, dim))
Tensor softmax(const Tensor& x, int64_t dim) {
  Tensor y = ops::softmax(x, dim);
  record(y, "softmax", {x}, [y_ = saved(y), dim](const Tensor& g) -> Grads {
    Tensor gy = ops::mul(g, y_);
    return {ops::sub(gy, ops::mul(y_, ops::sum(gy, {dim}, true)))};
  });
  return y;
}

// o = v P^T, P = softmax(scale q^T k) over keys (rows i: queries, columns j: keys),
// with G = dO [G, dv, Nq]; the backward recomputes P from q and k (as
// FlashAttention does, Dao et al. 2022, sec. 3.1) instead of keeping it:
//   dv = G P;  dP = G^T v;  dS = P (dP - rowsum(P dP));  dq = scale k dS^T;  dk = scale q dS
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  Tensor y = ops::attention(q, k, v, scale);
  record(y, "attention", {q, k, v}, [q_ = saved(q), k_ = saved(k), v_ = saved(v), scale](const Tensor& g) -> Grads {
    Tensor P = ops::softmax(ops::mul(ops::matmul(ops::transpose(q_, 1, 2), k_), scale), -1);  // [G, Nq, Nk]
    Tensor dv = ops::matmul(g, P);                                                          // [G, dv, Nk]
    Tensor dP = ops::matmul(ops::transpose(g, 1, 2), v_);                                   // [G, Nq, Nk]
    Tensor dS = ops::mul(P, ops::sub(dP, ops::sum(ops::mul(P, dP), {-1}, true)));
    Tensor dq = ops::mul(ops::matmul(k_, ops::transpose(dS, 1, 2)), scale);                 // [G, d, Nq]
    Tensor dk = ops::mul(ops::matmul(q_, dS), scale);                                       // [G, d, Nk]
    return {dq, dk, dv};
  });
  return y;
}

// y = x - logsumexp(x) along dim;  dx = g - exp(y) sum(g, dim)
Tensor log_softmax(const Tensor& x, int64_t dim) {
  Tensor y = ops::log_softmax(x, dim);
  record(y, "log_softmax", {x}, [y_ = saved(y), dim](const Tensor& g) -> Grads {
    return {ops::sub(g, ops::mul(ops::exp(y_), ops::sum(g, {dim}, true)))};
  });
  return y;
}

// y = (x - mean_g) rstd_g w + b per group (Wu & He 2018); the backward kernel
// gives dx, dw, db from the saved mean and rstd.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  ops::NormResult r = ops::group_norm(x, groups, weight, bias, eps);
  Tensor y = r.y;
  record(y, "group_norm", {x, weight, bias},
         [x_ = saved(x), w_ = saved(weight), mean = r.mean, rstd = r.rstd, groups](const Tensor& g) -> Grads {
           ops::NormGrads d = ops::group_norm_backward(g, x_, mean, rstd, w_, groups);
           return {d.dx, d.dweight, d.dbias};
         });
  return y;
}

// y = silu(z), z = group_norm(x); the backward recomputes z from x and the
// statistics instead of keeping it (ops::group_norm_backward with silu).
Tensor group_norm_silu(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  ops::NormResult r = ops::group_norm(x, groups, weight, bias, eps, /*silu=*/true);
  Tensor y = r.y;
  record(y, "group_norm_silu", {x, weight, bias},
         [x_ = saved(x), w_ = saved(weight), b_ = saved(bias), mean = r.mean, rstd = r.rstd,
          groups](const Tensor& g) -> Grads {
           ops::NormGrads d = ops::group_norm_backward(g, x_, mean, rstd, w_, groups, b_, /*silu=*/true);
           return {d.dx, d.dweight, d.dbias};
         });
  return y;
}

// y = (x - mean) rstd w + b over the last dim (Ba et al. 2016).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  ops::NormResult r = ops::layer_norm(x, weight, bias, eps);
  Tensor y = r.y;
  record(y, "layer_norm", {x, weight, bias},
         [x_ = saved(x), w_ = saved(weight), mean = r.mean, rstd = r.rstd](const Tensor& g) -> Grads {
           ops::NormGrads d = ops::layer_norm_backward(g, x_, mean, rstd, w_);
           return {d.dx, d.dweight, d.dbias};
         });
  return y;
}

// y = x m with m = [u >= p] / (1 - p), u ~ U[0,1) from gen;  dx = g m
Tensor dropout(const Tensor& x, double p, Generator& gen, const ops::RowShard& rows) {
  DRIFT_CHECK(p >= 0 && p <= 1, "dropout: expected a probability p in [0, 1], got ", p);
  if (p == 0) return x;
  Tensor keep = ops::ge(ops::uniform_rows(x.shape(), 0.0, 1.0, rows, gen, x.dtype(), x.device()), scalar_like(x, p));
  Tensor m = p < 1 ? ops::mul(keep, 1.0 / (1.0 - p)) : ops::zeros_like(x);
  Tensor y = ops::mul(x, m);
  record(y, "dropout", {x}, [m](const Tensor& g) -> Grads { return {ops::mul(g, m)}; });
  return y;
}

// L = mean((pred - target)^2) over N elements;  dpred = 2 g (pred - target) / N, dtarget = -dpred
Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  Tensor y = ops::mse_loss(pred, target);
  record(y, "mse_loss", {pred, target}, [p_ = saved(pred), t_ = saved(target)](const Tensor& g) -> Grads {
    Tensor diff = ops::sub(p_, t_);
    Tensor dpred = ops::mul(ops::mul(diff, g), 2.0 / static_cast<double>(diff.numel()));
    return {ops::sum_to(dpred, p_.shape()), ops::sum_to(ops::neg(dpred), t_.shape())};
  });
  return y;
}

// L = -mean_n log softmax(z_n)[y_n], z [N, C];  dz = g (softmax(z) - onehot(y)) / N
Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  Tensor y = ops::cross_entropy(logits, labels);
  record(y, "cross_entropy", {logits}, [z = saved(logits), labels_ = saved(labels)](const Tensor& g) -> Grads {
    Tensor p = ops::softmax(z, 1);
    Tensor onehot = ops::one_hot(labels_, z.size(1), z.dtype());
    return {ops::mul(ops::sub(p, onehot), ops::div(g, static_cast<double>(z.size(0))))};
  });
  return y;
}

}  // namespace drift
