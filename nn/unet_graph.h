#pragma once
// CUDA graphs for sampling: a U-Net evaluation (UNet::forward_embedded, the
// part after the time and label embeddings) captured once per input shape and
// precision and replayed on every later call (tensor/backend.h DeviceGraph,
// cuda/graph.cu). A sampler calls the model 50-1000 times with the same
// shapes, and each evaluation is ~hundreds of small kernels, so replaying them
// as one launch removes their launch overhead.
//
// Each captured entry owns static input buffers (x and the embedding): a call
// copies its inputs into them, replays, and returns a copy of the static
// output. The first call of a shape runs eagerly (warming cuBLAS and the
// allocator), then captures. Results equal the eager path's (the same
// kernels on the same values; tests/test_cuda_graphs.cpp). Only without
// autograd and with the model in eval mode (dropout would draw random numbers
// at capture time only). When the parameters' buffers change (an EMA swap),
// every graph is dropped and captured again.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/unet.h"
#include "tensor/backend.h"

namespace drift::nn {

// True when the environment asks for CUDA graphs in sampling (DRIFT_CUDA_GRAPHS=1).
bool cuda_graphs_from_env();

class UNetGraphs {
 public:
  explicit UNetGraphs(UNet& net) : net_(net) {}
  // net.forward(x, t, labels) on a device with graphs (CUDA), grad mode off.
  Tensor forward(const Tensor& x, const Tensor& t, const Tensor& labels = Tensor());
  int64_t captured() const { return static_cast<int64_t>(entries_.size()); }
  int64_t replays() const { return replays_; }

 private:
  struct Entry {
    Tensor x, temb, out;
    std::unique_ptr<DeviceGraph> graph;
  };
  UNet& net_;
  std::vector<const void*> weights_;      // the parameters' buffers the graphs read (EMA swaps change them)
  std::map<std::string, Entry> entries_;  // key: shapes, dtype, autocast precision
  int64_t replays_ = 0;
};

}  // namespace drift::nn
