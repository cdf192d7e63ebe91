// Optimizers against hand-computed updates, learning-rate schedules,
// gradient clipping, the EMA of weights and optimizer state round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/optim.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;
using namespace drift::nn;

namespace {

Tensor param(std::vector<float> v) {
  Tensor t = ops::from_vector(v, {static_cast<int64_t>(v.size())});
  t.set_requires_grad(true);
  return t;
}
void set_grad(Tensor p, std::vector<float> g) {
  p.set_grad(ops::from_vector(g, {static_cast<int64_t>(g.size())}));
}
std::vector<float> vals(const Tensor& t) { return ops::to_vector_f32(t); }

void expect_near(const std::vector<float>& got, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// A module with one parameter vector, for EMA.
struct One : Module {
  Tensor w;
  explicit One(std::vector<float> v) : Module("One") { w = register_parameter("w", ops::from_vector(v, {2})); }
};
}  // namespace

TEST(SGD, PlainMomentumNesterovWeightDecay) {
  {  // momentum 0.9, lr 0.1: b = g, p -= 0.1 b; then b = 0.9 b + g
    Tensor p = param({1, 2});
    SGD opt({{"p", p}}, SGDOptions{0.1, 0.9, 0, false});
    set_grad(p, {0.5, -1});
    opt.step();
    expect_near(vals(p), {0.95, 2.1});
    opt.step();  // same gradient: b = [0.95, -1.9]
    expect_near(vals(p), {0.855, 2.29});
    EXPECT_EQ(opt.step_count(), 2);
  }
  {  // Nesterov: d = g + 0.9 b = 1.9 g on the first step
    Tensor p = param({1, 2});
    SGD opt({{"p", p}}, SGDOptions{0.1, 0.9, 0, true});
    set_grad(p, {0.5, -1});
    opt.step();
    expect_near(vals(p), {0.905, 2.19});
  }
  {  // weight decay 0.1, no momentum: g = [0.5, -1] + 0.1 [1, 2]
    Tensor p = param({1, 2});
    SGD opt({{"p", p}}, SGDOptions{0.1, 0, 0.1, false});
    set_grad(p, {0.5, -1});
    opt.step();
    expect_near(vals(p), {0.94, 2.08});
  }
  {  // parameters without a gradient are left alone
    Tensor p = param({1, 2}), q = param({3});
    SGD opt({{"p", p}, {"q", q}}, SGDOptions{0.1});
    set_grad(p, {1, 1});
    opt.step();
    expect_near(vals(p), {0.9, 1.9});
    expect_near(vals(q), {3});
  }
}

TEST(Adam, TwoStepsByHand) {
  const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  Tensor p = param({1, -2});
  Adam opt({{"p", p}}, AdamOptions{lr, b1, b2, eps, 0});
  // Step 1: m = 0.1 g, v = 0.001 g^2; m/(1-b1) = g, sqrt(v/(1-b2)) = |g|: p moves by lr sign(g).
  set_grad(p, {0.5, -3});
  opt.step();
  expect_near(vals(p), {0.9, -1.9});
  // Step 2, written out in double.
  std::vector<double> g1 = {0.5, -3}, g2 = {-1, 0.25}, want = {0.9, -1.9};
  for (int i = 0; i < 2; ++i) {
    double m = (1 - b1) * g1[i], v = (1 - b2) * g1[i] * g1[i];
    m = b1 * m + (1 - b1) * g2[i];
    v = b2 * v + (1 - b2) * g2[i] * g2[i];
    double mhat = m / (1 - b1 * b1), vhat_sqrt = std::sqrt(v) / std::sqrt(1 - b2 * b2);
    want[i] -= lr * mhat / (vhat_sqrt + eps);
  }
  set_grad(p, {-1, 0.25});
  opt.step();
  expect_near(vals(p), want);
}

TEST(Adam, L2VersusDecoupledWeightDecay) {
  // Adam (L2): g = 0.5 + 0.1 * 1 = 0.6 > 0, the first step still moves by lr: 1 -> 0.9.
  Tensor a = param({1});
  Adam adam({{"a", a}}, AdamOptions{0.1, 0.9, 0.999, 1e-8, 0.1});
  set_grad(a, {0.5});
  adam.step();
  expect_near(vals(a), {0.9});
  // AdamW: p (1 - lr wd) first: 1 * 0.99 - 0.1 = 0.89.
  Tensor w = param({1});
  AdamW adamw({{"w", w}}, AdamOptions{0.1, 0.9, 0.999, 1e-8, 0.1});
  set_grad(w, {0.5});
  adamw.step();
  expect_near(vals(w), {0.89});
  EXPECT_EQ(adamw.type_name(), "AdamW");
}

// The fused kernel (one ops::adam_step_ for all parameters) against the
// unfused formula (AdamOptions::fused = false, separate tensor ops): the same
// float operations in the same order, so the same values within float rounding,
// for Adam and AdamW, with and without weight decay, float32 and float64, over
// parameters small and large enough to be split across threads.
TEST(Adam, FusedMatchesUnfusedFormula) {
  const std::vector<int64_t> sizes = {3, 1, 70000, 257};
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (WeightDecay mode : {WeightDecay::L2, WeightDecay::Decoupled}) {
      for (double wd : {0.0, 0.05}) {
        NamedTensors pf, pu;
        for (size_t k = 0; k < sizes.size(); ++k) {
          Generator gen(11 + k);
          Tensor init = ops::to(ops::randn({sizes[k]}, gen), dt);
          pf.emplace_back("p" + std::to_string(k), ops::clone(init));
          pu.emplace_back("p" + std::to_string(k), ops::clone(init));
        }
        AdamOptions of{3e-2, 0.8, 0.95, 1e-8, wd};
        AdamOptions ou = of;
        ou.fused = false;
        Adam fused(pf, of, mode), unfused(pu, ou, mode);
        for (int step = 0; step < 5; ++step) {
          for (size_t k = 0; k < sizes.size(); ++k) {
            Generator gen(100 * step + k);
            Tensor g = ops::to(ops::randn({sizes[k]}, gen), dt);
            Tensor a = pf[k].second, b = pu[k].second;
            a.set_grad(g);
            b.set_grad(ops::clone(g));
          }
          fused.step();
          unfused.step();
        }
        const double tol = dt == DType::Float32 ? 1e-6 : 1e-14;
        for (size_t k = 0; k < sizes.size(); ++k) {
          EXPECT_LE(ops::max_abs_diff(pf[k].second, pu[k].second), tol) << "param " << k << " " << dtype_name(dt);
          NamedTensors sf = fused.state_tensors(), su = unfused.state_tensors();
          for (size_t j = 0; j < sf.size(); ++j)
            EXPECT_LE(ops::max_abs_diff(sf[j].second, su[j].second), tol) << sf[j].first;
        }
        // And the parameters really moved.
        EXPECT_GT(ops::max_abs_diff(pf[2].second, ops::zeros({sizes[2]}, dt)), 0.1);
      }
    }
  }
}

TEST(Adam, FusedStepChecksItsArguments) {
  Tensor p = ops::zeros({3}), g = ops::zeros({3}), m = ops::zeros({3}), v = ops::zeros({4});
  const ops::AdamHyper h{1e-3, 0.9, 0.999, 1e-8, 0, false, 1};
  expect_error([&] { ops::adam_step_({p}, {g}, {m}, {v}, h); }, {"exp_avg_sq 0", "[4]", "[3]"});
  expect_error([&] { ops::adam_step_({p}, {g}, {m}, {}, h); }, {"1 params", "0 exp_avg_sqs"});
  expect_error([&] { ops::adam_step_({p}, {ops::zeros({3}, DType::Float64)}, {m}, {m}, h); }, {"grad 0", "float64"});
  expect_error([&] { ops::adam_step_({p}, {g}, {m}, {m}, ops::AdamHyper{1e-3, 0.9, 0.999, 1e-8, 0, false, 0}); },
               {"step"});
  expect_error([&] { ops::adam_step_({ops::zeros({3, 2})}, {ops::transpose(ops::zeros({2, 3}), 0, 1)}, {ops::zeros({3, 2})},
                                     {ops::zeros({3, 2})}, h); },
               {"grad 0", "not contiguous"});
}

TEST(Optimizer, StateRoundTripContinuesIdentically) {
  Tensor p = param({1, 2, 3}), q = param({1, 2, 3});
  Adam a({{"p", p}}, AdamOptions{0.01});
  Adam b({{"p", q}}, AdamOptions{0.5});
  set_grad(p, {1, -2, 3});
  a.step();
  a.step();
  b.load_state(a.state_tensors(), a.state_json());
  ops::copy_(q, p);
  EXPECT_EQ(b.step_count(), 2);
  EXPECT_DOUBLE_EQ(b.lr(), 0.01);
  set_grad(p, {0.5, 0.5, -1});
  set_grad(q, {0.5, 0.5, -1});
  a.step();
  b.step();
  EXPECT_EQ(vals(p), vals(q));  // bitwise
  // Mismatches are caught before anything changes.
  SGD s({{"p", q}}, SGDOptions{0.1, 0.9});
  expect_error([&] { s.load_state(a.state_tensors(), a.state_json()); }, {"SGD", "Adam"});
  Tensor r = param({1, 2});
  Adam c({{"p", r}}, AdamOptions{});
  expect_error([&] { c.load_state(a.state_tensors(), a.state_json()); }, {"p.exp_avg", "[3]", "[2]"});
  EXPECT_EQ(c.step_count(), 0);
}

TEST(LRSchedule, WarmupThenCosineOrLinear) {
  LRSchedule s{1.0, 10, 110, 0.0, LRDecay::Cosine};
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(9), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1.0);
  EXPECT_NEAR(s.lr_at(60), 0.5, 1e-12);           // half way: (1 + cos(pi/2)) / 2
  EXPECT_NEAR(s.lr_at(35), 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-12);
  EXPECT_NEAR(s.lr_at(110), 0.0, 1e-12);
  EXPECT_NEAR(s.lr_at(500), 0.0, 1e-12);          // stays at min after the end
  LRSchedule lin{2.0, 0, 100, 1.0, LRDecay::Linear};
  EXPECT_DOUBLE_EQ(lin.lr_at(0), 2.0);
  EXPECT_DOUBLE_EQ(lin.lr_at(50), 1.5);
  LRSchedule cst{0.3, 3, 0, 0, LRDecay::Constant};
  EXPECT_DOUBLE_EQ(cst.lr_at(1), 0.2);
  EXPECT_DOUBLE_EQ(cst.lr_at(1000), 0.3);
  Tensor p = param({1});
  SGD opt({{"p", p}}, SGDOptions{});
  s.apply(opt, 60);
  EXPECT_NEAR(opt.lr(), 0.5, 1e-12);
  expect_error([] { LRSchedule{1.0, 10, 5, 0, LRDecay::Cosine}.lr_at(20); }, {"total_steps", "warmup_steps"});
}

TEST(ClipGradNorm, GlobalNorm) {
  Tensor a = param({0, 0}), b = param({0}), c = param({0});
  set_grad(a, {3, 0});
  set_grad(b, {4});  // c has no gradient
  EXPECT_NEAR(clip_grad_norm({a, b, c}, 10.0), 5.0, 1e-6);
  expect_near(vals(a.grad()), {3, 0});  // under the limit: unchanged
  EXPECT_NEAR(clip_grad_norm({a, b, c}, 1.0), 5.0, 1e-6);
  expect_near(vals(a.grad()), {0.6, 0});
  expect_near(vals(b.grad()), {0.8});
  EXPECT_NEAR(clip_grad_norm({a, b}, 1.0), 1.0, 1e-5);
  expect_error([&] { clip_grad_norm({a}, 0); }, {"max_norm"});
}

TEST(EMA, DecayWarmsUpWithTheStepCount) {
  One m({1, 2});
  EMA ema(m, 0.999);
  ops::copy_(m.w, ops::from_vector(std::vector<float>{2, 4}, {2}));
  ema.update(0);  // d = min(0.999, 1/10) = 0.1: 0.1 [1, 2] + 0.9 [2, 4]
  expect_near(vals(ema.shadow()[0].second), {1.9, 3.8});
  ema.update(10000);  // d = min(0.999, 10001/10010) = 0.999 once warmed up
  expect_near(vals(ema.shadow()[0].second), {1.9001, 3.8002});
}

TEST(EMA, AverageSwapAndScope) {
  One m({1, 2});
  EMA ema(m, 0.9);
  ops::copy_(m.w, ops::from_vector(std::vector<float>{2, 4}, {2}));
  ema.update();  // 0.9 [1, 2] + 0.1 [2, 4]
  expect_near(vals(ema.shadow()[0].second), {1.1, 2.2});
  ema.update();  // 0.9 [1.1, 2.2] + 0.1 [2, 4]
  expect_near(vals(ema.shadow()[0].second), {1.19, 2.38});
  Tensor held = m.w;
  {
    EMAScope scope(ema);
    EXPECT_TRUE(ema.swapped());
    expect_near(vals(held), {1.19, 2.38});  // the model now evaluates with the averages
    EXPECT_TRUE(held.requires_grad());
    expect_error([&] { ema.update(); }, {"swapped"});
  }
  EXPECT_FALSE(ema.swapped());
  expect_near(vals(m.w), {2, 4});
  expect_near(vals(ema.shadow()[0].second), {1.19, 2.38});
  // State round trip.
  One m2({0, 0});
  EMA ema2(m2, 0.9);
  ema2.load_state(ema.shadow());
  expect_near(vals(ema2.shadow()[0].second), {1.19, 2.38});
  expect_error([&] { ema2.load_state({{"v", ops::zeros({2})}}); }, {"'w'", "missing"});
  expect_error([&] { EMA bad(m, 1.5); }, {"decay"});
}
