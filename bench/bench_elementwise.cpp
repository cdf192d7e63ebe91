// Micro-benchmarks of the CPU elementwise and reduction kernels at U-Net-like
// sizes. Bytes processed = bytes read + bytes written, so items/s and bytes/s
// can be compared with the machine's memory bandwidth.
//   build-X/bench/bench_elementwise [--benchmark_filter=Silu]
#include <benchmark/benchmark.h>

#include "tensor/ops.h"

using namespace drift;

namespace {
Shape nchw(const benchmark::State& state) {
  return {state.range(0), state.range(1), state.range(2), state.range(2)};
}
Tensor input(const Shape& shape) {
  Generator g(1);
  return ops::randn(shape, g);
}
void args(benchmark::internal::Benchmark* b) {
  b->Args({8, 64, 32})->Args({64, 64, 28})->Args({16, 128, 16})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void BM_Add(benchmark::State& state) {
  Tensor a = input(nchw(state)), b = input(nchw(state));
  for (auto _ : state) benchmark::DoNotOptimize(ops::add(a, b));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4 * 3);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_Add)->Apply(args);

// x [N, C, H, W] * scale [N, C, 1, 1]  (the FiLM / time-embedding pattern)
void BM_MulBroadcast(benchmark::State& state) {
  Shape s = nchw(state);
  Tensor a = input(s), b = input({s[0], s[1], 1, 1});
  for (auto _ : state) benchmark::DoNotOptimize(ops::mul(a, b));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4 * 2);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_MulBroadcast)->Apply(args);

// x [N, C, H, W] + bias [C, 1, 1]
void BM_AddBias(benchmark::State& state) {
  Shape s = nchw(state);
  Tensor a = input(s), b = input({s[1], 1, 1});
  for (auto _ : state) benchmark::DoNotOptimize(ops::add(a, b));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4 * 2);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_AddBias)->Apply(args);

void BM_Silu(benchmark::State& state) {
  Tensor a = input(nchw(state));
  for (auto _ : state) benchmark::DoNotOptimize(ops::silu(a));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4 * 2);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_Silu)->Apply(args);

// The fused silu backward: dx = g s (1 + x (1 - s)), reads g and x, writes dx.
void BM_SiluBackward(benchmark::State& state) {
  Tensor g = input(nchw(state)), x = input(nchw(state));
  for (auto _ : state) benchmark::DoNotOptimize(ops::silu_backward(g, x));
  state.SetBytesProcessed(state.iterations() * x.numel() * 4 * 3);
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_SiluBackward)->Apply(args);

// Dropout's mask: u ~ U[0, 1) (Philox), then u >= p.
void BM_RandUniform(benchmark::State& state) {
  Generator gen(2);
  const Shape s = nchw(state);
  for (auto _ : state) benchmark::DoNotOptimize(ops::rand(s, gen));
  state.SetBytesProcessed(state.iterations() * shape_numel(s) * 4);
  state.SetItemsProcessed(state.iterations() * shape_numel(s));
}
BENCHMARK(BM_RandUniform)->Apply(args);

void BM_GeScalar(benchmark::State& state) {
  Tensor x = input(nchw(state));
  Tensor p = ops::full({}, 0.1);
  for (auto _ : state) benchmark::DoNotOptimize(ops::ge(x, p));
  state.SetBytesProcessed(state.iterations() * x.numel() * 4 * 2);
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_GeScalar)->Apply(args);

void BM_Gelu(benchmark::State& state) {
  Tensor a = input(nchw(state));
  for (auto _ : state) benchmark::DoNotOptimize(ops::gelu(a));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4 * 2);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_Gelu)->Apply(args);

// Copy of a permuted (NCHW -> NHWC) view: the strided path.
void BM_ContiguousPermuted(benchmark::State& state) {
  Tensor a = input(nchw(state));
  Tensor p = ops::permute(a, {0, 2, 3, 1});
  for (auto _ : state) benchmark::DoNotOptimize(ops::contiguous(p));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4 * 2);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_ContiguousPermuted)->Apply(args);

void BM_SumLastDim(benchmark::State& state) {
  Tensor a = input(nchw(state));
  for (auto _ : state) benchmark::DoNotOptimize(ops::sum(a, {3}));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_SumLastDim)->Apply(args);

// The bias-gradient reduction: NCHW over (0, 2, 3).
void BM_SumDims023(benchmark::State& state) {
  Tensor a = input(nchw(state));
  for (auto _ : state) benchmark::DoNotOptimize(ops::sum(a, {0, 2, 3}));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_SumDims023)->Apply(args);

void BM_SumAll(benchmark::State& state) {
  Tensor a = input(nchw(state));
  for (auto _ : state) benchmark::DoNotOptimize(ops::sum(a));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_SumAll)->Apply(args);

// The linear-layer bias gradient: [tokens, features] summed over dim 0.
void BM_SumDim0(benchmark::State& state) {
  Tensor a = input({state.range(0), state.range(1)});
  for (auto _ : state) benchmark::DoNotOptimize(ops::sum(a, {0}));
  state.SetBytesProcessed(state.iterations() * a.numel() * 4);
  state.SetItemsProcessed(state.iterations() * a.numel());
}
BENCHMARK(BM_SumDim0)->Args({16384, 256})->Args({4096, 64})->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Randn(benchmark::State& state) {
  Generator g(3);
  Shape s = nchw(state);
  for (auto _ : state) benchmark::DoNotOptimize(ops::randn(s, g));
  state.SetBytesProcessed(state.iterations() * shape_numel(s) * 4);
  state.SetItemsProcessed(state.iterations() * shape_numel(s));
}
BENCHMARK(BM_Randn)->Apply(args);

// Dispatch overhead: a tiny op.
void BM_AddTiny(benchmark::State& state) {
  Tensor a = input({4}), b = input({4});
  for (auto _ : state) benchmark::DoNotOptimize(ops::add(a, b));
}
BENCHMARK(BM_AddTiny);
}  // namespace

BENCHMARK_MAIN();
