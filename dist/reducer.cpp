#include "dist/reducer.h"

#include <chrono>

#include "tensor/ops.h"

namespace drift::dist {

GradReducer::GradReducer(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  DRIFT_CHECK(bucket_bytes > 0, "GradReducer: bucket_bytes must be positive, got ", bucket_bytes);
  bucket_of_.assign(params_.size(), 0);
  is_ready_.assign(params_.size(), false);
  int64_t bucket_size = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    DRIFT_CHECK(p.defined() && p.requires_grad() && p.is_leaf(), "GradReducer: parameter ", k,
                " is not a leaf that requires grad");
    DRIFT_CHECK(is_floating(p.dtype()), "GradReducer: parameter ", k, " has dtype ", dtype_name(p.dtype()));
    const int64_t bytes = p.numel() * static_cast<int64_t>(dtype_size(p.dtype()));
    bool fresh = buckets_.empty() || bucket_size + bytes > bucket_bytes;
    if (!fresh) {
      const Tensor& first = params_[buckets_.back().params[0]];
      fresh = first.dtype() != p.dtype() || first.device() != p.device();
    }
    if (fresh) {
      buckets_.emplace_back();
      bucket_size = 0;
    }
    Bucket& b = buckets_.back();
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params_[b.params.back()].numel());
    b.params.push_back(k);
    bucket_size += bytes;
    bucket_of_[k] = buckets_.size() - 1;
    index_[p.impl_ptr()->autograd.get()] = k;
    stats_.bytes += bytes;
  }
  for (Bucket& b : buckets_) {
    const Tensor& last = params_[b.params.back()];
    const Tensor& first = params_[b.params[0]];
    b.buffer = ops::zeros({b.offsets.back() + last.numel()}, first.dtype(), first.device());
  }
  stats_.buckets = static_cast<int64_t>(buckets_.size());
}

std::vector<std::vector<size_t>> GradReducer::bucket_params() const {
  std::vector<std::vector<size_t>> out;
  for (const Bucket& b : buckets_) out.push_back(b.params);
  return out;
}

void GradReducer::begin() {
  for (Bucket& b : buckets_) {
    DRIFT_CHECK(!b.work, "GradReducer::begin: the previous step's reduction was not finished");
    b.pending = static_cast<int>(b.params.size());
  }
  is_ready_.assign(params_.size(), false);
  next_launch_ = 0;
}

void GradReducer::ready(const AutogradMeta* leaf) {
  auto it = index_.find(leaf);
  if (it == index_.end() || is_ready_[it->second]) return;  // not one of ours (e.g. an input)
  is_ready_[it->second] = true;
  --buckets_[bucket_of_[it->second]].pending;
  launch_ready_in_order();
  for (size_t i = 0; i < next_launch_; ++i)  // let MPI move the buckets in flight forward
    if (buckets_[i].work) buckets_[i].work->test();
}

void GradReducer::launch_ready_in_order() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    launch(buckets_[next_launch_++]);
  }
}

// Copies the bucket's gradients into its buffer (zeros where a gradient is
// undefined) and starts the all-reduce.
void GradReducer::launch(Bucket& b) {
  b.defined.assign(b.params.size(), false);
  for (size_t j = 0; j < b.params.size(); ++j) {
    const Tensor& p = params_[b.params[j]];
    Tensor dst = ops::narrow(b.buffer, 0, b.offsets[j], p.numel());
    Tensor g = p.grad();
    b.defined[j] = g.defined();
    if (g.defined()) {
      DRIFT_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(),
                  "GradReducer: parameter ", b.params[j], " has a gradient ", shape_str(g.shape()), " ",
                  dtype_name(g.dtype()), " for a parameter ", shape_str(p.shape()), " ", dtype_name(p.dtype()));
      ops::copy_(dst, ops::reshape(g, {p.numel()}));
    } else {
      ops::fill_(dst, 0.0);
    }
  }
  b.work = comm_.all_reduce_async(b.buffer, ReduceOp::Mean);
}

void GradReducer::finish() {
  const size_t during = next_launch_;
  while (next_launch_ < buckets_.size()) launch(buckets_[next_launch_++]);  // also unused parameters
  stats_.started_during_backward = static_cast<int64_t>(during);
  const auto t0 = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) {
    b.work->wait();
    b.work.reset();
  }
  stats_.wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Bucket& b : buckets_) {
    for (size_t j = 0; j < b.params.size(); ++j) {
      if (!b.defined[j]) continue;  // the same on every rank: the graph is the same
      Tensor p = params_[b.params[j]];
      p.set_grad(ops::reshape(ops::clone(ops::narrow(b.buffer, 0, b.offsets[j], p.numel())), p.shape()));
    }
  }
}

}  // namespace drift::dist
