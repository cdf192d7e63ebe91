// CUDA graphs for sampling (nn/unet_graph.h, cuda/graph.cu): a U-Net
// evaluation replayed from a captured graph gives the eager path's result, for
// new inputs on every replay, in float32 and under bf16 autocast, and a DDIM
// run through UNetDenoiser::cuda_graphs equals the run without. Skipped
// visibly without a GPU (the CPU backend's refusal is checked everywhere).
#include <gtest/gtest.h>

#include "tests/cuda_skip.h"
#include "tests/rel_err.h"
#include "tests/test_util.h"

#include "autograd/engine.h"
#include "diffusion/samplers.h"
#include "diffusion/schedule.h"
#include "diffusion/trainer.h"
#include "nn/autocast.h"
#include "nn/unet.h"
#include "nn/unet_graph.h"
#include "tensor/backend.h"

using drift::testing::rel_err;
using namespace drift;

TEST(CudaGraphs, TheCpuBackendHasNone) {
  test::expect_error([] { capture_graph(Device::CPU, [] {}); }, {"cpu", "no graphs"});
}

namespace {
nn::UNetConfig graph_config() {
  nn::UNetConfig c = nn::UNetConfig::tiny();
  c.num_classes = 3;
  return c;
}
}  // namespace

TEST(CudaGraphs, ReplaysEqualTheEagerForward) {
  REQUIRE_CUDA();
  nn::UNet net(graph_config());
  net.to(Device::CUDA);
  net.eval();
  NoGradGuard no_grad;
  nn::UNetGraphs graphs(net);
  Generator gen(3);
  for (nn::Precision p : {nn::Precision::FP32, nn::Precision::BF16}) {
    nn::Autocast autocast(p);
    for (int call = 0; call < 4; ++call) {  // call 0 captures, 1-3 replay with new inputs
      Tensor x = ops::randn({4, 1, 8, 8}, gen, DType::Float32, Device::CUDA);
      Tensor t = ops::randint(0, 1000, {4}, gen, Device::CUDA);
      Tensor y = ops::randint(0, 4, {4}, gen, Device::CUDA);
      Tensor want = net.forward(x, t, y);
      Tensor got = graphs.forward(x, t, y);
      EXPECT_LT(rel_err(ops::to(got, Device::CPU), ops::to(want, Device::CPU)), 1e-5)
          << nn::precision_name(p) << " call " << call;
    }
  }
  EXPECT_EQ(graphs.captured(), 2);  // one graph per precision
  EXPECT_EQ(graphs.replays(), 6);
}

TEST(CudaGraphs, DdimThroughGraphsEqualsDdimWithout) {
  REQUIRE_CUDA();
  nn::UNetConfig cfg = graph_config();
  nn::UNet net(cfg);
  net.to(Device::CUDA);
  net.eval();
  const diffusion::DiscreteSchedule schedule = diffusion::DiscreteSchedule::linear();
  const Shape shape = {4, cfg.in_channels, cfg.image_size, cfg.image_size};
  diffusion::DdimOptions o;
  o.steps = 10;
  o.eta = 0.5;
  o.common.device = Device::CUDA;
  diffusion::UNetDenoiser eager(net, diffusion::Prediction::Eps), graphed(net, diffusion::Prediction::Eps);
  eager.cuda_graphs = false;
  graphed.cuda_graphs = true;
  Generator g1(7), g2(7);
  diffusion::SampleResult a = diffusion::ddim_sample(eager, schedule, shape, g1, o);
  diffusion::SampleResult b = diffusion::ddim_sample(graphed, schedule, shape, g2, o);
  ASSERT_NE(graphed.graphs(), nullptr);
  EXPECT_EQ(graphed.graphs()->replays(), o.steps - 1);  // the first evaluation captures
  EXPECT_LT(rel_err(ops::to(b.x, Device::CPU), ops::to(a.x, Device::CPU)), 1e-5);
}
