// The autograd engine: accumulation, graph shapes, grad mode, detach,
// retain_grad / retain_graph, error messages, deep graphs and grad().
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <thread>

#include "autograd/functions.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;

namespace {

Tensor leaf(const std::vector<double>& v) {
  Tensor t = ops::from_vector(v, {static_cast<int64_t>(v.size())});
  t.set_requires_grad(true);
  return t;
}

std::vector<double> values(const Tensor& t) { return ops::to_vector_f64(t); }

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// Runs f, expects a drift::Error whose message contains every fragment.

// ---------------------------------------------------------------- accumulation and graph shapes

TEST(Engine, ValueUsedTwiceAccumulates) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = add(mul(x, x), x);  // y = x^2 + x, dy/dx = 2x + 1
  backward(sum(y));
  expect_near(values(x.grad()), {3, 5, 7});
}

TEST(Engine, DiamondGraph) {
  // a = 2x; d = sin(a) cos(a) = sin(4x) / 2; dd/dx = 2 cos(4x)
  Tensor x = leaf({0.1, -0.4, 0.7});
  Tensor a = mul(x, 2.0);
  Tensor d = mul(sin(a), cos(a));
  backward(sum(d));
  std::vector<double> xv = values(x);
  expect_near(values(x.grad()), {2 * std::cos(4 * xv[0]), 2 * std::cos(4 * xv[1]), 2 * std::cos(4 * xv[2])});
}

TEST(Engine, LeafGradAccumulatesAcrossBackwardCalls) {
  Tensor x = leaf({1, 2});
  backward(sum(mul(x, 3.0)));
  backward(sum(mul(x, 3.0)));
  expect_near(values(x.grad()), {6, 6});
  x.set_grad(Tensor());  // what zero_grad does
  backward(sum(x));
  expect_near(values(x.grad()), {1, 1});
}

TEST(Engine, LeafGradIsAFreshContiguousTensor) {
  // d sum(x)/dx is a broadcast view (stride 0); .grad must own its memory.
  Tensor x = ops::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  x.set_requires_grad(true);
  Tensor y = leaf({1, 1, 1});
  backward(sum(add(x, y)));
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(x.grad().is_contiguous());
  EXPECT_FALSE(x.grad().is_same(y.grad()));
  expect_near(values(y.grad()), {2, 2, 2});
}

TEST(Engine, GradientOnlyFlowsToInputsThatRequireIt) {
  Tensor x = leaf({1, 2});
  Tensor c = ops::from_vector(std::vector<double>{5, 7}, {2});
  Tensor y = mul(x, c);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_FALSE(mul(c, c).requires_grad());
  backward(sum(y));
  expect_near(values(x.grad()), {5, 7});
  EXPECT_FALSE(c.grad().defined());
}

TEST(Engine, RootThatIsALeaf) {
  Tensor x = ops::from_vector(std::vector<double>{4}, {});
  x.set_requires_grad(true);
  backward(x);
  expect_near(values(x.grad()), {1});
}

TEST(Engine, ExplicitGradRoot) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = mul(x, 2.0);
  backward(y, ops::from_vector(std::vector<double>{1, 10, 100}, {3}));
  expect_near(values(x.grad()), {2, 20, 200});
}

TEST(Engine, GradDtypeFollowsTheInput) {
  Tensor x = leaf({1, 2});
  Tensor y = sum(to(x, DType::Float32));
  EXPECT_EQ(y.dtype(), DType::Float32);
  backward(y);
  EXPECT_EQ(x.grad().dtype(), DType::Float64);
  expect_near(values(x.grad()), {1, 1});
}

TEST(Engine, IdentityOpDoesNotRewriteItsInput) {
  // contiguous() of a contiguous tensor may return the same TensorImpl;
  // recording must give the output a handle of its own.
  Tensor x = leaf({1, 2, 3});
  Tensor y = contiguous(x);
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
  backward(sum(mul(y, y)));
  expect_near(values(x.grad()), {2, 4, 6});
}

TEST(Engine, SplitPiecesUsedPartially) {
  Tensor x = leaf({1, 2, 3, 4, 5});
  std::vector<Tensor> p = split(x, {2, 3}, 0);
  backward(sum(mul(p[1], 2.0)));
  expect_near(values(x.grad()), {0, 0, 2, 2, 2});
}

TEST(Engine, TiesShareTheGradient) {
  Tensor x = leaf({1, 3, 3});
  backward(amax(x));
  expect_near(values(x.grad()), {0, 0.5, 0.5});

  Tensor a = leaf({1, 2}), b = leaf({1, 5});
  backward(sum(maximum(a, b)));
  expect_near(values(a.grad()), {0.5, 0});
  expect_near(values(b.grad()), {0.5, 1});
}

TEST(Engine, ReluAbsClampRouteByMasks) {
  Tensor x = leaf({-2, -0.5, 0.5, 2});
  backward(sum(add(add(relu(x), abs(x)), clamp(x, -1, 1))));
  // relu' = [x > 0], abs' = sign(x), clamp' = [-1 <= x <= 1]
  expect_near(values(x.grad()), {-1, 0, 3, 2});
}

TEST(Engine, Float32GradientsMatchFloat64) {
  // The same small network in both dtypes: loss = mse(tanh(x W^T + b), y).
  auto grads_in = [](DType dt) {
    Tensor x = ops::to(ops::from_vector(std::vector<double>{0.1, -0.2, 0.3, 0.4, -0.5, 0.6}, {3, 2}), dt);
    Tensor y = ops::to(ops::from_vector(std::vector<double>{0.5, -0.5, 0.2}, {3, 1}), dt);
    Tensor w = ops::to(ops::from_vector(std::vector<double>{0.7, -1.1}, {1, 2}), dt);
    Tensor b = ops::to(ops::from_vector(std::vector<double>{0.05}, {1}), dt);
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    backward(mse_loss(tanh(linear(x, w, b)), y));
    EXPECT_EQ(w.grad().dtype(), dt);
    std::vector<double> g = values(w.grad());
    g.push_back(values(b.grad())[0]);
    return g;
  };
  expect_near(grads_in(DType::Float32), grads_in(DType::Float64), 1e-6);
}

// ---------------------------------------------------------------- grad mode and detach

TEST(Engine, NoGradGuard) {
  Tensor x = leaf({1, 2});
  EXPECT_TRUE(grad_enabled());
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    Tensor y = mul(x, 2.0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    {
      NoGradGuard nested;
      EXPECT_FALSE(grad_enabled());
    }
    EXPECT_FALSE(grad_enabled());
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE(mul(x, 2.0).requires_grad());
}

TEST(Engine, NoGradIsPerThread) {
  NoGradGuard guard;
  bool other_thread_enabled = false;
  std::thread t([&] { other_thread_enabled = grad_enabled(); });
  t.join();
  EXPECT_TRUE(other_thread_enabled);
  EXPECT_FALSE(grad_enabled());
}

TEST(Engine, DetachStopsTheGradient) {
  Tensor x = leaf({1, 2, 3});
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.data_ptr(), x.data_ptr());  // same storage
  Tensor y = mul(x, d);                   // d is a constant: dy/dx = d
  backward(sum(y));
  expect_near(values(x.grad()), {1, 2, 3});
}

// ---------------------------------------------------------------- retain_grad and retain_graph

TEST(Engine, RetainGradOnNonLeaf) {
  Tensor x = leaf({1, 2});
  Tensor h = mul(x, 3.0);
  retain_grad(h);
  Tensor other = mul(h, h);  // not retained
  backward(sum(other));
  expect_near(values(h.grad()), {6, 12});  // d(h^2)/dh = 2h
  expect_near(values(x.grad()), {18, 36});
  EXPECT_FALSE(other.grad().defined());
}

TEST(Engine, RetainGradOnTheRoot) {
  Tensor x = leaf({1, 2});
  Tensor loss = sum(x);
  retain_grad(loss);
  backward(loss);
  expect_near(values(loss.grad()), {1});
}

TEST(Engine, RetainGraphAllowsASecondBackward) {
  Tensor x = leaf({1, 2});
  Tensor loss = sum(mul(x, x));
  backward(loss, Tensor(), /*retain_graph=*/true);
  backward(loss);
  expect_near(values(x.grad()), {4, 8});
}

TEST(Engine, BackwardTwiceThroughAFreedGraphThrows) {
  Tensor x = leaf({1, 2});
  Tensor loss = sum(mul(x, x));
  backward(loss);
  expect_error([&] { backward(loss); }, {"graph was freed", "retain_graph=true"});
}

TEST(Engine, GraphIsFreedAfterBackward) {
  Tensor x = leaf({1, 2});
  Tensor y = exp(x);
  std::shared_ptr<Node> node = y.grad_fn();
  backward(sum(y));
  EXPECT_TRUE(node->released);
  EXPECT_FALSE(static_cast<bool>(node->backward));
}

TEST(Engine, NoReferenceCycles) {
  // exp saves its output; the saved copy must not keep the graph alive.
  std::weak_ptr<Node> node;
  {
    Tensor x = leaf({1, 2});
    Tensor y = exp(softmax(x, 0));
    node = y.grad_fn();
    EXPECT_FALSE(node.expired());
  }
  EXPECT_TRUE(node.expired());
}

// ---------------------------------------------------------------- errors

TEST(Engine, NonScalarRootNeedsGradRoot) {
  Tensor x = leaf({1, 2, 3});
  expect_error([&] { backward(mul(x, 2.0)); }, {"grad_root", "[3]"});
}

TEST(Engine, GradRootShapeMustMatch) {
  Tensor x = leaf({1, 2, 3});
  expect_error([&] { backward(mul(x, 2.0), ops::ones({2}, DType::Float64)); }, {"grad_root", "[2]", "[3]"});
}

TEST(Engine, RootThatDoesNotRequireGrad) {
  Tensor c = ops::ones({2}, DType::Float64);
  expect_error([&] { backward(sum(c)); }, {"does not require grad"});
  Tensor x = leaf({1, 2});
  Tensor y;
  {
    NoGradGuard guard;
    y = sum(x);
  }
  expect_error([&] { backward(y); }, {"does not require grad"});
}

TEST(Engine, WrongGradientShapeNamesTheOpAndShapes) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = ops::mul(x, 2.0);
  record(y, "broken_op", {x}, [](const Tensor& g) {
    return std::vector<Tensor>{ops::zeros({5}, g.dtype())};  // wrong: x has shape [3]
  });
  expect_error([&] { backward(sum(y)); }, {"broken_op", "[5]", "[3]"});
}

TEST(Engine, RetainGradNeedsRequiresGrad) {
  Tensor c = ops::ones({2});
  EXPECT_THROW(retain_grad(c), Error);
}

// ---------------------------------------------------------------- deep graphs

TEST(Engine, DeepChainHasNoStackOverflow) {
  const int kDepth = 20000;
  Tensor x = leaf({0.5});
  Tensor y = x;
  for (int i = 0; i < kDepth; ++i) y = add(y, 1.0);
  Tensor loss = sum(mul(y, 2.0));
  backward(loss);
  expect_near(values(x.grad()), {2});
  // A second chain that is dropped without backward: freed iteratively too.
  Tensor z = x;
  for (int i = 0; i < kDepth; ++i) z = mul(z, 1.0);
  z = Tensor();
  SUCCEED();
}

// ---------------------------------------------------------------- grad()

TEST(Engine, GradApiReturnsGradientsWithoutTouchingDotGrad) {
  Tensor x = leaf({1, 2});
  Tensor w = leaf({3, 4});
  Tensor unused = leaf({9});
  Tensor h = mul(x, w);
  Tensor loss = sum(mul(h, h));  // d/dx = 2 h w, d/dw = 2 h x, d/dh = 2h
  std::vector<Tensor> g = grad(loss, {x, w, unused, h});
  ASSERT_EQ(g.size(), 4u);
  expect_near(values(g[0]), {2 * 3 * 3, 2 * 8 * 4});
  expect_near(values(g[1]), {2 * 3 * 1, 2 * 8 * 2});
  EXPECT_FALSE(g[2].defined());
  expect_near(values(g[3]), {6, 16});
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(Engine, GradApiSkipsBranchesThatDoNotLeadToTheInputs) {
  Tensor x = leaf({1, 2});
  Tensor w = leaf({3, 4});
  int w_branch_calls = 0;
  Tensor wy = ops::mul(w, 2.0);
  record(wy, "counting", {w}, [&w_branch_calls](const Tensor& g) {
    ++w_branch_calls;
    return std::vector<Tensor>{ops::mul(g, 2.0)};
  });
  Tensor loss = sum(mul(x, wy));
  std::vector<Tensor> g = grad(loss, {x}, Tensor(), true);
  expect_near(values(g[0]), {6, 8});
  EXPECT_EQ(w_branch_calls, 0);
  backward(loss);  // the full pass does run it
  EXPECT_EQ(w_branch_calls, 1);
  expect_near(values(w.grad()), {2, 4});
}

TEST(Engine, GradApiSameInputTwice) {
  Tensor x = leaf({1, 2});
  std::vector<Tensor> g = grad(sum(mul(x, x)), {x, x});
  expect_near(values(g[0]), {2, 4});
  expect_near(values(g[1]), {2, 4});
}

TEST(Engine, GradApiRejectsInputsWithoutGrad) {
  Tensor x = leaf({1, 2});
  Tensor c = ops::ones({2}, DType::Float64);
  expect_error([&] { grad(sum(mul(x, c)), {c}); }, {"input 0", "does not require grad"});
}

TEST(Engine, GradApiRetainGraph) {
  Tensor x = leaf({1, 2});
  Tensor loss = sum(exp(x));
  std::vector<Tensor> g1 = grad(loss, {x}, Tensor(), true);
  std::vector<Tensor> g2 = grad(loss, {x});
  expect_near(values(g1[0]), values(g2[0]));
  EXPECT_THROW(grad(loss, {x}), Error);
}

// ---------------------------------------------------------------- dropout

TEST(Engine, DropoutMaskAndScale) {
  Tensor x = ops::ones({4000}, DType::Float64);
  x.set_requires_grad(true);
  Generator gen(3);
  Tensor y = dropout(x, 0.25, gen);
  backward(sum(y));
  std::vector<double> yv = values(y), gv = values(x.grad());
  int64_t zeros = 0;
  for (size_t i = 0; i < yv.size(); ++i) {
    ASSERT_TRUE(yv[i] == 0 || std::abs(yv[i] - 1 / 0.75) < 1e-12) << yv[i];
    EXPECT_EQ(gv[i], yv[i]);  // x = 1, so dy/dx = y
    zeros += yv[i] == 0;
  }
  EXPECT_NEAR(static_cast<double>(zeros) / 4000, 0.25, 0.03);
  EXPECT_TRUE(dropout(x, 0.0, gen).is_same(x));
}

}  // namespace

// backward's leaf-ready hook (used to start gradient all-reduces early):
// every reached leaf is reported once, when its .grad is already final
// (here every leaf is used twice, far apart in the graph); an unreached leaf is not reported.
TEST(Engine, LeafReadyHookReportsEachFinalGradientOnce) {
  Tensor a = leaf({1, 2}), b = leaf({3, 4}), c = leaf({5, 6}), unused = leaf({7});
  // loss = sum(a * b) + sum(exp(c) * a) + sum(b * b * c)
  Tensor loss = add(add(sum(mul(a, b)), sum(mul(exp(c), a))), sum(mul(mul(b, b), c)));
  std::vector<std::pair<const AutogradMeta*, std::vector<double>>> seen;
  backward(loss, Tensor(), false, [&](const AutogradMeta* m) { seen.emplace_back(m, values(m->grad)); });
  ASSERT_EQ(seen.size(), 3u);
  for (const Tensor* t : {&a, &b, &c}) {
    int times = 0;
    for (const auto& [m, g] : seen)
      if (m == t->impl_ptr()->autograd.get()) {
        ++times;
        expect_near(g, values(t->grad()));  // the gradient was final when reported
      }
    EXPECT_EQ(times, 1);
  }
  for (const auto& [m, g] : seen) EXPECT_NE(m, unused.impl_ptr()->autograd.get());
  // Values: d/da = b + exp(c), d/db = a + 2 b c, d/dc = exp(c) a + b^2.
  expect_near(values(a.grad()), {3 + std::exp(5.0), 4 + std::exp(6.0)}, 1e-9);
  expect_near(values(b.grad()), {1 + 30, 2 + 48});
  expect_near(values(c.grad()), {std::exp(5.0) + 9, 2 * std::exp(6.0) + 16}, 1e-9);
}
