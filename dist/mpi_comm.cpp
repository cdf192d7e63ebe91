// The MPI communicator: Open MPI collectives on CPU tensors. A CUDA tensor
// is copied to the host, reduced there and copied back (for runs without
// NCCL; the NCCL communicator is the fast path on GPUs).
#ifdef DRIFT_HAVE_MPI
#include <mpi.h>

#include <chrono>
#include <thread>

#include "dist/check.h"
#include "dist/internal.h"
#include "tensor/ops.h"

namespace drift::dist::detail {

namespace {

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    default: break;  // MPI has no 16-bit float type: gradients are float32 (nn/autocast.h)
  }
  throw Error(str("MPI: unsupported dtype ", dtype_name(t), " (expected float32, float64 or int64)"));
}

// Waits for a request, moving it forward, for at most the collective timeout;
// past it the job is ended naming this rank and the call (another rank died or hangs).
void wait_request(MPI_Request& req, const char* call) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const double limit = timeout_seconds();
  int polls = 0;
  for (;;) {
    int done = 0;
    DRIFT_MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    if (++polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));  // not a busy spin
    if (std::chrono::duration<double>(clock::now() - start).count() > limit) {
      abort_job(str(call, " did not complete within ", limit,
                    " s (DRIFT_DIST_TIMEOUT): another rank has stopped or hangs"),
                3);
      throw Error(str("rank ", rank(), ": ", call, " timed out"));
    }
  }
}

class MpiWork : public Work {
 public:
  MpiWork(MPI_Request req, Tensor t, ReduceOp op, int size) : req_(req), t_(std::move(t)), op_(op), size_(size) {}
  ~MpiWork() override {
    if (!done_) {
      try { wait(); } catch (...) {}  // a collective must complete before its buffer goes
    }
  }
  bool test() override {
    if (done_) return true;
    int flag = 0;
    DRIFT_MPI_CHECK(MPI_Test(&req_, &flag, MPI_STATUS_IGNORE));
    if (flag) finish();
    return done_;
  }
  void wait() override {
    if (done_) return;
    wait_request(req_, "all_reduce");
    finish();
  }

 private:
  void finish() {
    done_ = true;
    if (op_ == ReduceOp::Mean) divide_(t_, size_);
  }
  MPI_Request req_;
  Tensor t_;
  ReduceOp op_;
  int size_;
  bool done_ = false;
};

class DoneWork : public Work {
 public:
  bool test() override { return true; }
  void wait() override {}
};

class MpiComm : public Communicator {
 public:
  MpiComm() {
    DRIFT_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
    DRIFT_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    DRIFT_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    DRIFT_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  }
  ~MpiComm() override { MPI_Comm_free(&comm_); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "mpi"; }

  std::unique_ptr<Work> all_reduce_async(Tensor& t, ReduceOp op) override {
    check_tensor(t, "all_reduce");
    DRIFT_CHECK(op == ReduceOp::Sum || is_floating(t.dtype()), "rank ", rank_,
                ": all_reduce(Mean) needs a floating-point tensor, got ", dtype_name(t.dtype()));
    if (t.device() != Device::CPU) {  // staged through the host, synchronously
      Tensor h = ops::contiguous(ops::to(t, Device::CPU));
      all_reduce_async(h, op)->wait();
      ops::copy_(t, ops::to(h, t.device()));
      return std::make_unique<DoneWork>();
    }
    MPI_Request req;
    DRIFT_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, t.data_ptr(), static_cast<int>(t.numel()), mpi_type(t.dtype()),
                                   MPI_SUM, comm_, &req));
    return std::make_unique<MpiWork>(req, t, op, size_);
  }

  void broadcast(Tensor& t, int root) override {
    check_tensor(t, "broadcast");
    DRIFT_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " out of range for ", size_, " processes");
    if (t.device() != Device::CPU) {
      Tensor h = ops::contiguous(ops::to(t, Device::CPU));
      broadcast(h, root);
      ops::copy_(t, ops::to(h, t.device()));
      return;
    }
    MPI_Request req;
    DRIFT_MPI_CHECK(MPI_Ibcast(t.data_ptr(), static_cast<int>(t.numel()), mpi_type(t.dtype()), root, comm_, &req));
    wait_request(req, "broadcast");
  }

  Tensor all_gather(const Tensor& t_in) override {
    check_tensor(t_in, "all_gather");
    Tensor t = t_in.device() == Device::CPU ? t_in : ops::contiguous(ops::to(t_in, Device::CPU));
    Shape shape = t.shape();
    DRIFT_CHECK(!shape.empty(), "all_gather: expected a tensor with a first dimension, got a scalar");
    shape[0] *= size_;
    Tensor out = ops::empty(shape, t.dtype(), Device::CPU);
    MPI_Request req;
    DRIFT_MPI_CHECK(MPI_Iallgather(t.data_ptr(), static_cast<int>(t.numel()), mpi_type(t.dtype()), out.data_ptr(),
                                   static_cast<int>(t.numel()), mpi_type(t.dtype()), comm_, &req));
    wait_request(req, "all_gather");
    return t_in.device() == Device::CPU ? out : ops::to(out, t_in.device());
  }

  void barrier() override {
    MPI_Request req;
    DRIFT_MPI_CHECK(MPI_Ibarrier(comm_, &req));
    wait_request(req, "barrier");
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_world() { return std::make_unique<MpiComm>(); }

}  // namespace drift::dist::detail
#endif  // DRIFT_HAVE_MPI
