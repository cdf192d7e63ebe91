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

#include <omp.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tensor/cpu/blas.h"
#include "tensor/cpu/isa.h"
#include "tensor/cpu/isa_kernels.h"
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
// W[64, 576] @ cols[576, 784]: OpenBLAS vs drift's GEMM at the active level, one thread
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

// ---------------------------------------------------------------- per ISA level
// The GEMM and convolution kernels at each level (first argument: 0 generic,
// 1 avx2, 2 avx512; levels this CPU lacks are skipped with the reason).
// "%peak" is GFLOP/s against the level's fp32 peak on the threads used:
//   peak = threads x GHz x (vector lanes x 2 flops per FMA x FMA pipes)
// with lanes 16 (avx512) or 8 (avx2, and generic: OpenBLAS runs its AVX2
// kernels), 2 FMA pipes (Intel since Haswell, AMD since Zen 2; Zen 4 runs
// 512-bit FMAs at half rate: set DRIFT_PEAK_FMA_PIPES=1 there for avx512), and
// GHz from DRIFT_PEAK_GHZ or else the "cpu MHz" of /proc/cpuinfo.
double peak_gflops(cpu::CpuIsa isa, int threads) {
  static double ghz = [] {
    if (const char* e = std::getenv("DRIFT_PEAK_GHZ")) return std::atof(e);
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("cpu MHz", 0) == 0) return std::atof(line.substr(line.find(':') + 1).c_str()) / 1000.0;
    return 0.0;
  }();
  const char* pipes_env = std::getenv("DRIFT_PEAK_FMA_PIPES");
  const double pipes = pipes_env ? std::atof(pipes_env) : 2.0;
  const double lanes = isa == cpu::CpuIsa::Avx512 ? 16 : 8;
  return threads * ghz * lanes * 2 * pipes;
}

// Sets the level for one benchmark (restored after); false (and the benchmark
// skipped) when this CPU lacks it.
struct IsaForBench {
  cpu::CpuIsa saved = cpu::active_isa(), isa;
  bool ok;
  explicit IsaForBench(benchmark::State& state) : isa(static_cast<cpu::CpuIsa>(state.range(0))) {
    ok = static_cast<int>(isa) <= static_cast<int>(cpu::detected_isa());
    if (!ok) {
      state.SkipWithError((std::string("this CPU lacks ") + cpu::isa_name(isa)).c_str());
      return;
    }
    cpu::set_active_isa(isa);
    state.SetLabel(cpu::isa_name(isa));
  }
  ~IsaForBench() { cpu::set_active_isa(saved); }
};

void set_gflops_and_peak(benchmark::State& state, cpu::CpuIsa isa, double flop, int threads) {
  set_rate(state, "GFLOP/s", flop);
  const double peak = peak_gflops(isa, threads);
  if (peak > 0)
    state.counters["%peak"] = benchmark::Counter(100.0 * flop * double(state.iterations()) / 1e9 / peak,
                                                 benchmark::Counter::kIsRate);
}

// Square sgemm n^3 through cpu::sgemm, split over the threads (compare CblasSgemm).
void BM_SgemmIsa(benchmark::State& state) {
  IsaForBench level(state);
  if (!level.ok) return;
  const int64_t n = state.range(1);
  Tensor a = random_tensor({n, n}, 1), b = random_tensor({n, n}, 2), c = ops::empty({n, n});
  for (auto _ : state) {
    cpu::sgemm(false, false, n, n, n, a.data<float>(), n, b.data<float>(), n, false, c.data<float>(), n, true);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_gflops_and_peak(state, level.isa, 2.0 * double(n) * double(n) * double(n), omp_get_max_threads());
}

// The conv-shaped GEMM W[64, 576] @ cols[576, 784], one thread (compare ConvGemmOpenBlas).
void BM_ConvGemmIsa(benchmark::State& state) {
  IsaForBench level(state);
  if (!level.ok) return;
  const int M = 64, N = 784, K = 576;
  Tensor a = random_tensor({M, K}, 1), b = random_tensor({K, N}, 2), c = ops::empty({M, N});
  for (auto _ : state) {
    cpu::sgemm(false, false, M, N, K, a.data<float>(), K, b.data<float>(), N, false, c.data<float>(), N, false);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  set_gflops_and_peak(state, level.isa, 2.0 * M * N * K, 1);
}

// conv2d forward and forward+backward on the U-Net's 3x3 layers (batch 16):
// args {level, channels, size}. GFLOP/s counts the direct convolution's
// multiply-adds (2*N*C*O*H*W*9 per pass), whatever method runs.
double unet_conv_flop(int64_t ch, int64_t hw) { return 2.0 * 16 * ch * ch * hw * hw * 9; }

void BM_Conv2dIsa(benchmark::State& state) {
  IsaForBench level(state);
  if (!level.ok) return;
  const int64_t ch = state.range(1), hw = state.range(2);
  Tensor x = random_tensor({16, ch, hw, hw}, 3), w = random_tensor({ch, ch, 3, 3}, 4), bias = random_tensor({ch}, 5);
  for (auto _ : state) {
    Tensor y = ops::conv2d(x, w, bias, 1, 1);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  set_gflops_and_peak(state, level.isa, unet_conv_flop(ch, hw), omp_get_max_threads());
}

void BM_Conv2dTrainIsa(benchmark::State& state) {
  IsaForBench level(state);
  if (!level.ok) return;
  const int64_t ch = state.range(1), hw = state.range(2);
  Tensor x = random_tensor({16, ch, hw, hw}, 3), w = random_tensor({ch, ch, 3, 3}, 4), bias = random_tensor({ch}, 5);
  Tensor dy = random_tensor({16, ch, hw, hw}, 6);
  for (auto _ : state) {
    Tensor y = ops::conv2d(x, w, bias, 1, 1);
    Tensor dx = ops::conv2d_backward_input(dy, w, x.shape(), 1, 1);
    Tensor dw = ops::conv2d_backward_weight(dy, x, w.shape(), 1, 1);
    benchmark::DoNotOptimize(y.data_ptr());
    benchmark::DoNotOptimize(dx.data_ptr());
    benchmark::DoNotOptimize(dw.data_ptr());
  }
  set_gflops_and_peak(state, level.isa, 3 * unet_conv_flop(ch, hw), omp_get_max_threads());
}

// The two methods conv2d chooses between (use_winograd / use_winograd_wgrad,
// conv_fast.h), forward and weight gradient: args {level (1 or 2), channels,
// size, method: 0 GEMM, 1 Winograd}, batch 16. GFLOP/s counts the direct
// convolution's multiply-adds, whatever method runs.
void conv_method_bench(benchmark::State& state, bool weight_gradient) {
  IsaForBench level(state);
  if (!level.ok) return;
  if (level.isa == cpu::CpuIsa::Generic) {
    state.SkipWithError("no Winograd kernel on the portable level");
    return;
  }
  const int64_t ch = state.range(1), hw = state.range(2);
  const bool winograd = state.range(3) == 1;
  state.SetLabel(std::string(cpu::isa_name(level.isa)) + (winograd ? " winograd" : " gemm"));
  Tensor x = random_tensor({16, ch, hw, hw}, 3), w = random_tensor({ch, ch, 3, 3}, 4);
  Tensor y = random_tensor({16, ch, hw, hw}, 5);  // the output, or dy for the weight gradient
  const cpu::ConvGeom g{16, ch, hw, hw, ch, 3, 3, hw, hw, 1, 1, 1, 1};
  auto run = [&] {
    const float* px = x.data<float>();
    float *pw = w.data<float>(), *py = y.data<float>();
#if defined(DRIFT_X86_KERNELS)
    const bool a512 = level.isa == cpu::CpuIsa::Avx512;
    if (weight_gradient) {
      auto fn = a512 ? (winograd ? cpu::avx512::conv2d_backward_weight_winograd : cpu::avx512::conv2d_backward_weight_gemm)
                     : (winograd ? cpu::avx2::conv2d_backward_weight_winograd : cpu::avx2::conv2d_backward_weight_gemm);
      fn(py, px, pw, g);
    } else {
      auto fn = a512 ? (winograd ? cpu::avx512::conv2d_forward_winograd : cpu::avx512::conv2d_forward_gemm)
                     : (winograd ? cpu::avx2::conv2d_forward_winograd : cpu::avx2::conv2d_forward_gemm);
      fn(px, pw, nullptr, py, g);
    }
#endif
  };
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(y.data_ptr());
    benchmark::DoNotOptimize(w.data_ptr());
  }
  set_gflops_and_peak(state, level.isa, unet_conv_flop(ch, hw), omp_get_max_threads());
}
void BM_Conv2dMethod(benchmark::State& state) { conv_method_bench(state, false); }
void BM_Conv2dWeightMethod(benchmark::State& state) { conv_method_bench(state, true); }

// {channels, size} of the U-Net presets' 3x3 layers: mnist 32@28, 64@14, 64@7; cifar 64@32, 128@16, 128@8, 128@4.
void unet_conv_shapes(benchmark::internal::Benchmark* b, bool methods) {
  for (int isa = 0; isa <= 2; ++isa)
    for (auto [ch, hw] : std::vector<std::pair<int, int>>{{32, 28}, {64, 14}, {64, 7}, {64, 32}, {128, 16}, {128, 8}, {128, 4}}) {
      if (!methods) {
        b->Args({isa, ch, hw});
      } else if (isa > 0) {
        b->Args({isa, ch, hw, 0});
        b->Args({isa, ch, hw, 1});
      }
    }
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
BENCHMARK(BM_SgemmIsa)->ArgsProduct({{0, 1, 2}, {512, 1024}})->ArgNames({"isa", "n"})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ConvGemmIsa)->DenseRange(0, 2)->ArgName("isa")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2dIsa)->Apply([](benchmark::internal::Benchmark* b) { unet_conv_shapes(b, false); })
    ->ArgNames({"isa", "ch", "hw"})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dTrainIsa)->Apply([](benchmark::internal::Benchmark* b) { unet_conv_shapes(b, false); })
    ->ArgNames({"isa", "ch", "hw"})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dMethod)->Apply([](benchmark::internal::Benchmark* b) { unet_conv_shapes(b, true); })
    ->ArgNames({"isa", "ch", "hw", "winograd"})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dWeightMethod)->Apply([](benchmark::internal::Benchmark* b) { unet_conv_shapes(b, true); })
    ->ArgNames({"isa", "ch", "hw", "winograd"})->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
