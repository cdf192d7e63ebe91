// The process's distributed runtime: MPI start-up and shutdown, the world
// communicator, OpenMP threads and GPU choice per rank, ending the job on an
// error, and the single-process communicator.
#include <omp.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "dist/comm.h"
#include "dist/internal.h"
#include "tensor/ops.h"

#ifdef DRIFT_HAVE_MPI
#include <mpi.h>

#include "dist/check.h"
#endif
#ifdef DRIFT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace drift::dist {

namespace {

class DoneWork : public Work {
 public:
  bool test() override { return true; }
  void wait() override {}
};

class SingleComm : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* name() const override { return "single"; }
  std::unique_ptr<Work> all_reduce_async(Tensor& t, ReduceOp) override {
    detail::check_tensor(t, "all_reduce");
    return std::make_unique<DoneWork>();
  }
  void broadcast(Tensor& t, int root) override {
    detail::check_tensor(t, "broadcast");
    DRIFT_CHECK(root == 0, "broadcast: root ", root, " out of range for 1 process");
  }
  Tensor all_gather(const Tensor& t) override {
    detail::check_tensor(t, "all_gather");
    return ops::clone(t);
  }
  void barrier() override {}
};

struct Runtime {
  bool started = false;  // MPI_Init done by us
  int local_rank = 0, local_size = 1;
  std::unique_ptr<Communicator> world = std::make_unique<SingleComm>();
  std::unique_ptr<Communicator> gpu;  // NCCL, created on first use
};

Runtime& rt() {
  static Runtime r;
  return r;
}

// OpenMP threads per process: the cores of this machine shared by its processes,
// and no more than the cores this process is bound to (mpirun binds to cores by default).
void set_threads(int local_size) {
  if (std::getenv("OMP_NUM_THREADS") != nullptr || local_size <= 1) return;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  int n = std::max(1, cores / local_size);
  n = std::min(n, std::max(1, omp_get_num_procs()));
  omp_set_num_threads(n);
}

}  // namespace

namespace detail {

double timeout_seconds() {
  const char* s = std::getenv("DRIFT_DIST_TIMEOUT");
  if (s == nullptr || *s == '\0') return 600.0;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  DRIFT_CHECK(end != s && *end == '\0' && v > 0, "DRIFT_DIST_TIMEOUT: expected a positive number of seconds, got '",
              s, "'");
  return v;
}

void check_tensor(const Tensor& t, const char* call) {
  DRIFT_CHECK(t.defined(), call, ": the tensor is undefined");
  DRIFT_CHECK(t.is_contiguous(), call, ": expected a contiguous tensor, got shape ", shape_str(t.shape()),
              " with non-contiguous strides");
  DRIFT_CHECK(t.numel() <= INT_MAX, call, ": at most 2^31-1 elements per call, got ", t.numel());
}

void divide_(Tensor& t, int n) {
  DRIFT_CHECK(is_floating(t.dtype()), "all_reduce(Mean): expected a floating-point tensor, got ",
              dtype_name(t.dtype()));
  if (n == 1) return;
  ops::copy_(t, ops::mul(t, 1.0 / n));
}

}  // namespace detail

std::unique_ptr<Communicator> make_single() { return std::make_unique<SingleComm>(); }

bool mpi_available() {
#ifdef DRIFT_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

void init(int* argc, char*** argv) {
  Runtime& r = rt();
  if (r.started) return;
#ifdef DRIFT_HAVE_MPI
  if (!launched_by_mpirun()) return;
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    int provided = 0;
    // Only the main thread calls MPI (the loader's thread never does).
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw Error("MPI_Init_thread failed (is this process started by mpirun?)");
  }
  r.started = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  r.world = detail::make_mpi_world();
  MPI_Comm node;
  DRIFT_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  DRIFT_MPI_CHECK(MPI_Comm_rank(node, &r.local_rank));
  DRIFT_MPI_CHECK(MPI_Comm_size(node, &r.local_size));
  MPI_Comm_free(&node);
#else
  (void)argc;
  (void)argv;
  if (launched_by_mpirun() && std::getenv("OMPI_COMM_WORLD_RANK") != nullptr &&
      std::string(std::getenv("OMPI_COMM_WORLD_SIZE")) != "1")
    throw Error("this drift was built without MPI, but it was started by mpirun with several processes: "
                "install libopenmpi-dev (scripts/setup.sh) and rebuild");
#endif
  set_threads(r.local_size);
#ifdef DRIFT_HAVE_CUDA
  int gpus = 0;
  if (r.world->size() > 1 && cudaGetDeviceCount(&gpus) == cudaSuccess && gpus > 0) cudaSetDevice(r.local_rank % gpus);
#endif
}

void finalize() {
  Runtime& r = rt();
  if (!r.started) return;
  r.gpu.reset();
  r.world = std::make_unique<SingleComm>();
#ifdef DRIFT_HAVE_MPI
  MPI_Finalize();
#endif
  r.started = false;
}

bool mpi_started() { return rt().started; }

Communicator& world() { return *rt().world; }
int rank() { return rt().world->rank(); }
int world_size() { return rt().world->size(); }
bool is_root() { return rank() == 0; }
int local_rank() { return rt().local_rank; }
int local_size() { return rt().local_size; }

Communicator& for_device(Device device) {
  Runtime& r = rt();
  if (device != Device::CUDA || !r.started) return *r.world;
#ifdef DRIFT_HAVE_NCCL  // also for mpirun -np 1, so that one GPU can test the NCCL path
  if (!r.gpu) r.gpu = detail::make_nccl(*r.world, r.local_rank);
  return *r.gpu;
#else
  return *r.world;  // MPI, staged through the host
#endif
}

void abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "\ndrift: error on rank %d of %d: %s\n", rank(), world_size(), message.c_str());
  std::fflush(stderr);
#ifdef DRIFT_HAVE_MPI
  if (rt().started && world_size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  (void)code;
}

uint64_t hash_tensors(const std::vector<Tensor>& ts) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bit
  for (const Tensor& t : ts) {
    Tensor c = ops::contiguous(t.device() == Device::CPU ? t : ops::to(t, Device::CPU));
    const auto* p = static_cast<const unsigned char*>(c.data_ptr());
    const size_t n = static_cast<size_t>(c.numel()) * dtype_size(c.dtype());
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

void check_same(uint64_t value, const std::string& what) {
  if (world_size() == 1) return;
  Tensor mine = ops::from_vector(std::vector<int64_t>{static_cast<int64_t>(value)}, {1});
  std::vector<int64_t> all = ops::to_vector_i64(world().all_gather(mine));
  std::string differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  DRIFT_CHECK(differ.empty(), what, " differ between ranks: rank(s) ", differ, " disagree with rank 0");
}

}  // namespace drift::dist
