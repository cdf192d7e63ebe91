// Micro-benchmarks of the heavy CPU ops (Google Benchmark):
//   matmul through drift and a raw cblas_sgemm side by side (GFLOP/s),
//   conv2d 64 -> 64 3x3 pad 1 at 28x28 and 14x14, batch 64, forward and
//   forward + backward (GFLOP/s, same conventions as
//   ../shared/bench/torch_gemm_peak.py: forward = 2*N*Cout*H*W*Cin*9, fwd+bwd = 3x),
//   group norm forward / backward (GB/s of the minimal traffic).
// Run: OMP_NUM_THREADS=2 build/bench/bench_ops [--benchmark_filter=Conv]
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <random>
#include <vector>

#include "tensor/cpu/blas.h"
#include "tensor/ops.h"

using namespace drift;

namespace {

Tensor random_tensor(const Shape& shape, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = d(gen);
  return ops::from_vector(v, shape);
}

void set_rate(benchmark::State& state, const char* name, double per_iteration) {
  state.counters[name] =
      benchmark::Counter(per_iteration * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// ---------------------------------------------------------------- matmul
void BM_Matmul(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = random_tensor({n, n}, 1), b = random_tensor({n, n}, 2);
  for (auto _ : state) {
    Tensor c = ops::matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * double(n) * double(n) * double(n));
}

void BM_CblasSgemm(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Tensor a = random_tensor({n, n}, 1), b = random_tensor({n, n}, 2), c = ops::empty({n, n});
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data<float>(), n, b.data<float>(), n,
                0.f, c.data<float>(), n);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * double(n) * double(n) * double(n));
}

// The conv-shaped GEMM of a 64 -> 64 3x3 layer on one 28x28 image,
// W[64, 576] @ cols[576, 784]: OpenBLAS vs drift's AVX-512 sgemm, one thread
// each (the conv kernels run one such GEMM per thread).
void BM_ConvGemmOpenBlas(benchmark::State& state) {
  const int M = 64, N = 784, K = 576;
  Tensor a = random_tensor({M, K}, 1), b = random_tensor({K, N}, 2), c = ops::empty({M, N});
  for (auto _ : state) {
    cpu::gemm<float>(false, false, M, N, K, 1.f, a.data<float>(), K, b.data<float>(), N, 0.f, c.data<float>(), N);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * M * N * K);
}

void BM_ConvGemmDrift(benchmark::State& state) {
  const int M = 64, N = 784, K = 576;
  Tensor a = random_tensor({M, K}, 1), b = random_tensor({K, N}, 2), c = ops::empty({M, N});
  for (auto _ : state) {
    cpu::fast_sgemm(false, false, M, N, K, a.data<float>(), K, b.data<float>(), N, false, c.data<float>(), N);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * M * N * K);
}

void BM_MatmulTransposedB(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = random_tensor({n, n}, 1), b = ops::transpose(random_tensor({n, n}, 2), 0, 1);
  for (auto _ : state) {
    Tensor c = ops::matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * double(n) * double(n) * double(n));
}

// Attention-shaped batched products: [B, T, d] @ [B, d, T].
void BM_MatmulBatched(benchmark::State& state) {
  const int64_t B = state.range(0), T = state.range(1), d = 32;
  Tensor a = random_tensor({B, T, d}, 1), b = random_tensor({B, d, T}, 2);
  for (auto _ : state) {
    Tensor c = ops::matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * double(B) * double(T) * double(T) * double(d));
}

// The U-Net's attention products at 16x16 (cifar preset, batch 16, 128 channels):
// [16, 256, 128] @ [16, 128, 256]. drift's matmul (AVX-512 GEMM, batch entries
// over the threads) against the reference path: one threaded OpenBLAS call per entry.
void BM_MatmulAttention(benchmark::State& state) {
  Tensor a = random_tensor({16, 256, 128}, 1), b = random_tensor({16, 128, 256}, 2);
  for (auto _ : state) {
    Tensor c = ops::matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * 16 * 256 * 256 * 128);
}

void BM_MatmulAttentionOpenBlas(benchmark::State& state) {
  Tensor a = random_tensor({16, 256, 128}, 1), b = random_tensor({16, 128, 256}, 2), c = ops::empty({16, 256, 256});
  for (auto _ : state) {
    for (int64_t i = 0; i < 16; ++i)
      cpu::gemm<float>(false, false, 256, 256, 128, 1.f, a.data<float>() + i * 256 * 128, 128,
                       b.data<float>() + i * 128 * 256, 256, 0.f, c.data<float>() + i * 256 * 256, 256);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * 16 * 256 * 256 * 128);
}

// A linear layer on a batch of time embeddings: [16, 256] @ W^T, W [128, 256].
void BM_MatmulLinear(benchmark::State& state) {
  Tensor x = random_tensor({16, 256}, 1), w = random_tensor({128, 256}, 2);
  for (auto _ : state) {
    Tensor c = ops::matmul(x, ops::transpose(w, 0, 1));
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * 16 * 256 * 128);
}

void BM_MatmulLinearOpenBlas(benchmark::State& state) {
  Tensor x = random_tensor({16, 256}, 1), w = random_tensor({128, 256}, 2), c = ops::empty({16, 128});
  for (auto _ : state) {
    cpu::gemm<float>(false, true, 16, 128, 256, 1.f, x.data<float>(), 256, w.data<float>(), 256, 0.f,
                     c.data<float>(), 128);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * 16 * 256 * 128);
}

// ---------------------------------------------------------------- conv2d
constexpr int64_t kConvBatch = 64, kConvC = 64;

double conv_flop(int64_t hw) { return 2.0 * kConvBatch * kConvC * hw * hw * kConvC * 9; }

void BM_Conv2dForward(benchmark::State& state) {
  const int64_t hw = state.range(0);
  Tensor x = random_tensor({kConvBatch, kConvC, hw, hw}, 3), w = random_tensor({kConvC, kConvC, 3, 3}, 4);
  Tensor bias = random_tensor({kConvC}, 5);
  for (auto _ : state) {
    Tensor y = ops::conv2d(x, w, bias, 1, 1);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  set_rate(state, "GFLOP/s", conv_flop(hw));
}

// Forward, then the gradients of input, weight and bias for dy = 1 (as PyTorch's y.backward(ones)).
void BM_Conv2dForwardBackward(benchmark::State& state) {
  const int64_t hw = state.range(0);
  Tensor x = random_tensor({kConvBatch, kConvC, hw, hw}, 3), w = random_tensor({kConvC, kConvC, 3, 3}, 4);
  Tensor bias = random_tensor({kConvC}, 5);
  for (auto _ : state) {
    Tensor y = ops::conv2d(x, w, bias, 1, 1);
    Tensor dy = ops::ones_like(y);
    Tensor dx = ops::conv2d_backward_input(dy, w, x.shape(), 1, 1);
    Tensor dw = ops::conv2d_backward_weight(dy, x, w.shape(), 1, 1);
    Tensor db = ops::sum(dy, {0, 2, 3});
    benchmark::DoNotOptimize(dx.data_ptr());
    benchmark::DoNotOptimize(dw.data_ptr());
    benchmark::DoNotOptimize(db.data_ptr());
  }
  set_rate(state, "GFLOP/s", 3 * conv_flop(hw));
}

void BM_Conv2dBackwardInput(benchmark::State& state) {
  const int64_t hw = state.range(0);
  Tensor w = random_tensor({kConvC, kConvC, 3, 3}, 4), dy = random_tensor({kConvBatch, kConvC, hw, hw}, 6);
  for (auto _ : state) {
    Tensor dx = ops::conv2d_backward_input(dy, w, {kConvBatch, kConvC, hw, hw}, 1, 1);
    benchmark::DoNotOptimize(dx.data_ptr());
  }
  set_rate(state, "GFLOP/s", conv_flop(hw));
}

void BM_Conv2dBackwardWeight(benchmark::State& state) {
  const int64_t hw = state.range(0);
  Tensor x = random_tensor({kConvBatch, kConvC, hw, hw}, 3), dy = random_tensor({kConvBatch, kConvC, hw, hw}, 6);
  for (auto _ : state) {
    Tensor dw = ops::conv2d_backward_weight(dy, x, {kConvC, kConvC, 3, 3}, 1, 1);
    benchmark::DoNotOptimize(dw.data_ptr());
  }
  set_rate(state, "GFLOP/s", conv_flop(hw));
}

// 1x1 convolution (a plain GEMM per image), 64 -> 128 channels.
void BM_Conv2d1x1Forward(benchmark::State& state) {
  const int64_t hw = state.range(0);
  Tensor x = random_tensor({kConvBatch, kConvC, hw, hw}, 3), w = random_tensor({2 * kConvC, kConvC, 1, 1}, 4);
  for (auto _ : state) {
    Tensor y = ops::conv2d(x, w, Tensor(), 1, 0);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * kConvBatch * 2 * kConvC * hw * hw * kConvC);
}

// ---------------------------------------------------------------- group norm
// x [64, 64, 28, 28], 32 groups (the U-Net's setting).
const Shape kNormShape = {64, 64, 28, 28};

void BM_GroupNormForward(benchmark::State& state) {
  Tensor x = random_tensor(kNormShape, 7), w = random_tensor({64}, 8), b = random_tensor({64}, 9);
  for (auto _ : state) {
    ops::NormResult r = ops::group_norm(x, 32, w, b, 1e-5);
    benchmark::DoNotOptimize(r.y.data_ptr());
  }
  set_rate(state, "GB/s", 2.0 * 4 * double(shape_numel(kNormShape)));  // read x, write y
}

void BM_GroupNormBackward(benchmark::State& state) {
  Tensor x = random_tensor(kNormShape, 7), w = random_tensor({64}, 8), b = random_tensor({64}, 9);
  Tensor dy = random_tensor(kNormShape, 10);
  ops::NormResult r = ops::group_norm(x, 32, w, b, 1e-5);
  for (auto _ : state) {
    ops::NormGrads g = ops::group_norm_backward(dy, x, r.mean, r.rstd, w, 32);
    benchmark::DoNotOptimize(g.dx.data_ptr());
  }
  set_rate(state, "GB/s", 3.0 * 4 * double(shape_numel(kNormShape)));  // read dy, x, write dx
}

}  // namespace

BENCHMARK(BM_Matmul)->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CblasSgemm)->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ConvGemmOpenBlas)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvGemmDrift)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatmulTransposedB)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatmulBatched)->Args({64, 49})->Args({16, 256})->Args({64, 196})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatmulAttention)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatmulAttentionOpenBlas)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatmulLinear)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_MatmulLinearOpenBlas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Conv2dForward)->Arg(28)->Arg(14)->Arg(7)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dForwardBackward)->Arg(28)->Arg(14)->Arg(7)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dBackwardInput)->Arg(28)->Arg(14)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dBackwardWeight)->Arg(28)->Arg(14)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2d1x1Forward)->Arg(28)->Arg(14)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GroupNormForward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GroupNormBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
