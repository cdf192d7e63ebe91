// Micro-benchmarks of drift's CPU kernels against OpenBLAS (Google Benchmark):
//   matmul through drift and a raw cblas_sgemm side by side (GFLOP/s), the
//   conv-shaped GEMM through OpenBLAS and drift's AVX-512 sgemm, the U-Net's
//   attention and linear products through drift and through OpenBLAS.
// Per-op timings (conv2d forward / backward, group norm, batched products at
// the U-Net's shapes) are perf cases of the op-test registry
// (tests/op_cases_perf.cpp):  build/drift-test-ops perf -o Conv2d
// Run: OMP_NUM_THREADS=2 build/bench/bench_ops [--benchmark_filter=Matmul]
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
    cpu::sgemm(false, false, M, N, K, a.data<float>(), K, b.data<float>(), N, false, c.data<float>(), N, false);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_rate(state, "GFLOP/s", 2.0 * M * N * K);
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

}  // namespace

BENCHMARK(BM_Matmul)->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CblasSgemm)->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ConvGemmOpenBlas)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvGemmDrift)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatmulAttention)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatmulAttentionOpenBlas)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatmulLinear)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_MatmulLinearOpenBlas)->Unit(benchmark::kMicrosecond)->UseRealTime();

BENCHMARK_MAIN();
