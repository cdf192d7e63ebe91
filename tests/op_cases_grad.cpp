// Gradient cases: every differentiable function of autograd/functions.h,
// keyed by its declaration "name(param types)". Each runs a float64
// gradcheck (CPU, and on the GPU when there is one) and compares values and
// gradients between the CPU and every other backend. The coverage test
// (tests/test_gradcheck_ops.cpp) names any declaration without a case.
#include <cmath>

#include "autograd/functions.h"
#include "tests/op_cases.h"

namespace drift::optest {
namespace {

// |x| in [0.1, 1.1): keeps kinks (relu, abs at 0) away from x +- h.
Arg away(Shape s) {
  Arg a = in(std::move(s));
  a.gap = 0.1;
  return a;
}

// Values in [-1, 1) with none within 0.05 of the bounds -0.45 and 0.55.
Arg clamp_input() {
  std::vector<double> v;
  for (int i = 0; i < 12; ++i) {
    double e = std::sin(3.7 * i + 0.3);
    if (std::abs(e + 0.45) < 0.05 || std::abs(e - 0.55) < 0.05) e += 0.12;
    v.push_back(e);
  }
  return fixed(v, {3, 4});
}

// Marks every case added by `add` as a gradient case.
void grad_cases(std::vector<OpCase>& c) {
  // ---- views
  c.push_back({"reshape(Tensor,Shape)", "contiguous", {in({2, 3, 4})},
               [](V x) { return reshape(x[0], {4, -1}); }});
  c.push_back({"reshape(Tensor,Shape)", "transposed input (copies)", {tr({3, 4})},
               [](V x) { return reshape(x[0], {12}); }});
  c.push_back({"view(Tensor,Shape)", "", {in({2, 3, 4})},
               [](V x) { return view(x[0], {6, 4}); }});
  c.push_back({"flatten(Tensor,int64_t,int64_t)", "middle dims", {in({2, 3, 4, 2})},
               [](V x) { return flatten(x[0], 1, 2); }});
  c.push_back({"permute(Tensor,vector<int64_t>)", "", {in({2, 3, 4})},
               [](V x) { return permute(x[0], {2, 0, 1}); }});
  c.push_back({"transpose(Tensor,int64_t,int64_t)", "then elementwise", {in({3, 4, 2})},
               [](V x) { return sin(transpose(x[0], 0, -1)); }});
  c.push_back({"narrow(Tensor,int64_t,int64_t,int64_t)", "", {in({4, 6})},
               [](V x) { return narrow(x[0], 1, 1, 3); }});
  c.push_back({"select(Tensor,int64_t,int64_t)", "", {in({3, 4, 5})},
               [](V x) { return select(x[0], 1, 2); }});
  c.push_back({"expand(Tensor,Shape)", "new leading dim and size-1 dim", {in({3, 1})},
               [](V x) { return expand(x[0], {2, 3, 4}); }});
  c.push_back({"squeeze(Tensor,int64_t)", "", {in({3, 1, 4})},
               [](V x) { return squeeze(x[0], 1); }});
  c.push_back({"unsqueeze(Tensor,int64_t)", "", {in({3, 4})},
               [](V x) { return unsqueeze(x[0], -1); }});
  c.push_back({"split(Tensor,vector<int64_t>,int64_t)", "both pieces used", {in({5, 4})},
               [](V x) {
                 Tensors p = split(x[0], {2, 3}, 0);
                 return add(sum(square(p[0])), sum(exp(p[1])));
               }});
  c.push_back({"split(Tensor,vector<int64_t>,int64_t)", "one piece unused", {in({3, 5})},
               [](V x) { return split(x[0], {1, 3, 1}, 1)[1]; }});
  c.push_back({"chunk(Tensor,int64_t,int64_t)", "uneven (3, 3, 1)", {in({7, 3})},
               [](V x) {
                 Tensors p = chunk(x[0], 3, 0);
                 return add(mul(sum(p[0]), sum(p[1])), sum(square(p[2])));
               }});
  c.push_back({"contiguous(Tensor)", "transposed input", {tr({3, 5})},
               [](V x) { return contiguous(x[0]); }});
  c.push_back({"to(Tensor,DType)", "same dtype", {in({3, 4})},
               [](V x) { return mul(to(x[0], DType::Float64), 3.0); }});
  c.push_back({"to(Tensor,Device)", "same device", {in({3, 4})},
               [](V x) { return mul(to(x[0], Device::CPU), 3.0); }});
  c.push_back({"cat(vector<Tensor>,int64_t)", "dim 0, three inputs", {in({2, 3}), in({4, 3}), in({1, 3})},
               [](V x) { return cat({x[0], x[1], x[2]}, 0); }});
  c.push_back({"cat(vector<Tensor>,int64_t)", "last dim, a transposed input", {tr({2, 3}), in({2, 1})},
               [](V x) { return cat({x[0], x[1]}, -1); }});
  c.push_back({"stack(vector<Tensor>,int64_t)", "middle dim", {in({3, 4}), in({3, 4}), in({3, 4})},
               [](V x) { return stack({x[0], x[1], x[2]}, 1); }});

  // ---- binary elementwise (broadcasting and strided inputs)
  c.push_back({"add(Tensor,Tensor)", "broadcast [3,1,5] + [4,5]", {in({3, 1, 5}), in({4, 5})},
               [](V x) { return add(x[0], x[1]); }});
  c.push_back({"add(Tensor,Tensor)", "transposed + expanded", {tr({4, 3}), bc({4, 1}, {4, 3})},
               [](V x) { return add(x[0], x[1]); }});
  c.push_back({"sub(Tensor,Tensor)", "broadcast [4,1] - [1,5]", {in({4, 1}), in({1, 5})},
               [](V x) { return sub(x[0], x[1]); }});
  c.push_back({"mul(Tensor,Tensor)", "broadcast [3,1,5] * [4,5]", {in({3, 1, 5}), in({4, 5})},
               [](V x) { return mul(x[0], x[1]); }});
  c.push_back({"mul(Tensor,Tensor)", "rank-0 * narrowed", {in({}), nar({3, 4})},
               [](V x) { return mul(x[0], x[1]); }});
  c.push_back({"div(Tensor,Tensor)", "broadcast [3,4] / [4]", {in({3, 4}), pos({4})},
               [](V x) { return div(x[0], x[1]); }});
  c.push_back({"pow(Tensor,Tensor)", "positive base, broadcast exponent", {pos({3, 4}), in({4}, -2, 2)},
               [](V x) { return pow(x[0], x[1]); }});
  c.push_back({"maximum(Tensor,Tensor)", "broadcast [3,1,5] vs [4,5]", {in({3, 1, 5}), in({4, 5})},
               [](V x) { return maximum(x[0], x[1]); }});
  c.push_back({"minimum(Tensor,Tensor)", "transposed vs broadcast row", {tr({4, 5}), in({5})},
               [](V x) { return minimum(x[0], x[1]); }});
  c.push_back({"where(Tensor,Tensor,Tensor)", "b broadcast",
               {in({3, 4}), in({4}), nodiff(fixed({1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0}, {3, 4}))},
               [](V x) { return where(x[2], x[0], x[1]); }});

  // ---- unary elementwise
  auto unary = [&c](const char* op, Fn fn, Arg a) { c.push_back({op, "", {std::move(a)}, std::move(fn)}); };
  unary("neg(Tensor)", [](V x) { return neg(x[0]); }, in({3, 4}));
  unary("abs(Tensor)", [](V x) { return abs(x[0]); }, away({3, 4}));
  unary("exp(Tensor)", [](V x) { return exp(x[0]); }, tr({3, 4}));
  unary("log(Tensor)", [](V x) { return log(x[0]); }, pos({3, 4}));
  unary("sqrt(Tensor)", [](V x) { return sqrt(x[0]); }, pos({3, 4}));
  unary("rsqrt(Tensor)", [](V x) { return rsqrt(x[0]); }, pos({3, 4}));
  unary("sin(Tensor)", [](V x) { return sin(x[0]); }, nar({3, 4}));
  unary("cos(Tensor)", [](V x) { return cos(x[0]); }, in({3, 4}, -3, 3));
  unary("tanh(Tensor)", [](V x) { return tanh(x[0]); }, in({3, 4}, -2, 2));
  unary("sigmoid(Tensor)", [](V x) { return sigmoid(x[0]); }, in({3, 4}, -3, 3));
  unary("relu(Tensor)", [](V x) { return relu(x[0]); }, away({3, 4}));
  unary("silu(Tensor)", [](V x) { return silu(x[0]); }, in({3, 4}, -3, 3));
  unary("gelu(Tensor)", [](V x) { return gelu(x[0]); }, in({3, 4}, -3, 3));
  unary("gelu(Tensor)", [](V x) { return gelu(x[0]); }, bc({1, 4}, {3, 4}));
  unary("square(Tensor)", [](V x) { return square(x[0]); }, in({3, 4}));
  unary("add(Tensor,double)", [](V x) { return add(x[0], 2.5); }, in({3, 4}));
  unary("sub(Tensor,double)", [](V x) { return sub(x[0], 2.5); }, in({3, 4}));
  unary("mul(Tensor,double)", [](V x) { return mul(x[0], -1.5); }, in({3, 4}));
  unary("div(Tensor,double)", [](V x) { return div(x[0], 4.0); }, in({3, 4}));
  unary("rsub(double,Tensor)", [](V x) { return rsub(1.0, x[0]); }, in({3, 4}));
  unary("pow(Tensor,double)", [](V x) { return pow(x[0], 2.5); }, pos({3, 4}));
  unary("pow(Tensor,double)", [](V x) { return pow(x[0], 3.0); }, in({3, 4}));
  unary("pow(Tensor,double)", [](V x) { return pow(x[0], 0.0); }, in({3, 4}));
  unary("clamp(Tensor,double,double)", [](V x) { return clamp(x[0], -0.45, 0.55); }, clamp_input());

  // ---- reductions
  c.push_back({"sum(Tensor,vector<int64_t>,bool)", "all dims", {in({3, 4})},
               [](V x) { return sum(x[0]); }});
  c.push_back({"sum(Tensor,vector<int64_t>,bool)", "dims {0,2} keepdim, transposed", {with_layout(in({2, 3, 4}), Layout::Transposed)},
               [](V x) { return sum(x[0], {0, 2}, true); }});
  c.push_back({"sum(Tensor,vector<int64_t>,bool)", "dim -1", {in({2, 3, 4})},
               [](V x) { return sum(x[0], {-1}); }});
  c.push_back({"mean(Tensor,vector<int64_t>,bool)", "dim 1", {in({2, 3, 4})},
               [](V x) { return mean(x[0], {1}); }});
  c.push_back({"mean(Tensor,vector<int64_t>,bool)", "all dims", {nar({3, 4})},
               [](V x) { return mean(x[0]); }});
  c.push_back({"var(Tensor,vector<int64_t>,bool,int64_t)", "dim 1, unbiased", {in({2, 5, 3})},
               [](V x) { return var(x[0], {1}); }});
  c.push_back({"var(Tensor,vector<int64_t>,bool,int64_t)", "all dims, biased, keepdim", {in({3, 4})},
               [](V x) { return var(x[0], {}, true, 0); }});
  c.push_back({"amax(Tensor,vector<int64_t>,bool)", "dim 1 (no ties)", {in({3, 5, 2})},
               [](V x) { return amax(x[0], {1}); }});
  c.push_back({"amax(Tensor,vector<int64_t>,bool)", "all dims", {in({3, 4})},
               [](V x) { return amax(x[0]); }});
  c.push_back({"amin(Tensor,vector<int64_t>,bool)", "dims {0,2} keepdim", {in({3, 2, 4})},
               [](V x) { return amin(x[0], {0, 2}, true); }});
  c.push_back({"logsumexp(Tensor,vector<int64_t>,bool)", "dim 1", {in({3, 5, 2}, -3, 3)},
               [](V x) { return logsumexp(x[0], {1}); }});
  c.push_back({"logsumexp(Tensor,vector<int64_t>,bool)", "dims {0,2} keepdim", {in({3, 2, 4})},
               [](V x) { return logsumexp(x[0], {0, 2}, true); }});

  // ---- linear algebra, convolution, resampling
  c.push_back({"matmul(Tensor,Tensor)", "[3,4] @ [4,5]", {in({3, 4}), in({4, 5})},
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul(Tensor,Tensor)", "batched [2,3,4] @ [2,4,5]", {in({2, 3, 4}), in({2, 4, 5})},
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul(Tensor,Tensor)", "broadcast [2,1,3,4] @ [3,4,2]", {in({2, 1, 3, 4}), in({3, 4, 2})},
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul(Tensor,Tensor)", "transposed views A^T B^T", {tr({3, 4}), tr({4, 2})},
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul(Tensor,Tensor)", "shared matrix in a batch", {in({2, 3, 4}), in({4, 3})},
               [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"linear(Tensor,Tensor,Tensor)", "[5,4] with bias", {in({5, 4}), in({3, 4}), in({3})},
               [](V x) { return linear(x[0], x[1], x[2]); }});
  c.push_back({"linear(Tensor,Tensor,Tensor)", "3-D input, no bias", {in({2, 3, 4}), in({2, 4})},
               [](V x) { return linear(x[0], x[1], Tensor()); }});
  c.push_back({"conv2d(Tensor,Tensor,Tensor,int64_t,int64_t)", "stride 2, padding 1, 3x5 kernel, 5x7 image", {in({2, 3, 5, 7}), in({4, 3, 3, 5}), in({4})},
               [](V x) { return conv2d(x[0], x[1], x[2], 2, 1); }});
  c.push_back({"conv2d(Tensor,Tensor,Tensor,int64_t,int64_t)", "stride 1, no padding, no bias", {in({1, 2, 4, 6}), in({3, 2, 3, 3})},
               [](V x) { return conv2d(x[0], x[1], Tensor(), 1, 0); }});
  c.push_back({"avg_pool2d(Tensor,int64_t)", "k 2 on 4x6", {in({2, 3, 4, 6})},
               [](V x) { return avg_pool2d(x[0], 2); }});
  c.push_back({"upsample_nearest2d(Tensor,int64_t)", "scale 2 on 2x3", {in({2, 3, 2, 3})},
               [](V x) { return upsample_nearest2d(x[0], 2); }});

  // ---- indexing
  c.push_back({"index_select(Tensor,int64_t,Tensor)", "dim 0 with repeats", {in({5, 4}), ids({3, 0, 3, 1}, {4})},
               [](V x) { return index_select(x[0], 0, x[1]); }});
  c.push_back({"index_select(Tensor,int64_t,Tensor)", "middle dim", {in({2, 5, 3}), ids({4, 2}, {2})},
               [](V x) { return index_select(x[0], 1, x[1]); }});
  c.push_back({"embedding(Tensor,Tensor)", "ids [2,3] with repeats", {in({6, 3}), ids({1, 5, 1, 0, 2, 5}, {2, 3})},
               [](V x) { return embedding(x[0], x[1]); }});

  // ---- softmax, normalisation, dropout, losses
  c.push_back({"softmax(Tensor,int64_t)", "middle dim", {in({2, 5, 3}, -2, 2)},
               [](V x) { return softmax(x[0], 1); }});
  c.push_back({"softmax(Tensor,int64_t)", "last dim, transposed", {tr({3, 4})},
               [](V x) { return softmax(x[0], -1); }});
  c.push_back({"log_softmax(Tensor,int64_t)", "middle dim", {in({2, 5, 3}, -2, 2)},
               [](V x) { return log_softmax(x[0], 1); }});
  c.push_back({"log_softmax(Tensor,int64_t)", "last dim", {in({3, 4})},
               [](V x) { return log_softmax(x[0], -1); }});
  c.push_back({"group_norm(Tensor,int64_t,Tensor,Tensor,double)", "N=2 C=6 G=3 H=3 W=5", {in({2, 6, 3, 5}, -2, 2), in({6}, 0.5, 1.5), in({6})},
               [](V x) { return group_norm(x[0], 3, x[1], x[2]); }});
  c.push_back({"group_norm(Tensor,int64_t,Tensor,Tensor,double)", "x [2,4,6], G=2, no affine", {in({2, 4, 6}, -2, 2)},
               [](V x) { return group_norm(x[0], 2, Tensor(), Tensor()); }});
  c.push_back({"group_norm_silu(Tensor,int64_t,Tensor,Tensor,double)", "N=2 C=6 G=3 H=3 W=5", {in({2, 6, 3, 5}, -2, 2), in({6}, 0.5, 1.5), in({6})},
               [](V x) { return group_norm_silu(x[0], 3, x[1], x[2]); }});
  c.push_back({"group_norm_silu(Tensor,int64_t,Tensor,Tensor,double)", "x [2,4,6], G=2, no affine", {in({2, 4, 6}, -2, 2)},
               [](V x) { return group_norm_silu(x[0], 2, Tensor(), Tensor()); }});
  c.push_back({"layer_norm(Tensor,Tensor,Tensor,double)", "no affine, transposed input", {tr({4, 6})},
               [](V x) { return layer_norm(x[0], Tensor(), Tensor()); }});
  c.push_back({"layer_norm(Tensor,Tensor,Tensor,double)", "[3,4,5] over the last dim", {in({3, 4, 5}, -2, 2), in({5}, 0.5, 1.5), in({5})},
               [](V x) { return layer_norm(x[0], x[1], x[2]); }});
  c.push_back({"dropout(Tensor,double,Generator,ops::RowShard)", "p = 0.3, fixed generator", {in({4, 5})},
               [](V x) {
                 Generator gen(7);  // the same mask on every evaluation
                 return dropout(x[0], 0.3, gen);
               }});
  c.push_back({"mse_loss(Tensor,Tensor)", "both inputs differentiated", {in({3, 4}), in({3, 4})},
               [](V x) { return mse_loss(x[0], x[1]); }});
  c.push_back({"cross_entropy(Tensor,Tensor)", "[4,5] logits", {in({4, 5}, -2, 2), ids({1, 0, 4, 2}, {4})},
               [](V x) { return cross_entropy(x[0], x[1]); }});

  // Operator sugar (inline in functions.h) and a dtype round trip.
  c.push_back({"to(Tensor,DType)", "round trip through float64", {in({3, 4})},
               [](V x) { return to(to(x[0], DType::Float64), x[0].dtype()); }});
  c.push_back({"operators", "(2x - y) / y + 1 - (-x)", {in({3, 4}), in({4}, 0.5, 2)},
               [](V x) { return (x[0] * 2.0 - x[1]) / x[1] + 1.0 - (-x[0]); }});
}

}  // namespace

DRIFT_OP_CASES(grad) {
  std::vector<OpCase> g;
  grad_cases(g);
  for (OpCase& k : g) {
    k.grad = true;
    c.push_back(std::move(k));
  }
}

}  // namespace drift::optest
