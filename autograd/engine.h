#pragma once
// Reverse-mode autodiff, define-by-run (see docs/AUTOGRAD.md).
#include <functional>
#include <vector>

#include "autograd/node.h"
#include "tensor/tensor.h"

namespace drift {

// Whether ops record the graph (thread-local, on by default).
bool grad_enabled();
void set_grad_enabled(bool on);

// RAII scope in which no graph is recorded (evaluation, optimizer updates).
struct NoGradGuard {
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
 private:
  bool prev_;
};

// Called during backward() once per leaf as soon as its gradient for this
// pass is complete (leaf.grad() will not change again in this pass), e.g. to
// start reducing it across processes while the rest of backward runs
// (dist::GradReducer). Leaves the graph does not reach are not reported.
using LeafGradHook = std::function<void(const AutogradMeta* leaf)>;

// Computes d(root)/d(leaf) for every leaf that requires grad and accumulates
// it into leaf.grad(). `grad_root` defaults to 1 for a one-element root (and
// must be given otherwise). The graph is freed unless retain_graph.
void backward(const Tensor& root, const Tensor& grad_root = Tensor(), bool retain_graph = false,
              const LeafGradHook& on_leaf_ready = nullptr);

// Returns d(root)/d(inputs) without touching .grad (undefined where the
// input does not influence the root), like torch.autograd.grad.
std::vector<Tensor> grad(const Tensor& root, const std::vector<Tensor>& inputs,
                         const Tensor& grad_root = Tensor(), bool retain_graph = false);

// Keep .grad on a non-leaf value after backward.
void retain_grad(Tensor& t);

// Used by differentiable functions: if grad mode is on and any input requires
// grad, attaches a Node to `out` and returns true.
bool record(Tensor& out, const char* name, const std::vector<Tensor>& inputs,
            std::function<std::vector<Tensor>(const Tensor& grad_out)> backward);

}  // namespace drift
