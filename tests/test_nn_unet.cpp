// The U-Net presets: parameter counts and names exactly as the PyTorch
// reference (torch_unet_reference.py), forward shapes, class conditioning,
// determinism of initialisation and argument errors.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "nn/safetensors.h"
#include "nn/unet.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;
using namespace drift::nn;

namespace {

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

std::vector<std::string> names_of(const NamedTensors& list) {
  std::vector<std::string> out;
  for (auto& [n, t] : list) out.push_back(n);
  return out;
}
}  // namespace

TEST(UNetPresets, ParameterCountsMatchTheReference) {
  EXPECT_EQ(UNet(UNetConfig::tiny()).num_parameters(), 176849);
  EXPECT_EQ(UNet(UNetConfig::mnist()).num_parameters(), 1623169);
  EXPECT_EQ(UNet(UNetConfig::cifar()).num_parameters(), 8952067);
}

TEST(UNetPresets, TinyNamesShapesAndOrderMatchTheReferenceFile) {
  // The reference's state_dict, in PyTorch's order, as exported to safetensors.
  SafetensorsContents ref = load_safetensors(std::string(DRIFT_TEST_DATA) + "/parity/tiny/weights.safetensors");
  UNet net(UNetConfig::tiny());
  NamedTensors ours = net.named_parameters();
  ASSERT_EQ(names_of(ours), names_of(ref.tensors));
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i].second.shape(), ref.tensors[i].second.shape()) << ours[i].first;
}

TEST(UNetPresets, MnistNamesMatchTheReferenceFileWhenShared) {
  std::string path = std::string(DRIFT_SHARED_DIR) + "/bench/parity/mnist/weights.safetensors";
  if (!file_exists(path)) GTEST_SKIP() << "no " << path << " (the shared folder is absent)";
  SafetensorsContents ref = load_safetensors(path);
  UNet net(UNetConfig::mnist());
  NamedTensors ours = net.named_parameters();
  ASSERT_EQ(names_of(ours), names_of(ref.tensors));
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i].second.shape(), ref.tensors[i].second.shape()) << ours[i].first;
}

TEST(UNetPresets, KnownNamesAndShapes) {
  UNet net(UNetConfig::mnist());
  NamedTensors p = net.named_parameters();
  EXPECT_EQ(p.front().first, "temb.0.weight");
  EXPECT_EQ(p.back().first, "conv_out.bias");
  EXPECT_EQ(find_tensor(p, "temb.0.weight").shape(), (Shape{128, 32}));
  EXPECT_EQ(find_tensor(p, "down.0.norm1.weight").shape(), (Shape{32}));
  EXPECT_EQ(find_tensor(p, "mid.1.qkv.weight").shape(), (Shape{192, 64, 1, 1}));
  EXPECT_EQ(find_tensor(p, "up.0.skip.weight").shape(), (Shape{64, 128, 1, 1}));
  EXPECT_FALSE(find_tensor(p, "down.0.skip.weight").defined());  // 32 -> 32: identity skip, no parameters
  EXPECT_EQ(find_tensor(p, "conv_out.weight").shape(), (Shape{1, 32, 3, 3}));
}

TEST(UNetPresets, InitialisationIsSeededAndInPyTorchBounds) {
  UNetConfig cfg = UNetConfig::tiny();
  UNet a(cfg), b(cfg);
  cfg.seed = 7;
  UNet c(cfg);
  Tensor wa = find_tensor(a.named_parameters(), "down.0.conv1.weight");
  Tensor wb = find_tensor(b.named_parameters(), "down.0.conv1.weight");
  Tensor wc = find_tensor(c.named_parameters(), "down.0.conv1.weight");
  EXPECT_EQ(ops::to_vector_f32(wa), ops::to_vector_f32(wb));
  EXPECT_NE(ops::to_vector_f32(wa), ops::to_vector_f32(wc));
  // fan_in = 16 * 3 * 3: bound 1/sqrt(144) = 1/12; a uniform sample spans most of it.
  std::vector<float> v = ops::to_vector_f32(wa);
  float lo = 1, hi = -1;
  for (float x : v) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  EXPECT_GE(lo, -1.0f / 12);
  EXPECT_LE(hi, 1.0f / 12);
  EXPECT_LT(lo, -0.9f / 12);
  EXPECT_GT(hi, 0.9f / 12);
  EXPECT_EQ(ops::to_vector_f32(find_tensor(a.named_parameters(), "down.0.norm1.weight")), std::vector<float>(16, 1.0f));
}

TEST(UNetForward, ShapesAndDeterminismInEval) {
  UNet net(UNetConfig::tiny());
  net.eval();
  Generator g(3);
  Tensor x = ops::randn({3, 1, 8, 8}, g);
  Tensor t = ops::from_vector(std::vector<int64_t>{0, 500, 999}, {3});
  NoGradGuard no_grad;
  Tensor y1 = net.forward(x, t), y2 = net.forward(x, t);
  EXPECT_EQ(y1.shape(), x.shape());
  EXPECT_EQ(ops::to_vector_f32(y1), ops::to_vector_f32(y2));
  // Float timesteps give the same result as int64 ones.
  Tensor tf = ops::from_vector(std::vector<float>{0, 500, 999}, {3});
  EXPECT_EQ(ops::to_vector_f32(net.forward(x, tf)), ops::to_vector_f32(y1));
}

TEST(UNetForward, DropoutActiveInTrainingOnly) {
  UNet net(UNetConfig::tiny());
  Generator g(4);
  Tensor x = ops::randn({2, 1, 8, 8}, g);
  Tensor t = ops::from_vector(std::vector<int64_t>{10, 20}, {2});
  NoGradGuard no_grad;
  net.train();
  uint64_t before = net.dropout_generator().offset;
  Tensor a = net.forward(x, t), b = net.forward(x, t);
  EXPECT_GT(net.dropout_generator().offset, before);  // masks were drawn
  EXPECT_NE(ops::to_vector_f32(a), ops::to_vector_f32(b));
  net.eval();
  before = net.dropout_generator().offset;
  net.forward(x, t);
  EXPECT_EQ(net.dropout_generator().offset, before);
}

TEST(UNetForward, ClassConditioningWithNullLabel) {
  UNetConfig cfg = UNetConfig::tiny();
  cfg.num_classes = 10;
  UNet net(cfg);
  net.eval();
  // One extra embedding row: index 10 is "no label".
  Tensor emb = find_tensor(net.named_parameters(), "label_emb.weight");
  ASSERT_TRUE(emb.defined());
  EXPECT_EQ(emb.shape(), (Shape{11, 64}));
  EXPECT_EQ(net.num_parameters(), 176849 + 11 * 64);
  Generator g(5);
  Tensor x = ops::randn({2, 1, 8, 8}, g);
  Tensor t = ops::from_vector(std::vector<int64_t>{100, 100}, {2});
  NoGradGuard no_grad;
  Tensor y3 = net.forward(x, t, ops::from_vector(std::vector<int64_t>{3, 3}, {2}));
  Tensor y7 = net.forward(x, t, ops::from_vector(std::vector<int64_t>{7, 7}, {2}));
  Tensor ynull = net.forward(x, t, ops::from_vector(std::vector<int64_t>{10, 10}, {2}));
  Tensor ydefault = net.forward(x, t);  // no labels = the null class
  EXPECT_NE(ops::to_vector_f32(y3), ops::to_vector_f32(y7));
  EXPECT_EQ(ops::to_vector_f32(ynull), ops::to_vector_f32(ydefault));
  expect_error([&] { net.forward(x, t, ops::from_vector(std::vector<float>{1, 2}, {2})); }, {"labels", "int64"});
}

TEST(UNetForward, MultiHeadAttention) {
  UNetConfig cfg = UNetConfig::tiny();
  cfg.attention_heads = 4;
  UNet net(cfg);
  EXPECT_EQ(net.num_parameters(), 176849);  // heads change no parameter
  net.eval();
  Generator g(6);
  Tensor x = ops::randn({2, 1, 8, 8}, g);
  Tensor t = ops::from_vector(std::vector<int64_t>{1, 2}, {2});
  NoGradGuard no_grad;
  Tensor y = net.forward(x, t);
  EXPECT_EQ(y.shape(), x.shape());
  UNet single(UNetConfig::tiny());  // same seed, same weights, one head: a different function
  single.eval();
  EXPECT_GT(ops::max_abs_diff(single.forward(x, t), y), 1e-6);
}

TEST(UNetForward, BadInputsAreReported) {
  UNet net(UNetConfig::tiny());
  Tensor t = ops::from_vector(std::vector<int64_t>{1, 2}, {2});
  expect_error([&] { net.forward(ops::zeros({2, 3, 8, 8}), t); }, {"UNet", "[2, 3, 8, 8]", "[B, 1, 8, 8]"});
  expect_error([&] { net.forward(ops::zeros({2, 1, 8, 8}), ops::zeros({3}, DType::Int64)); }, {"t", "[3]"});
  expect_error([&] { net.forward(ops::zeros({2, 1, 8, 8})); }, {"timesteps"});
  expect_error([&] { net.forward(ops::zeros({2, 1, 8, 8}), t, t); }, {"unconditional"});
  UNetConfig bad = UNetConfig::tiny();
  bad.groups = 5;
  expect_error([&] { UNet u(bad); }, {"GroupNorm", "groups"});
  expect_error([] { UNetConfig::preset("imagenet"); }, {"imagenet", "tiny"});
}

TEST(UNetConfigJson, RoundTrip) {
  UNetConfig c = UNetConfig::cifar();
  c.num_classes = 10;
  c.attention_heads = 2;
  c.seed = 42;
  UNetConfig d = UNetConfig::from_json(c.to_json());
  EXPECT_EQ(d.to_json(), c.to_json());
  EXPECT_EQ(d.channel_mult, (std::vector<int64_t>{1, 2, 2, 2}));
  expect_error([] { UNetConfig::from_json("{not json"); }, {"not valid JSON"});
  expect_error([] { UNetConfig::from_json("{\"groups\": \"eight\"}"); }, {"'groups'", "expected an integer", "eight"});
}
