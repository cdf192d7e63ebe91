// The NCCL communicator: collectives on CUDA tensors, one process per GPU.
// Rank 0 creates the ncclUniqueId and broadcasts it over MPI (as llm.c does).
// Collectives run on a stream of their own, after the work already queued on
// the default stream (where drift's kernels run), so that a bucket of
// gradients is reduced while backward goes on; wait() makes the host wait for
// the result, polling NCCL's asynchronous error state, with the collective timeout.
#ifdef DRIFT_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "cuda/check.h"
#include "dist/check.h"
#include "dist/internal.h"
#include "tensor/ops.h"

namespace drift::dist::detail {

namespace {

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
  }
  throw Error("NCCL: unsupported dtype");
}

void check_cuda_tensor(const Tensor& t, const char* call) {
  check_tensor(t, call);
  DRIFT_CHECK(t.device() == Device::CUDA, "rank ", rank(), ": ", call,
              " on the NCCL communicator expects a CUDA tensor, got a ", device_name(t.device()), " one");
}

class NcclComm;

class NcclWork : public Work {
 public:
  NcclWork(ncclComm_t comm, cudaEvent_t done) : comm_(comm), done_(done) {}
  ~NcclWork() override { cudaEventDestroy(done_); }
  bool test() override {
    if (finished_) return true;
    cudaError_t e = cudaEventQuery(done_);
    if (e == cudaErrorNotReady) {
      check_async();
      return false;
    }
    DRIFT_CUDA_CHECK(e);
    finished_ = true;
    return true;
  }
  void wait() override {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const double limit = timeout_seconds();
    while (!test()) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      if (std::chrono::duration<double>(clock::now() - start).count() > limit) {
        ncclCommAbort(comm_);
        abort_job(str("NCCL collective did not complete within ", limit,
                      " s (DRIFT_DIST_TIMEOUT): another rank has stopped or hangs"),
                  3);
        throw Error(str("rank ", rank(), ": NCCL collective timed out"));
      }
    }
  }

 private:
  void check_async() {
    ncclResult_t async = ncclSuccess;
    DRIFT_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
    DRIFT_NCCL_CHECK(async);
  }
  ncclComm_t comm_;
  cudaEvent_t done_;
  bool finished_ = false;
};

class NcclComm : public Communicator {
 public:
  NcclComm(Communicator& mpi, int local_rank) : rank_(mpi.rank()), size_(mpi.size()) {
    int gpus = 0;
    DRIFT_CUDA_CHECK(cudaGetDeviceCount(&gpus));
    DRIFT_CHECK(gpus > 0, "rank ", rank_, ": NCCL needs a GPU, none found");
    DRIFT_CUDA_CHECK(cudaSetDevice(local_rank % gpus));
    ncclUniqueId id;
    if (rank_ == 0) DRIFT_NCCL_CHECK(ncclGetUniqueId(&id));
    std::vector<int64_t> words((sizeof(id) + 7) / 8, 0);
    std::memcpy(words.data(), &id, sizeof(id));
    Tensor t = ops::from_vector(words, {static_cast<int64_t>(words.size())});
    mpi.broadcast(t, 0);
    std::memcpy(&id, t.data<int64_t>(), sizeof(id));
    DRIFT_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    DRIFT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~NcclComm() override {
    if (stream_) cudaStreamSynchronize(stream_);
    if (comm_) ncclCommDestroy(comm_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* name() const override { return "nccl"; }

  std::unique_ptr<Work> all_reduce_async(Tensor& t, ReduceOp op) override {
    check_cuda_tensor(t, "all_reduce");
    DRIFT_CHECK(op == ReduceOp::Sum || is_floating(t.dtype()), "rank ", rank_,
                ": all_reduce(Mean) needs a floating-point tensor, got ", dtype_name(t.dtype()));
    after_default_stream();
    DRIFT_NCCL_CHECK(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                                   op == ReduceOp::Mean ? ncclAvg : ncclSum, comm_, stream_));
    return finished_event();
  }
  void broadcast(Tensor& t, int root) override {
    check_cuda_tensor(t, "broadcast");
    DRIFT_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " out of range for ", size_, " processes");
    after_default_stream();
    DRIFT_NCCL_CHECK(ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                                   root, comm_, stream_));
    finished_event()->wait();
  }
  Tensor all_gather(const Tensor& t) override {
    check_cuda_tensor(t, "all_gather");
    Shape shape = t.shape();
    DRIFT_CHECK(!shape.empty(), "all_gather: expected a tensor with a first dimension, got a scalar");
    shape[0] *= size_;
    Tensor out = ops::empty(shape, t.dtype(), Device::CUDA);
    after_default_stream();
    DRIFT_NCCL_CHECK(ncclAllGather(t.data_ptr(), out.data_ptr(), static_cast<size_t>(t.numel()),
                                   nccl_type(t.dtype()), comm_, stream_));
    finished_event()->wait();
    return out;
  }
  void barrier() override {
    Tensor one = ops::ones({1}, DType::Float32, Device::CUDA);
    all_reduce(one, ReduceOp::Sum);
  }

 private:
  // The collective starts after everything queued so far on the default stream.
  void after_default_stream() {
    cudaEvent_t ready;
    DRIFT_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    DRIFT_CUDA_CHECK(cudaEventRecord(ready, 0));
    DRIFT_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
    DRIFT_CUDA_CHECK(cudaEventDestroy(ready));  // released once the wait is satisfied
  }
  // An event after the collective. The default stream does not wait for it
  // (backward kernels go on meanwhile); the host does, in Work::wait().
  std::unique_ptr<Work> finished_event() {
    cudaEvent_t done;
    DRIFT_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    DRIFT_CUDA_CHECK(cudaEventRecord(done, stream_));
    return std::make_unique<NcclWork>(comm_, done);
  }

  int rank_, size_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl(Communicator& mpi, int local_rank) {
  return std::make_unique<NcclComm>(mpi, local_rank);
}

}  // namespace drift::dist::detail
#endif  // DRIFT_HAVE_NCCL
