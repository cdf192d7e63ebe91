// The whole stack on the GPU: the tiny U-Net of the PyTorch parity test
// (tests/data/parity/tiny), moved to CUDA, reproduces PyTorch's output, loss,
// input gradient and every parameter gradient with the tolerance of
// test_parity_unet.cpp; and SGD-with-momentum training steps on CUDA follow
// the same trajectory as on the CPU (SGD rather than Adam: Adam's first steps
// normalise every gradient, so gradients that are zero in exact arithmetic,
// like a conv bias followed by GroupNorm, would turn rounding noise into full
// steps of either sign). Skipped visibly without a GPU.
#include <gtest/gtest.h>

#include "tests/cuda_skip.h"
#include "tests/rel_err.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "nn/optim.h"
#include "nn/safetensors.h"
#include "nn/unet.h"
#include "tensor/backend.h"

using drift::testing::rel_err;

using namespace drift;
using namespace drift::nn;

namespace {

constexpr Device kCuda = Device::CUDA;
constexpr double kTensorTol = 1e-4;  // as tests/test_parity_unet.cpp (see there)
constexpr double kLossTol = 1e-5;

// tests/data, or $DRIFT_TEST_DATA when the tree was moved (e.g. to a GPU box).
std::string test_data() {
  const char* env = std::getenv("DRIFT_TEST_DATA");
  return env ? std::string(env) : std::string(DRIFT_TEST_DATA);
}

}  // namespace

TEST(CudaUNet, TinyMatchesPyTorchOnTheGpu) {
  REQUIRE_CUDA();
  const std::string dir = test_data() + "/parity/tiny";
  ASSERT_TRUE(std::ifstream(dir + "/weights.safetensors").good()) << "missing " << dir;
  UNet net(UNetConfig::tiny());
  load_module(net, dir + "/weights.safetensors");
  net.eval();
  net.to(kCuda);
  SafetensorsContents io = load_safetensors(dir + "/io.safetensors");
  SafetensorsContents grads = load_safetensors(dir + "/grads.safetensors");

  Tensor x = ops::to(find_tensor(io.tensors, "x"), kCuda);
  x.set_requires_grad(true);
  Tensor t = ops::to(find_tensor(io.tensors, "t"), kCuda);
  Tensor eps = ops::to(find_tensor(io.tensors, "eps"), kCuda);
  Tensor out = net.forward(x, t);
  EXPECT_EQ(out.device(), kCuda);
  Tensor loss = mse_loss(out, eps);
  backward(loss);

  EXPECT_LE(rel_err(out, find_tensor(io.tensors, "out")), kTensorTol) << "out";
  double ref_loss = ops::to_vector_f64(find_tensor(io.tensors, "loss"))[0];
  EXPECT_LE(std::abs(ops::item(loss) - ref_loss) / std::abs(ref_loss), kLossTol) << "loss";
  ASSERT_TRUE(x.grad().defined());
  EXPECT_LE(rel_err(x.grad(), find_tensor(io.tensors, "grad.x")), kTensorTol) << "grad.x";
  size_t checked = 0;
  for (auto& [name, p] : net.named_parameters()) {
    EXPECT_EQ(p.device(), kCuda) << name;
    ASSERT_TRUE(p.grad().defined()) << "no gradient reached " << name;
    EXPECT_LE(rel_err(p.grad(), find_tensor(grads.tensors, name)), kTensorTol) << "gradient of " << name;
    ++checked;
  }
  EXPECT_EQ(checked, grads.tensors.size());
}

TEST(CudaUNet, SgdStepsFollowTheCpuTrajectory) {
  REQUIRE_CUDA();
  const std::string dir = test_data() + "/parity/tiny";
  ASSERT_TRUE(std::ifstream(dir + "/weights.safetensors").good()) << "missing " << dir;
  SafetensorsContents io = load_safetensors(dir + "/io.safetensors");
  Tensor x = find_tensor(io.tensors, "x"), t = find_tensor(io.tensors, "t"), eps = find_tensor(io.tensors, "eps");

  // Three training steps from the same weights on each device.
  auto train = [&](Device device) {
    auto net = std::make_unique<UNet>(UNetConfig::tiny());
    load_module(*net, dir + "/weights.safetensors");
    net->eval();  // no dropout: the two runs must see the same function
    net->to(device);
    SGD opt(net->named_parameters(), SGDOptions{0.05, 0.9, 0, false});
    std::vector<double> losses;
    for (int step = 0; step < 3; ++step) {
      net->zero_grad();
      Tensor loss = mse_loss(net->forward(ops::to(x, device), ops::to(t, device)), ops::to(eps, device));
      backward(loss);
      opt.step();
      losses.push_back(ops::item(loss));
    }
    return std::make_pair(std::move(net), losses);
  };
  auto [cpu_net, cpu_losses] = train(Device::CPU);
  auto [gpu_net, gpu_losses] = train(kCuda);
  for (size_t i = 0; i < cpu_losses.size(); ++i)
    EXPECT_NEAR(gpu_losses[i], cpu_losses[i], 1e-4 * std::abs(cpu_losses[i])) << "loss at step " << i;
  NamedTensors cp = cpu_net->named_parameters(), gp = gpu_net->named_parameters();
  ASSERT_EQ(cp.size(), gp.size());
  for (size_t i = 0; i < cp.size(); ++i) {
    EXPECT_EQ(gp[i].second.device(), kCuda);
    double worst = 0;
    std::vector<double> a = ops::to_vector_f64(cp[i].second), b = ops::to_vector_f64(gp[i].second);
    for (size_t j = 0; j < a.size(); ++j) worst = std::max(worst, std::abs(a[j] - b[j]) / (1.0 + std::abs(a[j])));
    EXPECT_LE(worst, 1e-5) << cp[i].first;
  }
}
