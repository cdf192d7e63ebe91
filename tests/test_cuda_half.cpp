// bfloat16 on the GPU against the CPU: the same bf16 inputs through the CUDA
// backend (cuBLAS GemmEx for Matmul, tensor-core implicit GEMM for Conv2d; the
// other ops widened by dispatch) and through the CPU's float32 widening, results
// compared as float64. Tolerance: a few bf16 ulps of the result's scale
// (bf16 has 8 significant bits, ulp 2^-8 = 0.4%): both sides accumulate in
// float32 but round the result to bf16, and may round an element to
// neighbouring values. Also the U-Net under bf16 autocast, forward and
// parameter gradients. Skipped visibly without a GPU.
#include <gtest/gtest.h>

#include "tests/cuda_skip.h"
#include "tests/rel_err.h"

#include <functional>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "nn/autocast.h"
#include "nn/unet.h"
#include "tensor/backend.h"
#ifdef DRIFT_HAVE_CUDA
#include "cuda/variant.h"
#endif

using drift::testing::rel_err;
using namespace drift;

namespace {

constexpr double kBf16Tol = 2e-2;  // ~5 ulps of bf16 at the output's scale

// f on bf16 copies of `inputs` on the CPU and on CUDA; returns the relative error.
double cpu_vs_cuda(const std::vector<Tensor>& inputs, const std::function<Tensor(const std::vector<Tensor>&)>& f) {
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : inputs) {
    Tensor h = ops::to(t, DType::BFloat16);
    cpu.push_back(h);
    gpu.push_back(ops::to(h, Device::CUDA));
  }
  Tensor a = f(cpu), b = f(gpu);
  EXPECT_EQ(a.dtype(), b.dtype());
  return rel_err(ops::to(ops::to(b, Device::CPU), DType::Float32), ops::to(a, DType::Float32));
}

}  // namespace

TEST(CudaHalf, Bf16OpsMatchTheCpu) {
  REQUIRE_CUDA();
  Generator g(11);
  auto r = [&](Shape s) { return ops::randn(s, g); };
  struct Case {
    std::string name;
    std::vector<Tensor> in;
    std::function<Tensor(const std::vector<Tensor>&)> f;
  };
  std::vector<Case> cases = {
      {"matmul [4,33,70] x [4,70,19]", {r({4, 33, 70}), r({4, 70, 19})},
       [](const std::vector<Tensor>& x) { return ops::matmul(x[0], x[1]); }},
      {"matmul, transposed operand", {r({40, 24}), r({31, 24})},
       [](const std::vector<Tensor>& x) { return ops::matmul(x[0], ops::transpose(x[1], 0, 1)); }},
      {"conv2d 3x3 pad 1 [2,16,9,9] -> 24", {r({2, 16, 9, 9}), r({24, 16, 3, 3}), r({24})},
       [](const std::vector<Tensor>& x) { return ops::conv2d(x[0], x[1], x[2], 1, 1); }},
      {"conv2d stride 2", {r({2, 8, 10, 10}), r({8, 8, 3, 3}), r({8})},
       [](const std::vector<Tensor>& x) { return ops::conv2d(x[0], x[1], x[2], 2, 1); }},
      {"attention [6, 32, 49]", {r({6, 32, 49}), r({6, 32, 49}), r({6, 32, 49})},
       [](const std::vector<Tensor>& x) { return ops::attention(x[0], x[1], x[2], 1.0 / std::sqrt(32.0)); }},
      {"group_norm + silu", {r({2, 8, 5, 5}), r({8}), r({8})},
       [](const std::vector<Tensor>& x) { return ops::group_norm(x[0], 4, x[1], x[2], 1e-5, true).y; }},
      {"softmax", {r({7, 50})}, [](const std::vector<Tensor>& x) { return ops::softmax(x[0], -1); }},
      {"silu * x + 1", {r({5, 64})},
       [](const std::vector<Tensor>& x) { return ops::add(ops::mul(ops::silu(x[0]), x[0]), 1.0); }},
  };
  for (const Case& c : cases) EXPECT_LT(cpu_vs_cuda(c.in, c.f), kBf16Tol) << c.name;
}

// Conv2d on 16-bit operands: the tensor-core implicit GEMM (cuda/conv_tc.cu,
// KernelVariant::Fast) against its reference, the float32 path on widened
// operands (Naive), on shapes that are not multiples of the 64 x 64 x 32
// tiles: odd channel counts, K = 27, stride 2, 1x1, no bias.
TEST(CudaHalf, TensorCoreConvMatchesItsFloat32Reference) {
  REQUIRE_CUDA();
#ifdef DRIFT_HAVE_CUDA
  struct S { Shape x, w; int64_t stride, pad; bool bias; };
  Generator g(2);
  for (DType dt : {DType::BFloat16, DType::Float16})
    for (const S& s : {S{{2, 3, 11, 13}, {70, 3, 3, 3}, 1, 1, true}, S{{3, 16, 9, 9}, {24, 16, 3, 3}, 2, 1, true},
                       S{{2, 40, 6, 6}, {130, 40, 1, 1}, 1, 0, false}, S{{1, 64, 16, 16}, {64, 64, 3, 3}, 1, 1, true}}) {
      Tensor x = ops::to(ops::to(ops::randn(s.x, g), dt), Device::CUDA);
      Tensor w = ops::to(ops::to(ops::mul(ops::randn(s.w, g), 0.2), dt), Device::CUDA);
      Tensor b = s.bias ? ops::to(ops::to(ops::randn({s.w[0]}, g), dt), Device::CUDA) : Tensor();
      Tensor fast = ops::conv2d(x, w, b, s.stride, s.pad);
      Tensor ref;
      {
        cuda::KernelVariantGuard naive(cuda::KernelVariant::Naive);
        ref = ops::conv2d(x, w, b, s.stride, s.pad);
      }
      EXPECT_EQ(fast.dtype(), dt);
      EXPECT_LT(rel_err(ops::to(ops::to(fast, Device::CPU), DType::Float32), ops::to(ops::to(ref, Device::CPU), DType::Float32)),
                dt == DType::BFloat16 ? 1e-2 : 2e-3)
          << dtype_name(dt) << " x " << shape_str(s.x) << " w " << shape_str(s.w);
    }
#endif
}

// The U-Net under bf16 autocast (GEMMs and convolutions in bf16, the rest
// float32) on the GPU against the CPU: output and every parameter gradient.
TEST(CudaHalf, UNetUnderBf16AutocastMatchesTheCpu) {
  REQUIRE_CUDA();
  nn::UNetConfig cfg = nn::UNetConfig::tiny();
  cfg.num_classes = 3;
  cfg.dropout = 0;
  nn::UNet cpu(cfg), gpu(cfg);
  gpu.to(Device::CUDA);
  Generator g(5);
  Tensor x = ops::randn({3, 1, 8, 8}, g), t = ops::randint(0, 1000, {3}, g), y = ops::randint(0, 4, {3}, g);
  Tensor outs[2];
  nn::UNet* nets[2] = {&cpu, &gpu};
  for (int i = 0; i < 2; ++i) {
    const Device d = i ? Device::CUDA : Device::CPU;
    nn::Autocast autocast(nn::Precision::BF16);
    outs[i] = nets[i]->forward(ops::to(x, d), ops::to(t, d), ops::to(y, d));
    backward(sum(mul(outs[i], outs[i])));
  }
  EXPECT_EQ(outs[1].dtype(), DType::Float32);
  EXPECT_LT(rel_err(ops::to(outs[1], Device::CPU), outs[0]), kBf16Tol);
  auto pc = cpu.named_parameters(), pg = gpu.named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  for (size_t i = 0; i < pc.size(); ++i)
    // Gradients sum many bf16-rounded products in different orders: 10% of the largest element.
    EXPECT_LT(rel_err(ops::to(pg[i].second.grad(), Device::CPU), pc[i].second.grad()), 0.1) << pc[i].first;
}
