// Micro-benchmarks of the CUDA kernels (Google Benchmark), naive vs fast
// variants side by side (cuda/variant.h):
//   conv2d 64 -> 64 3x3 pad 1 at 28x28, batch 64: forward, backward input,
//   backward weight (GFLOP/s; forward = 2*N*Cout*H*W*Cin*9, as bench_ops.cpp);
//   softmax over rows of 1024 (attention-like), group norm forward + backward
//   on [64, 128, 32, 32] (GB/s of the minimal traffic); sgemm 2048^3 via matmul.
// Every iteration ends with a device synchronize, so times are wall times of
// finished kernels. Without a GPU each benchmark reports "no CUDA device".
// Run: build/bench/bench_cuda [--benchmark_filter=Conv]
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "tensor/backend.h"
#include "tensor/ops.h"
#ifdef DRIFT_HAVE_CUDA
#include "cuda/variant.h"
#endif

using namespace drift;

namespace {

bool have_cuda(benchmark::State& state) {
  if (backend_available(Device::CUDA)) return true;
  state.SkipWithError("no CUDA device (or drift built without CUDA)");
  return false;
}

Tensor random_gpu(const Shape& shape, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = d(gen);
  return ops::from_vector(v, shape, Device::CUDA);
}

void set_rate(benchmark::State& state, const char* name, double per_iteration) {
  state.counters[name] =
      benchmark::Counter(per_iteration * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// range(0): 0 = fast, 1 = naive.
struct VariantScope {
#ifdef DRIFT_HAVE_CUDA
  explicit VariantScope(int64_t naive)
      : guard(naive ? cuda::KernelVariant::Naive : cuda::KernelVariant::Fast) {}
  cuda::KernelVariantGuard guard;
#else
  explicit VariantScope(int64_t) {}
#endif
};

// ---------------------------------------------------------------- conv2d
constexpr int64_t kN = 64, kC = 64, kHW = 28;
double conv_flops() { return 2.0 * kN * kC * kHW * kHW * kC * 9; }

void BM_Conv2dForward(benchmark::State& state) {
  if (!have_cuda(state)) return;
  VariantScope v(state.range(0));
  Tensor x = random_gpu({kN, kC, kHW, kHW}, 1), w = random_gpu({kC, kC, 3, 3}, 2), b = random_gpu({kC}, 3);
  for (auto _ : state) {
    Tensor y = ops::conv2d(x, w, b, 1, 1);
    ops::synchronize(Device::CUDA);
  }
  set_rate(state, "GFLOP/s", conv_flops());
}

void BM_Conv2dBackwardInput(benchmark::State& state) {
  if (!have_cuda(state)) return;
  VariantScope v(state.range(0));
  Tensor gy = random_gpu({kN, kC, kHW, kHW}, 4), w = random_gpu({kC, kC, 3, 3}, 5);
  for (auto _ : state) {
    Tensor gx = ops::conv2d_backward_input(gy, w, {kN, kC, kHW, kHW}, 1, 1);
    ops::synchronize(Device::CUDA);
  }
  set_rate(state, "GFLOP/s", conv_flops());
}

void BM_Conv2dBackwardWeight(benchmark::State& state) {
  if (!have_cuda(state)) return;
  VariantScope v(state.range(0));
  Tensor gy = random_gpu({kN, kC, kHW, kHW}, 6), x = random_gpu({kN, kC, kHW, kHW}, 7);
  for (auto _ : state) {
    Tensor gw = ops::conv2d_backward_weight(gy, x, {kC, kC, 3, 3}, 1, 1);
    ops::synchronize(Device::CUDA);
  }
  set_rate(state, "GFLOP/s", conv_flops());
}

// ---------------------------------------------------------------- softmax, group norm
void BM_Softmax(benchmark::State& state) {
  if (!have_cuda(state)) return;
  VariantScope v(state.range(0));
  Tensor x = random_gpu({16384, 1024}, 8);
  for (auto _ : state) {
    Tensor y = ops::softmax(x, -1);
    ops::synchronize(Device::CUDA);
  }
  set_rate(state, "GB/s", 2.0 * static_cast<double>(x.numel()) * 4);
}

void BM_GroupNormForwardBackward(benchmark::State& state) {
  if (!have_cuda(state)) return;
  VariantScope v(state.range(0));
  Tensor x = random_gpu({64, 128, 32, 32}, 9), gy = random_gpu({64, 128, 32, 32}, 10);
  Tensor w = random_gpu({128}, 11), b = random_gpu({128}, 12);
  for (auto _ : state) {
    ops::NormResult r = ops::group_norm(x, 32, w, b, 1e-5);
    ops::NormGrads g = ops::group_norm_backward(gy, x, r.mean, r.rstd, w, 32);
    ops::synchronize(Device::CUDA);
  }
  // forward reads x, writes y; backward reads gy and x, writes dx
  set_rate(state, "GB/s", 5.0 * static_cast<double>(x.numel()) * 4);
}

// ---------------------------------------------------------------- matmul
void BM_Matmul(benchmark::State& state) {
  if (!have_cuda(state)) return;
  const int64_t n = state.range(0);
  Tensor a = random_gpu({n, n}, 13), b = random_gpu({n, n}, 14);
  for (auto _ : state) {
    Tensor c = ops::matmul(a, b);
    ops::synchronize(Device::CUDA);
  }
  set_rate(state, "GFLOP/s", 2.0 * n * n * n);
}

}  // namespace

BENCHMARK(BM_Conv2dForward)->ArgName("naive")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dBackwardInput)->ArgName("naive")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dBackwardWeight)->ArgName("naive")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Softmax)->ArgName("naive")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GroupNormForwardBackward)->ArgName("naive")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Matmul)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
