#pragma once
// Data-parallel gradient averaging in buckets (as PyTorch DDP and llm.c do).
//
// The parameters are grouped, in reverse order (backward produces the last
// layers' gradients first), into buckets of about `bucket_bytes` of one dtype
// and device. During backward the autograd engine reports each parameter
// whose gradient is complete (backward's LeafGradHook -> ready()); when every
// gradient of a bucket is ready, the bucket is copied into one flat buffer and
// its all-reduce (mean over ranks) is started, non-blocking, while backward
// goes on. Buckets start in index order on every rank (the MPI rule that
// collectives are called in the same order). finish() starts what is left,
// waits for everything and writes the averaged gradients back.
//
// What overlaps (docs/DISTRIBUTED.md): with NCCL the reduction runs on its own
// CUDA stream beside the backward kernels. With MPI on CPUs, Open MPI moves a
// non-blocking collective forward only inside MPI calls, so ready() also polls
// the buckets in flight: their messages go out between backward's ops.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "dist/comm.h"

namespace drift::dist {

class GradReducer {
 public:
  GradReducer(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes = 4 << 20);

  void begin();                          // before backward
  void ready(const AutogradMeta* leaf);  // a parameter's gradient is complete
  void finish();                         // after backward: grad = mean over ranks of grad

  struct Stats {
    int64_t buckets = 0;
    int64_t bytes = 0;                  // all-reduced per step (the gradients' size)
    int64_t started_during_backward = 0; // buckets of the last step started before finish()
    double wait_seconds = 0;            // host time blocked in finish() in the last step
  };
  const Stats& stats() const { return stats_; }
  // The parameter indices of each bucket, in launch order.
  std::vector<std::vector<size_t>> bucket_params() const;

 private:
  struct Bucket {
    std::vector<size_t> params;
    std::vector<int64_t> offsets;  // element offset of each parameter in the buffer
    Tensor buffer;                 // flat, the bucket's dtype and device
    int pending = 0;               // gradients not yet ready
    std::vector<bool> defined;     // which gradients existed (undefined ones stay undefined)
    std::unique_ptr<Work> work;
  };
  void launch(Bucket& b);
  void launch_ready_in_order();

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;  // parameter -> bucket
  std::vector<bool> is_ready_;
  std::unordered_map<const AutogradMeta*, size_t> index_;
  size_t next_launch_ = 0;
  Stats stats_;
};

}  // namespace drift::dist
