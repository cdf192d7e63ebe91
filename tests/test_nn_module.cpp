// Module: hierarchical names, train/eval, zero_grad, to(Device), state_dict
// round trips and the checks of load_state_dict; the basic layers against
// hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "nn/unet.h"
#include "tensor/backend.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;
using namespace drift::nn;

namespace {

// A small two-level module: block.{lin, norm}, head.
struct Block : Module {
  std::shared_ptr<Linear> lin;
  std::shared_ptr<Dropout> drop;
  Block(Generator& g) : Module("Block") {
    lin = register_module("lin", std::make_shared<Linear>(3, 4, g));
    drop = register_module("drop", std::make_shared<Dropout>(0.5, nullptr));
  }
};
struct Net : Module {
  std::shared_ptr<Block> block;
  std::shared_ptr<Sequential> head;
  Tensor scale;
  Net(Generator& g) : Module("Net") {
    scale = register_parameter("scale", ops::ones({1}));
    block = register_module("block", std::make_shared<Block>(g));
    head = register_module("head", std::make_shared<Sequential>());
    head->append(std::make_shared<SiLU>());
    head->append(std::make_shared<Linear>(4, 2, g, false));
  }
};
std::vector<std::string> names(const NamedTensors& l) {
  std::vector<std::string> out;
  for (auto& [n, t] : l) out.push_back(n);
  return out;
}
}  // namespace

TEST(Module, HierarchicalNames) {
  Generator g(1);
  Net net(g);
  EXPECT_EQ(names(net.named_parameters()),
            (std::vector<std::string>{"scale", "block.lin.weight", "block.lin.bias", "head.1.weight"}));
  EXPECT_EQ(net.num_parameters(), 1 + 12 + 4 + 8);
  for (const Tensor& p : net.parameters()) EXPECT_TRUE(p.requires_grad());
  std::vector<std::string> mods;
  for (auto& [n, m] : net.named_modules()) mods.push_back(n + ":" + m->type_name());
  EXPECT_EQ(mods, (std::vector<std::string>{":Net", "block:Block", "block.lin:Linear", "block.drop:Dropout",
                                            "head:Sequential", "head.0:SiLU", "head.1:Linear"}));
}

TEST(Module, TrainEvalIsRecursive) {
  Generator g(1);
  Net net(g);
  EXPECT_TRUE(net.block->drop->is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.block->drop->is_training());
  Tensor x = ops::ones({2, 4});
  EXPECT_EQ(net.block->drop->forward(x).impl_ptr(), x.impl_ptr());  // identity in eval
  net.train();
  EXPECT_TRUE(net.head->at(1)->is_training());
}

TEST(Module, ZeroGradClearsGradients) {
  Generator g(1);
  Net net(g);
  Tensor x = ops::ones({2, 3});
  Tensor y = sum(net.head->forward(net.block->lin->forward(x)));
  backward(y);
  EXPECT_TRUE(net.block->lin->weight.grad().defined());
  net.zero_grad();
  for (const Tensor& p : net.parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Module, StateDictRoundTrip) {
  UNet a(UNetConfig::tiny());
  UNetConfig other = UNetConfig::tiny();
  other.seed = 99;
  UNet b(other);
  NamedTensors sa = a.state_dict();
  ASSERT_GT(ops::max_abs_diff(find_tensor(sa, "mid.1.qkv.weight"), find_tensor(b.state_dict(), "mid.1.qkv.weight")),
            0);
  // Handles held before the load (as an optimizer does) see the new values.
  Tensor held = b.named_parameters()[5].second;
  b.load_state_dict(sa);
  for (auto& [n, t] : b.state_dict()) EXPECT_EQ(ops::max_abs_diff(t, find_tensor(sa, n)), 0) << n;
  EXPECT_EQ(ops::max_abs_diff(held, sa[5].second), 0);
  // A load copies: changing the source later does not change the model.
  Tensor src = sa[0].second;
  ops::fill_(src, 3.0);
  EXPECT_NE(ops::to_vector_f32(b.state_dict()[0].second)[0], 3.0f);
}

TEST(Module, LoadStateDictChecksEverythingFirst) {
  UNet net(UNetConfig::tiny());
  NamedTensors good = net.state_dict();
  NamedTensors copy;
  for (auto& [n, t] : good) copy.emplace_back(n, ops::clone(t));
  const std::vector<float> before = ops::to_vector_f32(good[0].second);

  // Wrong shape: names the tensor and both shapes; nothing is loaded (the first tensor, which would come first,
  // keeps its value).
  NamedTensors bad_shape = copy;
  bad_shape[0].second = ops::full_like(bad_shape[0].second, 5.0);
  for (auto& [n, t] : bad_shape)
    if (n == "mid.1.qkv.weight") t = ops::zeros({96, 32, 1, 2});
  expect_error([&] { net.load_state_dict(bad_shape); }, {"mid.1.qkv.weight", "[96, 32, 1, 1]", "[96, 32, 1, 2]"});
  EXPECT_EQ(ops::to_vector_f32(good[0].second), before);

  NamedTensors bad_dtype = copy;
  bad_dtype[3].second = ops::to(bad_dtype[3].second, DType::Float64);
  expect_error([&] { net.load_state_dict(bad_dtype); }, {bad_dtype[3].first, "float32", "float64"});

  NamedTensors missing(copy.begin() + 1, copy.end());
  expect_error([&] { net.load_state_dict(missing); }, {"missing", "temb.0.weight"});
  net.load_state_dict(missing, /*strict=*/false);  // non-strict: loads what is there

  NamedTensors extra = copy;
  extra.emplace_back("down.9.conv1.weight", ops::zeros({1}));
  expect_error([&] { net.load_state_dict(extra); }, {"unexpected", "down.9.conv1.weight"});
  net.load_state_dict(extra, /*strict=*/false);
}

TEST(Module, ToDeviceKeepsHandles) {
  Generator g(1);
  Net net(g);
  Tensor held = net.block->lin->weight;
  net.to(Device::CPU);  // no-op on the CPU
  EXPECT_TRUE(held.is_same(net.block->lin->weight));
  if (!backend_available(Device::CUDA)) GTEST_SKIP() << "no CUDA device: to(CUDA) not exercised";
  std::vector<float> v = ops::to_vector_f32(held);
  net.to(Device::CUDA);
  EXPECT_EQ(held.device(), Device::CUDA);  // the same handle now points at device memory
  EXPECT_TRUE(held.requires_grad());
  EXPECT_EQ(ops::to_vector_f32(held), v);
  net.to(Device::CPU);
  EXPECT_EQ(held.device(), Device::CPU);
}

TEST(Layers, LinearAndConvMatchHandComputation) {
  Generator g(0);
  Linear lin(2, 2, g);
  ops::copy_(lin.weight, ops::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}));
  ops::copy_(lin.bias, ops::from_vector(std::vector<float>{0.5, -1}, {2}));
  Tensor y = lin.forward(ops::from_vector(std::vector<float>{1, 1, 2, 0}, {2, 2}));
  EXPECT_EQ(ops::to_vector_f32(y), (std::vector<float>{3.5, 6, 2.5, 5}));  // x W^T + b
  expect_error([&] { lin.forward(ops::zeros({2, 3})); }, {"Linear", "[2, 3]"});

  Conv2d conv(1, 1, 3, g, 1, 1);
  ops::fill_(conv.weight, 1.0);
  ops::fill_(conv.bias, 0.0);
  Tensor c = conv.forward(ops::ones({1, 1, 3, 3}));
  // 3x3 box sum with zero padding: corners see 4 ones, edges 6, the centre 9.
  EXPECT_EQ(ops::to_vector_f32(c), (std::vector<float>{4, 6, 4, 6, 9, 6, 4, 6, 4}));
  Downsample down(1, g);
  EXPECT_EQ(down.forward(ops::ones({1, 1, 8, 8})).shape(), (Shape{1, 1, 4, 4}));
  Upsample up(1, g);
  EXPECT_EQ(up.forward(ops::ones({1, 1, 4, 4})).shape(), (Shape{1, 1, 8, 8}));
}

TEST(Layers, DropoutUsesItsGenerator) {
  auto gen = std::make_shared<Generator>(11);
  Dropout d(0.5, gen);
  Tensor x = ops::ones({1000});
  Tensor y = d.forward(x);
  std::vector<float> v = ops::to_vector_f32(y);
  int zeros = 0;
  for (float f : v) {
    EXPECT_TRUE(f == 0.0f || f == 2.0f);  // inverted dropout: kept values scaled by 1/(1-p)
    zeros += f == 0.0f;
  }
  EXPECT_GT(zeros, 400);
  EXPECT_LT(zeros, 600);
  // The same generator state gives the same mask.
  auto gen2 = std::make_shared<Generator>(11);
  Dropout d2(0.5, gen2);
  EXPECT_EQ(ops::to_vector_f32(d2.forward(x)), v);
  expect_error([] { Dropout bad(1.0, nullptr); }, {"Dropout", "[0, 1)"});
}

TEST(Layers, TimestepEmbeddingFormula) {
  Tensor t = ops::from_vector(std::vector<int64_t>{0, 3}, {2});
  Tensor e = timestep_embedding(t, 8);
  ASSERT_EQ(e.shape(), (Shape{2, 8}));
  std::vector<float> v = ops::to_vector_f32(e);
  for (int i = 0; i < 4; ++i) {
    double f = std::exp(-std::log(10000.0) * i / 3.0);  // half - 1 = 3
    EXPECT_FLOAT_EQ(v[i], 0.0f);                        // sin(0)
    EXPECT_FLOAT_EQ(v[4 + i], 1.0f);                    // cos(0)
    EXPECT_NEAR(v[8 + i], std::sin(3 * f), 1e-6);
    EXPECT_NEAR(v[12 + i], std::cos(3 * f), 1e-6);
  }
  expect_error([] { timestep_embedding(ops::zeros({2, 1}), 8); }, {"timestep_embedding", "[2, 1]"});
}

TEST(Layers, AttentionOfConstantInputIsResidualPlusProjection) {
  // With every position equal, softmax weights are uniform and out = v at each
  // position; GroupNorm of a constant is 0, so q = k = v = qkv.bias.
  Generator g(2);
  AttnBlock attn(4, 2, g);
  Tensor x = ops::full({1, 4, 2, 2}, 0.5);
  Tensor y = attn.forward(x);
  std::vector<float> bqkv = ops::to_vector_f32(attn.qkv->bias);
  std::vector<float> w = ops::to_vector_f32(attn.proj->weight), b = ops::to_vector_f32(attn.proj->bias);
  std::vector<float> out = ops::to_vector_f32(y);
  for (int o = 0; o < 4; ++o) {
    double expect = 0.5 + b[o];
    for (int c = 0; c < 4; ++c) expect += w[o * 4 + c] * bqkv[8 + c];  // proj(v), v = bias rows 8..11
    for (int p = 0; p < 4; ++p) EXPECT_NEAR(out[o * 4 + p], expect, 1e-5);
  }
}
