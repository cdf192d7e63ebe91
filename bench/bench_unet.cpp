// The U-Net benchmark, measured the same way as the PyTorch reference
// (../shared/bench/torch_unet_reference.py, DRIFT_SHARED_DIR) so that the two compare:
//   (a) forward        eval mode, no autograd, batch --batch
//   (b) DDIM sampler   50 steps, eta = 0, linear betas 1e-4..0.02, T = 1000
//   (c) train step     forward + MSE(eps) + backward + Adam(lr = 2e-4)
//   (d) peak RSS       after the inference phases and at the end
// (a) and (c): median and minimum over --steps timed runs after 3 warm-ups.
// A plain program (no Google Benchmark): scripts/bench_unet.sh runs it next
// to the reference and prints the ratios.
//
//   bench_unet --config mnist [--batch 64] [--sample-batch 64] [--steps 10] [--sample-runs 1] [--json]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "nn/autocast.h"
#include "nn/optim.h"
#include "tensor/backend.h"
#include "nn/unet.h"
#include "nn/unet_graph.h"
#include "tensor/cpu/isa.h"
#include "tensor/profiler.h"

using namespace drift;
using namespace drift::nn;

namespace {

constexpr int kWarmup = 3;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// User + system CPU seconds of this process (all threads).
double cpu_seconds() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double peak_rss_mib() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux: KiB
}

struct Timing {
  double median_ms, min_ms, cpu_util;
};

// Runs fn kWarmup times untimed, then `iters` times.
Timing time_ms(const std::function<void()>& fn, int iters) {
  for (int i = 0; i < kWarmup; ++i) fn();
  profiler::reset();  // DRIFT_PROFILE tables count the timed runs only
  std::vector<double> ms;
  double c0 = cpu_seconds(), w0 = now_s();
  for (int i = 0; i < iters; ++i) {
    double t0 = now_s();
    fn();
    ms.push_back((now_s() - t0) * 1e3);
  }
  double util = (cpu_seconds() - c0) / (now_s() - w0);
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  size_t n = sorted.size();
  double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  return {median, sorted.front(), util};
}

// Deterministic DDIM (Song et al. 2021, eta = 0) with `steps` evenly spaced
// timesteps, as the reference's ddim_sample:
//   x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)
//   x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev) eps
// graphs: each model evaluation through a captured CUDA graph (nn/unet_graph.h).
Tensor ddim_sample(UNet& model, const Shape& shape, Generator& gen, Device device, UNetGraphs* graphs = nullptr,
                   int steps = 50, int T = 1000) {
  std::vector<double> abar(T);
  double prod = 1;
  for (int i = 0; i < T; ++i) {
    double beta = 1e-4 + (0.02 - 1e-4) * i / (T - 1);  // linear betas
    prod *= 1 - beta;                                   // abar_t = prod (1 - beta_s)
    abar[i] = prod;
  }
  std::vector<int> ts;
  for (int t = 0; t < T; t += T / steps) ts.push_back(t);
  std::reverse(ts.begin(), ts.end());  // 980, 960, ..., 0
  Tensor x = ops::randn(shape, gen, DType::Float32, device);
  for (size_t i = 0; i < ts.size(); ++i) {
    double a_t = abar[ts[i]], a_prev = i + 1 < ts.size() ? abar[ts[i + 1]] : 1.0;
    Tensor tt = ops::full({shape[0]}, ts[i], DType::Int64, device);
    Tensor eps = graphs ? graphs->forward(x, tt) : model.forward(x, tt);
    Tensor x0 = ops::affine(ops::sub(x, ops::mul(eps, std::sqrt(1 - a_t))), 1 / std::sqrt(a_t), 0);
    x = ops::add(ops::mul(x0, std::sqrt(a_prev)), ops::mul(eps, std::sqrt(1 - a_prev)));
  }
  return x;
}

// With DRIFT_PROFILE set: the kernel table of the phase just run (its timed
// runs, without the warm-up), then a fresh start for the next phase.
void print_phase_profile(const char* phase) {
  if (profiler::mode() == profiler::Mode::Off) return;
  std::printf("---- profile of phase: %s ----%s\n", phase, profiler::report().c_str());
  profiler::reset();
}

void usage() {
  std::printf("usage: bench_unet --config tiny|mnist|cifar [--batch N] [--sample-batch N] [--steps N] "
              "[--sample-runs N] [--device cpu|cuda] [--precision fp32|bf16|fp16] [--graphs] [--json]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // line by line, also into a pipe
  std::string config = "mnist";
  int64_t batch = 0, sample_batch = 0;
  int steps = 10, sample_runs = 1;
  bool json = false;
  Device device = Device::CPU;
  nn::Precision precision = nn::Precision::FP32;
  bool graphs = false;  // DDIM's model evaluations through CUDA graphs
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--config") config = next();
    else if (a == "--batch") batch = std::stoll(next());
    else if (a == "--sample-batch") sample_batch = std::stoll(next());
    else if (a == "--steps") steps = std::stoi(next());
    else if (a == "--sample-runs") sample_runs = std::stoi(next());
    else if (a == "--json") json = true;
    else if (a == "--graphs") graphs = true;
    else if (a == "--device") device = std::string(next()) == "cuda" ? Device::CUDA : Device::CPU;
    else if (a == "--precision") precision = config::parse_enum<nn::Precision>(next(), "--precision");
    else {
      usage();
      return 2;
    }
  }
  try {
    UNetConfig cfg = UNetConfig::preset(config);
    // The reference's batches: tiny 2, mnist 64, cifar 16 (forward, train and DDIM alike).
    int64_t default_batch = config == "tiny" ? 2 : config == "mnist" ? 64 : 16;
    if (batch == 0) batch = default_batch;
    if (sample_batch == 0) sample_batch = default_batch;
    UNet model(cfg);
    model.to(device);
    const int64_t c = cfg.in_channels, s = cfg.image_size;

    // Fixed inputs: data generation is not part of what is measured.
    Generator gen(0);
    Tensor x_t = ops::randn({batch, c, s, s}, gen, DType::Float32, device);
    Tensor t = ops::randint(0, 1000, {batch}, gen, device);
    Tensor eps = ops::randn({batch, c, s, s}, gen, DType::Float32, device);
    const char* omp = std::getenv("OMP_NUM_THREADS");
    std::printf("drift bench_unet  OMP_NUM_THREADS=%s  cpu_isa=%s\n", omp ? omp : "unset",
                cpu::isa_name(cpu::active_isa()));
    std::printf("config=%s  params=%lld  batch=%lld  sample_batch=%lld  precision=%s\n", config.c_str(),
                static_cast<long long>(model.num_parameters()), static_cast<long long>(batch),
                static_cast<long long>(sample_batch), nn::precision_name(precision));
    // Mixed precision (nn/autocast.h) for every phase: GEMMs and convolutions
    // in 16 bits, the rest (and the weights, and Adam) in float32.
    nn::Autocast autocast(precision);
    Allocator* dev_alloc = backend(device).allocator;
    if (dev_alloc) dev_alloc->reset_peak();

    // (a) forward only.
    model.eval();
    Timing fwd;
    {
      NoGradGuard no_grad;
      fwd = time_ms([&] { model.forward(x_t, t); ops::synchronize(device); }, steps);
    }
    std::printf("forward      median %9.2f ms   min %9.2f ms   cpu_util %.2f\n", fwd.median_ms, fwd.min_ms,
                fwd.cpu_util);
    print_phase_profile("forward");

    // (b) DDIM, 50 steps (--graphs: each evaluation replays a captured CUDA graph;
    // the first run captures, so the timed runs are replays).
    std::unique_ptr<UNetGraphs> unet_graphs;
    if (graphs) unet_graphs = std::make_unique<UNetGraphs>(model);
    if (graphs && sample_runs > 0) {
      NoGradGuard no_grad;
      ddim_sample(model, {sample_batch, c, s, s}, gen, device, unet_graphs.get(), 2);  // capture
    }
    std::vector<double> ddim_s;
    double ddim_util = 0;
    if (sample_runs > 0) {
      NoGradGuard no_grad;
      double c0 = cpu_seconds(), w0 = now_s();
      for (int r = 0; r < sample_runs; ++r) {
        double t0 = now_s();
        ddim_sample(model, {sample_batch, c, s, s}, gen, device, unet_graphs.get());
        ops::synchronize(device);
        ddim_s.push_back(now_s() - t0);
      }
      ddim_util = (cpu_seconds() - c0) / (now_s() - w0);
      std::printf("ddim50       %.2f s  (batch %lld)   cpu_util %.2f\n", ddim_s[0],
                  static_cast<long long>(sample_batch), ddim_util);
      print_phase_profile("ddim50");
    }
    double rss_infer = peak_rss_mib();

    // (c) train step: forward + MSE + backward + Adam.
    model.train();
    Adam opt(model.named_parameters(), AdamOptions{2e-4});
    Timing train = time_ms(
        [&] {
          opt.zero_grad();
          Tensor loss = mse_loss(model.forward(x_t, t), eps);
          backward(loss);
          opt.step();
          ops::synchronize(device);
        },
        steps);
    std::printf("train step   median %9.2f ms   min %9.2f ms   cpu_util %.2f\n", train.median_ms, train.min_ms,
                train.cpu_util);
    print_phase_profile("train step");
    // The optimizer update alone (gradients from the last train step).
    Timing adam = time_ms([&] { opt.step(); ops::synchronize(device); }, steps);
    std::printf("adam update  median %9.2f ms   (part of the train step)\n", adam.median_ms);
    print_phase_profile("adam update");
    double rss = peak_rss_mib();
    std::printf("peak RSS     %.0f MiB after inference, %.0f MiB at end\n", rss_infer, rss);
    // Peak bytes handed out by the device's caching allocator (tensors alive at
    // once, as torch.cuda.max_memory_allocated; 0 when untracked).
    const double peak_dev_mib = dev_alloc && device == Device::CUDA ? static_cast<double>(dev_alloc->peak_allocated_bytes()) / (1 << 20) : 0.0;
    if (device == Device::CUDA) std::printf("peak GPU     %.0f MiB allocated\n", peak_dev_mib);

    if (json) {
      std::string dd = "[";
      for (size_t i = 0; i < ddim_s.size(); ++i) dd += (i ? ", " : "") + std::to_string(ddim_s[i]);
      dd += "]";
      std::printf("{\"config\": \"%s\", \"params\": %lld, \"batch\": %lld, \"sample_batch\": %lld, \"steps\": %d, "
                  "\"forward\": {\"median_ms\": %.2f, \"min_ms\": %.2f, \"cpu_util\": %.2f}, "
                  "\"ddim50\": {\"seconds\": %s, \"cpu_util\": %.2f}, \"peak_rss_infer_mib\": %.1f, "
                  "\"train\": {\"median_ms\": %.2f, \"min_ms\": %.2f, \"cpu_util\": %.2f}, \"peak_rss_mib\": %.1f, \"adam_step_ms\": %.2f, "
                  "\"cpu_isa\": \"%s\", \"device\": \"%s\", \"precision\": \"%s\", \"peak_gpu_mib\": %.1f, \"graphs\": %s}\n",
                  config.c_str(), static_cast<long long>(model.num_parameters()), static_cast<long long>(batch),
                  static_cast<long long>(sample_batch), steps, fwd.median_ms, fwd.min_ms, fwd.cpu_util, dd.c_str(),
                  ddim_util, rss_infer, train.median_ms, train.min_ms, train.cpu_util, rss, adam.median_ms,
                  cpu::isa_name(cpu::active_isa()), device == Device::CUDA ? "cuda" : "cpu", nn::precision_name(precision),
                  peak_dev_mib, graphs ? "true" : "false");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_unet: %s\n", e.what());
    return 1;
  }
  return 0;
}
