// Micro-benchmarks of the CPU elementwise and reduction kernels at U-Net-like
// sizes. Bytes processed = bytes read + bytes written, so items/s and bytes/s
// can be compared with the machine's memory bandwidth.
//   build-X/bench/bench_elementwise [--benchmark_filter=Silu]
// BM_VecMath/<fn>/<level> runs one level's float32 transcendental kernel
// (tensor/cpu/vecmath.h) directly on 64K floats (in L2), single-threaded, so
// the levels compare in one run: generic is the libm-in-double reference.
//   build-X/bench/bench_elementwise --benchmark_filter=VecMath
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "autograd/functions.h"
#include "nn/optim.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/vecmath.h"
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

// One level's kernel on 64K floats in [-8, 8]; bytes = read + written.
// Args: (VecFn, CpuIsa); kVecFns = silu backward.
constexpr int kSiluBackward = drift::cpu::kNumVecFns;
void BM_VecMath(benchmark::State& state) {
  using namespace drift::cpu;
  const int f = static_cast<int>(state.range(0));
  const auto isa = static_cast<CpuIsa>(state.range(1));
  const VecMath* t = static_cast<int>(isa) <= static_cast<int>(detected_isa()) ? vecmath(isa) : nullptr;
  if (!t) {
    state.SkipWithError((std::string("this CPU/build lacks ") + isa_name(isa)).c_str());
    return;
  }
  const int64_t n = 1 << 16;
  std::vector<float> x(n), g(n, 0.5f), y(n);
  for (int64_t i = 0; i < n; ++i) x[i] = -8.0f + 16.0f * static_cast<float>(i) / static_cast<float>(n);
  for (auto _ : state) {
    if (f == kSiluBackward) t->silu_backward(g.data(), x.data(), y.data(), n);
    else t->unary[f](x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(f == kSiluBackward ? "silu_backward" : vec_fn_name(static_cast<VecFn>(f))) + " " +
                 isa_name(isa));
  state.SetBytesProcessed(state.iterations() * n * 4 * (f == kSiluBackward ? 3 : 2));
  state.SetItemsProcessed(state.iterations() * n);
}
void vecmath_args(benchmark::internal::Benchmark* b) {
  for (int f = 0; f <= kSiluBackward; ++f)
    for (int isa = 0; isa <= 2; ++isa) b->Args({f, isa});
  b->Unit(benchmark::kMicrosecond);
}
BENCHMARK(BM_VecMath)->Apply(vecmath_args);

// GroupNorm (32 groups) followed by SiLU, fused (arg 1) or as the two ops
// (arg 0), forward + backward through autograd, at U-Net activation sizes.
void BM_GroupNormSilu(benchmark::State& state) {
  const bool fused = state.range(0) != 0;
  const Shape s = {state.range(1), state.range(2), state.range(3), state.range(3)};
  Tensor x = input(s);
  x.set_requires_grad(true);
  Tensor w = ops::ones({s[1]}), b = ops::zeros({s[1]});
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor g = input(s);
  for (auto _ : state) {
    Tensor y = fused ? group_norm_silu(x, 32, w, b) : silu(group_norm(x, 32, w, b));
    backward(y, g);
    benchmark::DoNotOptimize(x.grad());
    x.set_grad(Tensor());
    w.set_grad(Tensor());
    b.set_grad(Tensor());
  }
  state.SetLabel(fused ? "fused" : "group_norm then silu");
  state.SetItemsProcessed(state.iterations() * shape_numel(s));
}
BENCHMARK(BM_GroupNormSilu)
    ->Args({0, 16, 128, 32})->Args({1, 16, 128, 32})->Args({0, 16, 256, 16})->Args({1, 16, 256, 16})
    ->Unit(benchmark::kMicrosecond)->UseRealTime();

// One Adam step over the cifar U-Net's parameter sizes (8.9M floats in 40
// tensors here), fused (arg 1) or as separate tensor ops (arg 0).
void BM_AdamStep(benchmark::State& state) {
  nn::NamedTensors params;
  Generator gen(4);
  for (int k = 0; k < 40; ++k) {
    Tensor p = ops::randn({k % 4 == 3 ? 256 : 221184}, gen);  // conv weights and biases
    p.set_requires_grad(true);
    p.set_grad(ops::randn(p.shape(), gen));
    params.emplace_back("p" + std::to_string(k), p);
  }
  nn::AdamOptions o;
  o.fused = state.range(0) != 0;
  nn::Adam opt(params, o);
  int64_t n = 0;
  for (auto& [name, p] : params) n += p.numel();
  for (auto _ : state) opt.step();
  state.SetLabel(o.fused ? "fused" : "unfused formula");
  state.SetBytesProcessed(state.iterations() * n * 4 * 7);  // read p, g, m, v; write p, m, v
}
BENCHMARK(BM_AdamStep)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Dispatch overhead: a tiny op.
void BM_AddTiny(benchmark::State& state) {
  Tensor a = input({4}), b = input({4});
  for (auto _ : state) benchmark::DoNotOptimize(ops::add(a, b));
}
BENCHMARK(BM_AddTiny);
}  // namespace

BENCHMARK_MAIN();
