// Time of one gradient all-reduce (mean over ranks, float32, MPI on CPU
// tensors; NCCL with --device cuda when built with it), for buffers of the
// given sizes in MiB: the communication part of a data-parallel step.
//   mpirun -np 2 build/bench/bench_allreduce 0.63 6.2 34
// Prints, on rank 0, the median of 20 timed all-reduces after 3 warm-ups and
// the bus bandwidth 2 (N - 1) / N x bytes / time (the ring all-reduce's traffic per rank).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dist/comm.h"
#include "tensor/ops.h"

using namespace drift;

int main(int argc, char** argv) {
  try {
    dist::init(&argc, &argv);
    Device device = Device::CPU;
    std::vector<double> mib;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--device" && i + 1 < argc) {
        device = std::string(argv[++i]) == "cuda" ? Device::CUDA : Device::CPU;
      } else {
        mib.push_back(std::atof(a.c_str()));
      }
    }
    if (mib.empty()) mib = {0.25, 1, 4, 16, 64};
    dist::Communicator& comm = dist::for_device(device);
    const int N = comm.size();
    if (dist::is_root())
      std::printf("all-reduce (mean, float32) over %d processes (%s)\n%10s %12s %14s\n", N, comm.name(), "MiB",
                  "ms", "bus GB/s");
    for (double m : mib) {
      const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(m * (1 << 20) / 4));
      Tensor t = ops::ones({n}, DType::Float32, device);
      std::vector<double> times;
      for (int k = 0; k < 23; ++k) {
        comm.barrier();
        const auto t0 = std::chrono::steady_clock::now();
        comm.all_reduce(t, dist::ReduceOp::Mean);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (k >= 3) times.push_back(s);
      }
      std::sort(times.begin(), times.end());
      const double med = times[times.size() / 2];
      const double bytes = 4.0 * static_cast<double>(n);
      if (dist::is_root())
        std::printf("%10.2f %12.3f %14.2f\n", bytes / (1 << 20), 1e3 * med,
                    N > 1 ? 2.0 * (N - 1) / N * bytes / med / 1e9 : 0.0);
    }
  } catch (const std::exception& e) {
    dist::abort_job(e.what(), 1);
    return 1;
  }
  dist::finalize();
  return 0;
}
