#include "nn/unet_graph.h"

#include <cstdlib>
#include <cstring>

#include "autograd/engine.h"
#include "nn/autocast.h"
#include "tensor/ops.h"

namespace drift::nn {

bool cuda_graphs_from_env() {
  const char* v = std::getenv("DRIFT_CUDA_GRAPHS");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

Tensor UNetGraphs::forward(const Tensor& x, const Tensor& t, const Tensor& labels) {
  DRIFT_CHECK(!grad_enabled(), "UNetGraphs: a captured graph records no autograd graph; call it under NoGradGuard");
  DRIFT_CHECK(!net_.is_training(), "UNetGraphs: the U-Net must be in eval mode (dropout would be frozen at capture)");
  std::vector<const void*> weights;
  for (const Tensor& w : net_.parameters()) weights.push_back(w.data_ptr());
  if (weights != weights_) {  // the graphs read the old buffers: capture again
    entries_.clear();
    weights_ = weights;
  }
  Tensor temb = net_.embed(t, labels, x.size(0), x.device());  // eager: reads t on the host
  const std::string key = shape_str(x.shape()) + " " + dtype_name(x.dtype()) + " " + shape_str(temb.shape()) + " " +
                          precision_name(autocast_precision());
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    Entry e;
    e.x = ops::clone(x);
    e.temb = ops::clone(temb);
    // Eager first: warms cuBLAS and the allocator, and is this call's result.
    Tensor out = net_.forward_embedded(e.x, e.temb);
    Entry& stored = entries_[key];
    stored = std::move(e);
    try {
      stored.graph = capture_graph(x.device(), [&] { stored.out = net_.forward_embedded(stored.x, stored.temb); });
    } catch (...) {
      entries_.erase(key);
      throw;
    }
    return out;
  }
  Entry& e = it->second;
  ops::copy_(e.x, x);
  ops::copy_(e.temb, temb);
  e.graph->replay();
  ++replays_;
  return ops::clone(e.out);
}

}  // namespace drift::nn
