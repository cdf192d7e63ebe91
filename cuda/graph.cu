// CUDA graphs (Backend::capture_graph): the device work of a function,
// captured once and replayed as one launch, so that a loop that runs the same
// kernels on the same buffers (a sampler's model evaluations) pays the
// launch overhead once per replay instead of once per kernel.
//
// Capture: every kernel, async copy and cuBLAS call of the backend is issued
// on current_stream(); during a capture that is a non-blocking stream of the
// graph's own, in cudaStreamCaptureModeRelaxed (cudaMalloc allowed). A replay
// is ordered with the legacy default stream that everything else uses by two
// events: the graph's stream waits for the default stream's work so far, and
// the default stream waits for the replay.
// Memory: the caching allocator's private pool (tensor/caching_allocator.h)
// takes every block handed out or given back during the capture, so the
// addresses the graph's kernels use are never handed to anyone else while
// the graph lives; no block is released (no cudaFree) during the capture.
// Host copies (cudaMemcpy) are not allowed in a capture: the index kernels'
// range check is skipped then (capturing()).
#include "cuda/common.cuh"

namespace drift::cuda {

namespace {

thread_local cudaStream_t g_stream = nullptr;  // null: the legacy default stream

class CudaGraph final : public DeviceGraph {
 public:
  CudaGraph(cudaStream_t stream, cudaGraph_t graph, cudaGraphExec_t exec, uint64_t pool)
      : stream_(stream), graph_(graph), exec_(exec), pool_(pool) {
    DRIFT_CUDA_CHECK(cudaEventCreateWithFlags(&before_, cudaEventDisableTiming));
    DRIFT_CUDA_CHECK(cudaEventCreateWithFlags(&after_, cudaEventDisableTiming));
  }
  ~CudaGraph() override {
    // Replays still in flight use the pool's blocks: wait before giving them back.
    cudaStreamSynchronize(stream_);
    cudaEventDestroy(before_);
    cudaEventDestroy(after_);
    cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
    cudaStreamDestroy(stream_);
    cudaGetLastError();  // destructors do not throw
    cuda_allocator().release_pool(pool_);
  }
  void replay() override {
    DRIFT_CUDA_CHECK(cudaEventRecord(before_, cudaStreamLegacy));  // the inputs' copies come first
    DRIFT_CUDA_CHECK(cudaStreamWaitEvent(stream_, before_, 0));
    DRIFT_CUDA_CHECK(cudaGraphLaunch(exec_, stream_));
    DRIFT_CUDA_CHECK(cudaEventRecord(after_, stream_));  // the output is read after
    DRIFT_CUDA_CHECK(cudaStreamWaitEvent(cudaStreamLegacy, after_, 0));
  }

 private:
  cudaStream_t stream_;
  cudaGraph_t graph_;
  cudaGraphExec_t exec_;
  uint64_t pool_;
  cudaEvent_t before_ = nullptr, after_ = nullptr;
};

std::unique_ptr<DeviceGraph> capture(const std::function<void()>& body) {
  DRIFT_CHECK(g_stream == nullptr, "CUDA graph: a capture is already under way on this thread");
  cudaStream_t stream = nullptr;
  // Everything before the capture has finished (the capture then only records).
  DRIFT_CUDA_CHECK(cudaDeviceSynchronize());
  DRIFT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  Allocator& alloc = cuda_allocator();
  const uint64_t pool = alloc.begin_pool();
  cudaGraph_t graph = nullptr;
  auto abandon = [&] {
    g_stream = nullptr;
    alloc.end_pool();
    if (graph) cudaGraphDestroy(graph);
    cudaStreamSynchronize(stream);
    cudaStreamDestroy(stream);
    cudaGetLastError();
    alloc.release_pool(pool);
  };
  try {
    DRIFT_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
    g_stream = stream;
    try {
      body();
    } catch (...) {
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(stream, &broken);
      if (broken) cudaGraphDestroy(broken);
      throw;
    }
    g_stream = nullptr;
    DRIFT_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    alloc.end_pool();
    cudaGraphExec_t exec = nullptr;
    DRIFT_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    return std::make_unique<CudaGraph>(stream, graph, exec, pool);
  } catch (...) {
    abandon();
    throw;
  }
}

}  // namespace

cudaStream_t current_stream() { return g_stream; }
bool capturing() { return g_stream != nullptr; }

void register_graph_support(Backend& b) { b.capture_graph = capture; }

}  // namespace drift::cuda
