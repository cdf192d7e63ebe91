// Numerical gradient checks of every differentiable function in
// autograd/functions.h (float64 central differences vs backward()).
//
// The table kCases below holds one or more cases per function; the test
// EveryFunctionIsCovered parses functions.h and fails, naming the function,
// when one has no case, so a new op cannot land without its gradcheck.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"

using namespace drift;

namespace {

// ---------------------------------------------------------------- inputs

// Deterministic float64 values in [lo, hi) (no autograd).
Tensor raw(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = u(rng);
  return ops::from_vector(v, shape);
}

// A leaf that requires grad (any strides).
Tensor leaf(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

Tensor rnd(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) { return leaf(raw(shape, seed, lo, hi)); }

// Values in [0.5, 2): safe for log, sqrt, rsqrt and pow bases.
Tensor positive(const Shape& shape, uint64_t seed) { return rnd(shape, seed, 0.5, 2.0); }

// Values with |x| in [0.1, 1): keeps kinks (relu, abs at 0) away from x +- h.
Tensor away_from_zero(const Shape& shape, uint64_t seed) {
  std::vector<double> v = ops::to_vector_f64(raw(shape, seed, 0.1, 1.0));
  std::vector<double> s = ops::to_vector_f64(raw(shape, seed + 1000));
  for (size_t i = 0; i < v.size(); ++i) v[i] = s[i] < 0 ? -v[i] : v[i];
  return leaf(ops::from_vector(v, shape));
}

// Non-contiguous leaves: a transpose, a narrow and a broadcast (stride 0) view.
Tensor transposed(const Shape& shape, uint64_t seed) {  // shape is the result's shape (2-D)
  return leaf(ops::transpose(raw({shape[1], shape[0]}, seed), 0, 1));
}
Tensor narrowed(const Shape& shape, uint64_t seed) {  // a [.., n] window of a [.., n + 3] tensor
  Shape big = shape;
  big.back() += 3;
  return leaf(ops::narrow(raw(big, seed), -1, 1, shape.back()));
}
Tensor expanded(const Shape& small, const Shape& shape, uint64_t seed) {
  return leaf(ops::expand(raw(small, seed), shape));
}

Tensor labels_of(const std::vector<int64_t>& v) { return ops::from_vector(v, {static_cast<int64_t>(v.size())}); }

using V = const std::vector<Tensor>&;
using Fn = std::function<Tensor(V)>;
using Inputs = std::function<std::vector<Tensor>()>;

struct Case {
  std::string op;    // the functions.h declaration it covers, as "name(param types)"
  std::string what;  // what the case exercises
  Inputs inputs;
  Fn fn;
};

// ---------------------------------------------------------------- the cases

std::vector<Case> make_cases() {
  std::vector<Case> c;

  // ---- views
  c.push_back({"reshape(Tensor,Shape)", "contiguous", [] { return std::vector<Tensor>{rnd({2, 3, 4}, 1)}; },
               [](V x) { return reshape(x[0], {4, -1}); }});
  c.push_back({"reshape(Tensor,Shape)", "transposed input (copies)", [] { return std::vector<Tensor>{transposed({3, 4}, 2)}; },
               [](V x) { return reshape(x[0], {12}); }});
  c.push_back({"view(Tensor,Shape)", "", [] { return std::vector<Tensor>{rnd({2, 3, 4}, 3)}; },
               [](V x) { return view(x[0], {6, 4}); }});
  c.push_back({"flatten(Tensor,int64_t,int64_t)", "middle dims", [] { return std::vector<Tensor>{rnd({2, 3, 4, 2}, 4)}; },
               [](V x) { return flatten(x[0], 1, 2); }});
  c.push_back({"permute(Tensor,vector<int64_t>)", "", [] { return std::vector<Tensor>{rnd({2, 3, 4}, 5)}; },
               [](V x) { return permute(x[0], {2, 0, 1}); }});
  c.push_back({"transpose(Tensor,int64_t,int64_t)", "then elementwise", [] { return std::vector<Tensor>{rnd({3, 4, 2}, 6)}; },
               [](V x) { return sin(transpose(x[0], 0, -1)); }});
  c.push_back({"narrow(Tensor,int64_t,int64_t,int64_t)", "", [] { return std::vector<Tensor>{rnd({4, 6}, 7)}; },
               [](V x) { return narrow(x[0], 1, 1, 3); }});
  c.push_back({"select(Tensor,int64_t,int64_t)", "", [] { return std::vector<Tensor>{rnd({3, 4, 5}, 8)}; },
               [](V x) { return select(x[0], 1, 2); }});
  c.push_back({"expand(Tensor,Shape)", "new leading dim and size-1 dim", [] { return std::vector<Tensor>{rnd({3, 1}, 9)}; },
               [](V x) { return expand(x[0], {2, 3, 4}); }});
  c.push_back({"squeeze(Tensor,int64_t)", "", [] { return std::vector<Tensor>{rnd({3, 1, 4}, 10)}; },
               [](V x) { return squeeze(x[0], 1); }});
  c.push_back({"unsqueeze(Tensor,int64_t)", "", [] { return std::vector<Tensor>{rnd({3, 4}, 11)}; },
               [](V x) { return unsqueeze(x[0], -1); }});
  c.push_back({"split(Tensor,vector<int64_t>,int64_t)", "both pieces used", [] { return std::vector<Tensor>{rnd({5, 4}, 12)}; },
               [](V x) {
                 std::vector<Tensor> p = split(x[0], {2, 3}, 0);
                 return add(sum(square(p[0])), sum(exp(p[1])));
               }});
  c.push_back({"split(Tensor,vector<int64_t>,int64_t)", "one piece unused", [] { return std::vector<Tensor>{rnd({3, 5}, 13)}; },
               [](V x) { return split(x[0], {1, 3, 1}, 1)[1]; }});
  c.push_back({"chunk(Tensor,int64_t,int64_t)", "uneven (3, 3, 1)", [] { return std::vector<Tensor>{rnd({7, 3}, 14)}; },
               [](V x) {
                 std::vector<Tensor> p = chunk(x[0], 3, 0);
                 return add(mul(sum(p[0]), sum(p[1])), sum(square(p[2])));
               }});
  c.push_back({"contiguous(Tensor)", "transposed input", [] { return std::vector<Tensor>{transposed({3, 5}, 15)}; },
               [](V x) { return contiguous(x[0]); }});
  c.push_back({"to(Tensor,DType)", "same dtype", [] { return std::vector<Tensor>{rnd({3, 4}, 16)}; },
               [](V x) { return mul(to(x[0], DType::Float64), 3.0); }});
  c.push_back({"to(Tensor,Device)", "same device", [] { return std::vector<Tensor>{rnd({3, 4}, 17)}; },
               [](V x) { return mul(to(x[0], Device::CPU), 3.0); }});
  c.push_back({"cat(vector<Tensor>,int64_t)", "dim 0, three inputs", [] {
                 return std::vector<Tensor>{rnd({2, 3}, 18), rnd({4, 3}, 19), rnd({1, 3}, 20)}; },
               [](V x) { return cat({x[0], x[1], x[2]}, 0); }});
  c.push_back({"cat(vector<Tensor>,int64_t)", "last dim, a transposed input", [] {
                 return std::vector<Tensor>{transposed({2, 3}, 21), rnd({2, 1}, 22)}; },
               [](V x) { return cat({x[0], x[1]}, -1); }});
  c.push_back({"stack(vector<Tensor>,int64_t)", "middle dim", [] {
                 return std::vector<Tensor>{rnd({3, 4}, 23), rnd({3, 4}, 24), rnd({3, 4}, 25)}; },
               [](V x) { return stack({x[0], x[1], x[2]}, 1); }});

  // ---- binary elementwise (broadcasting and strided inputs)
  c.push_back({"add(Tensor,Tensor)", "broadcast [3,1,5] + [4,5]", [] { return std::vector<Tensor>{rnd({3, 1, 5}, 30), rnd({4, 5}, 31)}; },
               [](V x) { return add(x[0], x[1]); }});
  c.push_back({"add(Tensor,Tensor)", "transposed + expanded", [] {
                 return std::vector<Tensor>{transposed({4, 3}, 32), expanded({4, 1}, {4, 3}, 33)}; },
               [](V x) { return add(x[0], x[1]); }});
  c.push_back({"sub(Tensor,Tensor)", "broadcast [4,1] - [1,5]", [] { return std::vector<Tensor>{rnd({4, 1}, 34), rnd({1, 5}, 35)}; },
               [](V x) { return sub(x[0], x[1]); }});
  c.push_back({"mul(Tensor,Tensor)", "broadcast [3,1,5] * [4,5]", [] { return std::vector<Tensor>{rnd({3, 1, 5}, 36), rnd({4, 5}, 37)}; },
               [](V x) { return mul(x[0], x[1]); }});
  c.push_back({"mul(Tensor,Tensor)", "rank-0 * narrowed", [] { return std::vector<Tensor>{rnd({}, 38), narrowed({3, 4}, 39)}; },
               [](V x) { return mul(x[0], x[1]); }});
  c.push_back({"div(Tensor,Tensor)", "broadcast [3,4] / [4]", [] { return std::vector<Tensor>{rnd({3, 4}, 40), positive({4}, 41)}; },
               [](V x) { return div(x[0], x[1]); }});
  c.push_back({"pow(Tensor,Tensor)", "positive base, broadcast exponent", [] {
                 return std::vector<Tensor>{positive({3, 4}, 42), rnd({4}, 43, -2, 2)}; },
               [](V x) { return pow(x[0], x[1]); }});
  c.push_back({"maximum(Tensor,Tensor)", "broadcast [3,1,5] vs [4,5]", [] { return std::vector<Tensor>{rnd({3, 1, 5}, 44), rnd({4, 5}, 45)}; },
               [](V x) { return maximum(x[0], x[1]); }});
  c.push_back({"minimum(Tensor,Tensor)", "transposed vs broadcast row", [] { return std::vector<Tensor>{transposed({4, 5}, 46), rnd({5}, 47)}; },
               [](V x) { return minimum(x[0], x[1]); }});
  c.push_back({"where(Tensor,Tensor,Tensor)", "b broadcast", [] { return std::vector<Tensor>{rnd({3, 4}, 48), rnd({4}, 49)}; },
               [](V x) {
                 Tensor cond = ops::from_vector(std::vector<double>{1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0}, {3, 4});
                 return where(cond, x[0], x[1]);
               }});

  // ---- unary elementwise
  auto unary = [&c](const char* op, Fn fn, std::function<Tensor()> make) {
    c.push_back({op, "", [make] { return std::vector<Tensor>{make()}; }, std::move(fn)});
  };
  unary("neg(Tensor)", [](V x) { return neg(x[0]); }, [] { return rnd({3, 4}, 50); });
  unary("abs(Tensor)", [](V x) { return abs(x[0]); }, [] { return away_from_zero({3, 4}, 51); });
  unary("exp(Tensor)", [](V x) { return exp(x[0]); }, [] { return transposed({3, 4}, 52); });
  unary("log(Tensor)", [](V x) { return log(x[0]); }, [] { return positive({3, 4}, 53); });
  unary("sqrt(Tensor)", [](V x) { return sqrt(x[0]); }, [] { return positive({3, 4}, 54); });
  unary("rsqrt(Tensor)", [](V x) { return rsqrt(x[0]); }, [] { return positive({3, 4}, 55); });
  unary("sin(Tensor)", [](V x) { return sin(x[0]); }, [] { return narrowed({3, 4}, 56); });
  unary("cos(Tensor)", [](V x) { return cos(x[0]); }, [] { return rnd({3, 4}, 57, -3, 3); });
  unary("tanh(Tensor)", [](V x) { return tanh(x[0]); }, [] { return rnd({3, 4}, 58, -2, 2); });
  unary("sigmoid(Tensor)", [](V x) { return sigmoid(x[0]); }, [] { return rnd({3, 4}, 59, -3, 3); });
  unary("relu(Tensor)", [](V x) { return relu(x[0]); }, [] { return away_from_zero({3, 4}, 60); });
  unary("silu(Tensor)", [](V x) { return silu(x[0]); }, [] { return rnd({3, 4}, 61, -3, 3); });
  unary("gelu(Tensor)", [](V x) { return gelu(x[0]); }, [] { return rnd({3, 4}, 62, -3, 3); });
  unary("gelu(Tensor)", [](V x) { return gelu(x[0]); }, [] { return expanded({1, 4}, {3, 4}, 63); });
  unary("square(Tensor)", [](V x) { return square(x[0]); }, [] { return rnd({3, 4}, 64); });
  unary("add(Tensor,double)", [](V x) { return add(x[0], 2.5); }, [] { return rnd({3, 4}, 65); });
  unary("sub(Tensor,double)", [](V x) { return sub(x[0], 2.5); }, [] { return rnd({3, 4}, 66); });
  unary("mul(Tensor,double)", [](V x) { return mul(x[0], -1.5); }, [] { return rnd({3, 4}, 67); });
  unary("div(Tensor,double)", [](V x) { return div(x[0], 4.0); }, [] { return rnd({3, 4}, 68); });
  unary("rsub(double,Tensor)", [](V x) { return rsub(1.0, x[0]); }, [] { return rnd({3, 4}, 69); });
  unary("pow(Tensor,double)", [](V x) { return pow(x[0], 2.5); }, [] { return positive({3, 4}, 70); });
  unary("pow(Tensor,double)", [](V x) { return pow(x[0], 3.0); }, [] { return rnd({3, 4}, 71); });
  unary("pow(Tensor,double)", [](V x) { return pow(x[0], 0.0); }, [] { return rnd({3, 4}, 72); });
  unary("clamp(Tensor,double,double)", [](V x) { return clamp(x[0], -0.45, 0.55); }, [] {
    // no value within 0.05 of a bound
    std::vector<double> v = ops::to_vector_f64(raw({3, 4}, 73, -1, 1));
    for (double& e : v) {
      if (std::abs(e + 0.45) < 0.05 || std::abs(e - 0.55) < 0.05) e += 0.12;
    }
    return leaf(ops::from_vector(v, {3, 4}));
  });

  // ---- reductions
  c.push_back({"sum(Tensor,vector<int64_t>,bool)", "all dims", [] { return std::vector<Tensor>{rnd({3, 4}, 80)}; },
               [](V x) { return sum(x[0]); }});
  c.push_back({"sum(Tensor,vector<int64_t>,bool)", "dims {0,2} keepdim, transposed", [] {
                 return std::vector<Tensor>{leaf(ops::permute(raw({4, 2, 3}, 81), {1, 2, 0}))}; },
               [](V x) { return sum(x[0], {0, 2}, true); }});
  c.push_back({"sum(Tensor,vector<int64_t>,bool)", "dim -1", [] { return std::vector<Tensor>{rnd({2, 3, 4}, 82)}; },
               [](V x) { return sum(x[0], {-1}); }});
  c.push_back({"mean(Tensor,vector<int64_t>,bool)", "dim 1", [] { return std::vector<Tensor>{rnd({2, 3, 4}, 83)}; },
               [](V x) { return mean(x[0], {1}); }});
  c.push_back({"mean(Tensor,vector<int64_t>,bool)", "all dims", [] { return std::vector<Tensor>{narrowed({3, 4}, 84)}; },
               [](V x) { return mean(x[0]); }});
  c.push_back({"var(Tensor,vector<int64_t>,bool,int64_t)", "dim 1, unbiased", [] { return std::vector<Tensor>{rnd({2, 5, 3}, 85)}; },
               [](V x) { return var(x[0], {1}); }});
  c.push_back({"var(Tensor,vector<int64_t>,bool,int64_t)", "all dims, biased, keepdim", [] { return std::vector<Tensor>{rnd({3, 4}, 86)}; },
               [](V x) { return var(x[0], {}, true, 0); }});
  c.push_back({"amax(Tensor,vector<int64_t>,bool)", "dim 1 (no ties)", [] { return std::vector<Tensor>{rnd({3, 5, 2}, 87)}; },
               [](V x) { return amax(x[0], {1}); }});
  c.push_back({"amax(Tensor,vector<int64_t>,bool)", "all dims", [] { return std::vector<Tensor>{rnd({3, 4}, 88)}; },
               [](V x) { return amax(x[0]); }});
  c.push_back({"amin(Tensor,vector<int64_t>,bool)", "dims {0,2} keepdim", [] { return std::vector<Tensor>{rnd({3, 2, 4}, 89)}; },
               [](V x) { return amin(x[0], {0, 2}, true); }});
  c.push_back({"logsumexp(Tensor,vector<int64_t>,bool)", "dim 1", [] { return std::vector<Tensor>{rnd({3, 5, 2}, 90, -3, 3)}; },
               [](V x) { return logsumexp(x[0], {1}); }});
  c.push_back({"logsumexp(Tensor,vector<int64_t>,bool)", "dims {0,2} keepdim", [] { return std::vector<Tensor>{rnd({3, 2, 4}, 91)}; },
               [](V x) { return logsumexp(x[0], {0, 2}, true); }});

  // ---- linear algebra, convolution, resampling
  c.push_back({"matmul(Tensor,Tensor)", "[3,4] @ [4,5]", [] { return std::vector<Tensor>{rnd({3, 4}, 100), rnd({4, 5}, 101)}; },
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul(Tensor,Tensor)", "batched [2,3,4] @ [2,4,5]", [] { return std::vector<Tensor>{rnd({2, 3, 4}, 102), rnd({2, 4, 5}, 103)}; },
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul(Tensor,Tensor)", "broadcast [2,1,3,4] @ [3,4,2]", [] {
                 return std::vector<Tensor>{rnd({2, 1, 3, 4}, 104), rnd({3, 4, 2}, 105)}; },
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul(Tensor,Tensor)", "transposed views A^T B^T", [] {
                 return std::vector<Tensor>{transposed({3, 4}, 106), transposed({4, 2}, 107)}; },
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul(Tensor,Tensor)", "shared matrix in a batch", [] {
                 return std::vector<Tensor>{rnd({2, 3, 4}, 108), rnd({4, 3}, 109)}; },
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"linear(Tensor,Tensor,Tensor)", "[5,4] with bias", [] {
                 return std::vector<Tensor>{rnd({5, 4}, 110), rnd({3, 4}, 111), rnd({3}, 112)}; },
               [](V x) { return linear(x[0], x[1], x[2]); }});
  c.push_back({"linear(Tensor,Tensor,Tensor)", "3-D input, no bias", [] {
                 return std::vector<Tensor>{rnd({2, 3, 4}, 113), rnd({2, 4}, 114)}; },
               [](V x) { return linear(x[0], x[1], Tensor()); }});
  c.push_back({"conv2d(Tensor,Tensor,Tensor,int64_t,int64_t)", "stride 2, padding 1, 3x5 kernel, 5x7 image", [] {
                 return std::vector<Tensor>{rnd({2, 3, 5, 7}, 120), rnd({4, 3, 3, 5}, 121), rnd({4}, 122)}; },
               [](V x) { return conv2d(x[0], x[1], x[2], 2, 1); }});
  c.push_back({"conv2d(Tensor,Tensor,Tensor,int64_t,int64_t)", "stride 1, no padding, no bias", [] {
                 return std::vector<Tensor>{rnd({1, 2, 4, 6}, 123), rnd({3, 2, 3, 3}, 124)}; },
               [](V x) { return conv2d(x[0], x[1], Tensor(), 1, 0); }});
  c.push_back({"avg_pool2d(Tensor,int64_t)", "k 2 on 4x6", [] { return std::vector<Tensor>{rnd({2, 3, 4, 6}, 125)}; },
               [](V x) { return avg_pool2d(x[0], 2); }});
  c.push_back({"upsample_nearest2d(Tensor,int64_t)", "scale 2 on 2x3", [] { return std::vector<Tensor>{rnd({2, 3, 2, 3}, 126)}; },
               [](V x) { return upsample_nearest2d(x[0], 2); }});

  // ---- indexing
  c.push_back({"index_select(Tensor,int64_t,Tensor)", "dim 0 with repeats", [] { return std::vector<Tensor>{rnd({5, 4}, 130)}; },
               [](V x) { return index_select(x[0], 0, labels_of({3, 0, 3, 1})); }});
  c.push_back({"index_select(Tensor,int64_t,Tensor)", "middle dim", [] { return std::vector<Tensor>{rnd({2, 5, 3}, 131)}; },
               [](V x) { return index_select(x[0], 1, labels_of({4, 2})); }});
  c.push_back({"embedding(Tensor,Tensor)", "ids [2,3] with repeats", [] { return std::vector<Tensor>{rnd({6, 3}, 132)}; },
               [](V x) { return embedding(x[0], ops::from_vector(std::vector<int64_t>{1, 5, 1, 0, 2, 5}, {2, 3})); }});

  // ---- softmax, normalisation, dropout, losses
  c.push_back({"softmax(Tensor,int64_t)", "middle dim", [] { return std::vector<Tensor>{rnd({2, 5, 3}, 140, -2, 2)}; },
               [](V x) { return softmax(x[0], 1); }});
  c.push_back({"softmax(Tensor,int64_t)", "last dim, transposed", [] { return std::vector<Tensor>{transposed({3, 4}, 141)}; },
               [](V x) { return softmax(x[0], -1); }});
  c.push_back({"log_softmax(Tensor,int64_t)", "middle dim", [] { return std::vector<Tensor>{rnd({2, 5, 3}, 142, -2, 2)}; },
               [](V x) { return log_softmax(x[0], 1); }});
  c.push_back({"log_softmax(Tensor,int64_t)", "last dim", [] { return std::vector<Tensor>{rnd({3, 4}, 143)}; },
               [](V x) { return log_softmax(x[0], -1); }});
  c.push_back({"group_norm(Tensor,int64_t,Tensor,Tensor,double)", "N=2 C=6 G=3 H=3 W=5", [] {
                 return std::vector<Tensor>{rnd({2, 6, 3, 5}, 150, -2, 2), rnd({6}, 151, 0.5, 1.5), rnd({6}, 152)}; },
               [](V x) { return group_norm(x[0], 3, x[1], x[2]); }});
  c.push_back({"group_norm(Tensor,int64_t,Tensor,Tensor,double)", "x [2,4,6], G=2, no affine", [] {
                 return std::vector<Tensor>{rnd({2, 4, 6}, 156, -2, 2)}; },
               [](V x) { return group_norm(x[0], 2, Tensor(), Tensor()); }});
  c.push_back({"layer_norm(Tensor,Tensor,Tensor,double)", "no affine, transposed input", [] {
                 return std::vector<Tensor>{transposed({4, 6}, 157)}; },
               [](V x) { return layer_norm(x[0], Tensor(), Tensor()); }});
  c.push_back({"layer_norm(Tensor,Tensor,Tensor,double)", "[3,4,5] over the last dim", [] {
                 return std::vector<Tensor>{rnd({3, 4, 5}, 153, -2, 2), rnd({5}, 154, 0.5, 1.5), rnd({5}, 155)}; },
               [](V x) { return layer_norm(x[0], x[1], x[2]); }});
  c.push_back({"dropout(Tensor,double,Generator)", "p = 0.3, fixed generator", [] { return std::vector<Tensor>{rnd({4, 5}, 160)}; },
               [](V x) {
                 Generator gen(7);  // the same mask on every evaluation
                 return dropout(x[0], 0.3, gen);
               }});
  c.push_back({"mse_loss(Tensor,Tensor)", "both inputs differentiated", [] { return std::vector<Tensor>{rnd({3, 4}, 170), rnd({3, 4}, 171)}; },
               [](V x) { return mse_loss(x[0], x[1]); }});
  c.push_back({"cross_entropy(Tensor,Tensor)", "[4,5] logits", [] { return std::vector<Tensor>{rnd({4, 5}, 172, -2, 2)}; },
               [](V x) { return cross_entropy(x[0], labels_of({1, 0, 4, 2})); }});
  return c;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = make_cases();
  return all;
}

// ---------------------------------------------------------------- the checks

class Gradcheck : public ::testing::TestWithParam<size_t> {};

TEST_P(Gradcheck, MatchesCentralDifferences) {
  const Case& k = cases()[GetParam()];
  SCOPED_TRACE(k.op + " " + k.what);
  std::vector<Tensor> inputs = k.inputs();
  GradcheckResult r = gradcheck(k.fn, inputs);
  EXPECT_TRUE(r.ok) << k.op << " [" << k.what << "]: " << r.message;
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  const std::string& op = cases()[info.param].op;
  std::string name = op.substr(0, op.find('('));
  // Overloads differ in their parameters: tag the scalar and device/dtype forms.
  if (op.find("double") != std::string::npos) name += "_scalar";
  if (op.find("DType") != std::string::npos) name += "_dtype";
  if (op.find("Device") != std::string::npos) name += "_device";
  return name + "_" + std::to_string(info.param);
}

INSTANTIATE_TEST_SUITE_P(Ops, Gradcheck, ::testing::Range<size_t>(0, cases().size()), case_name);

// ---------------------------------------------------------------- coverage

std::string erase_all(std::string s, const std::string& what) {
  for (size_t pos; (pos = s.find(what)) != std::string::npos;) s.erase(pos, what.size());
  return s;
}

// One parameter "const std::vector<int64_t>& dims = {}" -> its type "vector<int64_t>".
std::string param_type(std::string p) {
  p = p.substr(0, p.find('='));                                         // drop the default
  while (!p.empty() && std::isspace(static_cast<unsigned char>(p.back()))) p.pop_back();
  while (!p.empty() && (std::isalnum(static_cast<unsigned char>(p.back())) || p.back() == '_')) p.pop_back();  // the name
  for (const char* junk : {"const", "&", "std::", " ", "\t"}) p = erase_all(p, junk);
  return p;
}

// "name(param types)" for each declaration in functions.h, e.g.
// "Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);"
// -> "sum(Tensor,vector<int64_t>,bool)". Operator sugar (inline operator...) is skipped.
std::vector<std::string> declared_functions(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    size_t name_start;
    if (line.rfind("Tensor ", 0) == 0) name_start = 7;
    else if (line.rfind("std::vector<Tensor> ", 0) == 0) name_start = 20;
    else continue;  // comments, includes, inline operator sugar
    size_t open = line.find('(', name_start), close = line.rfind(");");
    if (open == std::string::npos || close == std::string::npos) continue;
    std::string key = line.substr(name_start, open - name_start) + "(";
    std::stringstream params(line.substr(open + 1, close - open - 1));
    std::string p;
    for (bool first = true; std::getline(params, p, ','); first = false) key += (first ? "" : ",") + param_type(p);
    keys.push_back(key + ")");
  }
  return keys;
}

TEST(GradcheckCoverage, EveryFunctionIsCovered) {
  std::vector<std::string> declared = declared_functions(std::string(DRIFT_TEST_DATA) + "/../../autograd/functions.h");
  // Guards the parser itself: update when functions.h gains a function (and add its case above).
  constexpr size_t kDeclaredFunctions = 66;
  EXPECT_EQ(declared.size(), kDeclaredFunctions)
      << "autograd/functions.h changed: add a gradcheck case for each new function, then update this count";

  std::set<std::string> covered;
  for (const Case& k : cases()) covered.insert(k.op);
  for (const std::string& f : declared) {
    EXPECT_TRUE(covered.count(f)) << "no gradcheck case for " << f << " (declared in autograd/functions.h)";
  }
  std::set<std::string> declared_set(declared.begin(), declared.end());
  for (const std::string& f : covered) {
    EXPECT_TRUE(declared_set.count(f)) << "a gradcheck case names " << f << ", which functions.h does not declare";
  }
}

// gradcheck itself must catch a wrong backward formula.
TEST(GradcheckSelf, DetectsAWrongGradient) {
  Tensor x = rnd({3, 2}, 200);
  Fn wrong = [](V x) {
    Tensor y = ops::mul(x[0], 2.0);  // y = 2x, but the recorded gradient claims dy/dx = 3
    record(y, "wrong_double", {x[0]}, [](const Tensor& g) { return std::vector<Tensor>{ops::mul(g, 3.0)}; });
    return y;
  };
  GradcheckResult r = gradcheck(wrong, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 0"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("analytic"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("numeric"), std::string::npos) << r.message;
  EXPECT_GT(r.max_abs_err, 0.1);
}

TEST(GradcheckSelf, LeavesCallerGradUntouched) {
  Tensor x = rnd({4}, 201);
  x.set_grad(ops::full({4}, 7.0, DType::Float64));
  GradcheckResult r = gradcheck([](V x) { return mul(x[0], x[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(ops::to_vector_f64(x.grad()), std::vector<double>(4, 7.0));
}

TEST(GradcheckSelf, RejectsFloat32Inputs) {
  Tensor x = ops::zeros({3});
  x.set_requires_grad(true);
  EXPECT_THROW(gradcheck([](V x) { return x[0]; }, {x}), Error);
}

}  // namespace
