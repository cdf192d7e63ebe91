// The autograd engine: graph recording (record), the backward pass
// (backward, grad) and the grad-mode switch. See docs/AUTOGRAD.md.
//
// The graph: a value that needs a gradient carries an AutogradMeta whose
// grad_fn is the Node of the op that produced it. A Node holds the
// AutogradMeta of each input (null where no gradient flows), so following
// node->inputs[i]->grad_fn walks from the root back to the leaves.
#include "autograd/engine.h"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "tensor/ops.h"

namespace drift {

// ---------------------------------------------------------------- grad mode

namespace {
thread_local bool t_grad_enabled = true;
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

// ---------------------------------------------------------------- Node

// A chain out -> Node -> input meta -> Node -> ... would be freed by nested
// destructor calls, one level per op. Instead, move every producer that only
// this chain owns into a local list and let each die with no inputs left.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending;
  auto take_inputs = [&pending](std::vector<std::shared_ptr<AutogradMeta>>& ins) {
    for (std::shared_ptr<AutogradMeta>& m : ins) {
      if (m && m.use_count() == 1 && m->grad_fn && m->grad_fn.use_count() == 1)
        pending.push_back(std::move(m->grad_fn));
    }
    ins.clear();
  };
  take_inputs(inputs);
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    take_inputs(n->inputs);
    // n is destroyed here with an empty input list: no recursion.
  }
}

// ---------------------------------------------------------------- recording

bool record(Tensor& out, const char* name, const std::vector<Tensor>& inputs,
            std::function<std::vector<Tensor>(const Tensor& grad_out)> backward) {
  if (!grad_enabled()) return false;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return false;
  DRIFT_CHECK(out.defined(), "record('", name, "'): the output is undefined");

  // The output must be a TensorImpl of its own: some ops return an input
  // unchanged (contiguous() of a contiguous tensor), and giving that handle a
  // grad_fn would rewrite the input's history.
  bool shared = out.has_autograd_meta();
  for (const Tensor& t : inputs) shared = shared || out.is_same(t);
  if (shared) out = out.detach();

  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs.reserve(inputs.size());
  node->input_shapes.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    bool flows = t.defined() && t.requires_grad();
    node->inputs.push_back(flows ? t.impl_ptr()->autograd : nullptr);
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
  }
  node->backward = std::move(backward);

  AutogradMeta& meta = out.autograd_meta();
  meta.requires_grad = true;
  meta.grad_fn = std::move(node);
  return true;
}

void retain_grad(Tensor& t) {
  DRIFT_CHECK(t.requires_grad(), "retain_grad() on a tensor that does not require grad");
  t.autograd_meta().retains_grad = true;  // a no-op for leaves, which always keep .grad
}

// ---------------------------------------------------------------- backward pass

namespace {

// acc <- acc + g (a fresh tensor: gradients handed out are never modified in place).
void accumulate(Tensor& acc, const Tensor& g) { acc = acc.defined() ? ops::add(acc, g) : g; }

// Where the gradients of leaves go: into AutogradMeta::grad (backward) or
// into the result list of grad() for the requested inputs only.
struct Sink {
  const std::unordered_map<const AutogradMeta*, size_t>* targets = nullptr;  // null: backward()
  std::vector<Tensor>* results = nullptr;
  const LeafGradHook* on_leaf_ready = nullptr;  // backward() only

  bool capturing() const { return targets != nullptr; }
  // A value's gradient is complete; store it where it belongs.
  void deliver(AutogradMeta* meta, const Tensor& g, bool is_leaf) {
    if (capturing()) {
      auto it = targets->find(meta);
      if (it != targets->end()) accumulate((*results)[it->second], g);
      return;
    }
    if (is_leaf || meta->retains_grad) {
      // A fresh contiguous copy the first time: g may be a broadcast view
      // (stride 0) or shared with another input, and optimizers update .grad.
      meta->grad = meta->grad.defined() ? ops::add(meta->grad, g) : ops::clone(g);
    }
  }
};

// Nodes reachable from `root`, in an order where every node comes before the
// producers of its inputs (reverse post-order of an iterative depth-first
// search, so a 100k-op chain needs no deep recursion). `meta_of` maps each
// node to the AutogradMeta of the value it produced.
std::vector<Node*> topological_order(AutogradMeta* root, std::unordered_map<Node*, AutogradMeta*>& meta_of) {
  std::vector<Node*> post;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, size_t>> stack;  // (node, next input to visit)
  Node* start = root->grad_fn.get();
  meta_of[start] = root;
  seen.insert(start);
  stack.emplace_back(start, 0);
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      AutogradMeta* in = node->inputs[next++].get();
      if (in && in->grad_fn && seen.insert(in->grad_fn.get()).second) {
        meta_of[in->grad_fn.get()] = in;
        stack.emplace_back(in->grad_fn.get(), 0);
      }
    } else {
      post.push_back(node);
      stack.pop_back();
    }
  }
  return std::vector<Node*>(post.rbegin(), post.rend());
}

// Runs one node's backward formula on g = d(root)/d(its output) and passes
// each input's gradient on: to the producer's entry in `grads`, or to the sink
// for a leaf.
void propagate(Node& node, const Tensor& g, std::unordered_map<Node*, Tensor>& grads, Sink& sink) {
  std::vector<Tensor> in_grads = node.backward(g);
  DRIFT_CHECK(in_grads.size() == node.inputs.size(), "backward of '", node.name, "' returned ", in_grads.size(),
              " gradients for ", node.inputs.size(), " inputs");
  for (size_t i = 0; i < in_grads.size(); ++i) {
    AutogradMeta* in = node.inputs[i].get();
    const Tensor& gi = in_grads[i];
    if (!in || !gi.defined()) continue;  // no gradient flows here, or it is zero
    DRIFT_CHECK(gi.shape() == node.input_shapes[i], "backward of '", node.name, "' returned a gradient of shape ",
                shape_str(gi.shape()), " for input ", i, ", whose shape is ", shape_str(node.input_shapes[i]));
    if (in->grad_fn) {
      accumulate(grads[in->grad_fn.get()], gi);  // a value used twice gets the sum
    } else {
      sink.deliver(in, gi, true);
    }
  }
}

void run_backward(const Tensor& root, const Tensor& grad_root_in, bool retain_graph, Sink& sink) {
  DRIFT_CHECK(root.defined(), "backward(): the root tensor is undefined");
  DRIFT_CHECK(root.requires_grad(), "backward(): the root ", shape_str(root.shape()),
              " does not require grad: no input of its computation requires grad, or it was computed "
              "under NoGradGuard or from detach()ed values");
  Tensor grad_root = grad_root_in;
  if (!grad_root.defined()) {
    DRIFT_CHECK(root.numel() == 1, "backward(): grad_root must be given for a root with ", root.numel(),
                " elements (shape ", shape_str(root.shape()),
                "); only a one-element root (e.g. a loss) gets the implicit gradient 1");
    grad_root = ops::ones_like(root);
  }
  DRIFT_CHECK(grad_root.shape() == root.shape(), "backward(): grad_root has shape ", shape_str(grad_root.shape()),
              " but the root has shape ", shape_str(root.shape()));

  NoGradGuard no_grad;  // backward formulas must not record a graph of their own
  AutogradMeta* root_meta = root.impl_ptr()->autograd.get();
  const bool hook = sink.on_leaf_ready != nullptr && *sink.on_leaf_ready;
  if (!root_meta->grad_fn) {  // the root is itself a leaf
    sink.deliver(root_meta, grad_root, true);
    if (hook) (*sink.on_leaf_ready)(root_meta);
    return;
  }

  std::unordered_map<Node*, AutogradMeta*> meta_of;
  std::vector<Node*> order = topological_order(root_meta, meta_of);

  // grad() needs only the nodes with a requested input somewhere below them;
  // the others' backward formulas are skipped (e.g. parameter gradients when
  // only d/dx is asked for). Children come after parents in `order`.
  std::unordered_set<Node*> skip;
  if (sink.capturing()) {
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      bool needed = false;
      for (const std::shared_ptr<AutogradMeta>& in : (*it)->inputs) {
        if (!in) continue;
        needed = needed || sink.targets->count(in.get()) ||
                 (in->grad_fn && !skip.count(in->grad_fn.get()));
      }
      if (!needed) skip.insert(*it);
    }
  }
  std::unordered_map<Node*, Tensor> grads;  // d(root)/d(output of node), summed over uses
  grads[order.front()] = grad_root;

  // For the ready hook: how many nodes still to run feed each leaf. A leaf's
  // gradient is complete once the last node using it has run.
  std::unordered_map<AutogradMeta*, int> uses_left;
  if (hook) {
    for (Node* node : order)
      for (const std::shared_ptr<AutogradMeta>& in : node->inputs)
        if (in && !in->grad_fn) ++uses_left[in.get()];
  }

  for (Node* node : order) {
    auto it = grads.find(node);
    Tensor g;
    if (it != grads.end()) {
      g = std::move(it->second);
      grads.erase(it);
    }
    if (g.defined()) {
      DRIFT_CHECK(!node->released, "backward(): trying to backward through the graph a second time: the graph "
                  "was freed by the first backward() (at op '", node->name,
                  "'); pass retain_graph=true to the first backward() if you need to call it again");
      sink.deliver(meta_of[node], g, false);
      if (!skip.count(node)) propagate(*node, g, grads, sink);
    }
    if (hook) {
      for (const std::shared_ptr<AutogradMeta>& in : node->inputs)
        if (in && !in->grad_fn && --uses_left[in.get()] == 0) (*sink.on_leaf_ready)(in.get());
    }
    if (!retain_graph) {
      node->backward = nullptr;  // frees the saved tensors
      node->released = true;
    }
  }
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad_root, bool retain_graph, const LeafGradHook& on_leaf_ready) {
  Sink sink;
  sink.on_leaf_ready = &on_leaf_ready;
  run_backward(root, grad_root, retain_graph, sink);
}

std::vector<Tensor> grad(const Tensor& root, const std::vector<Tensor>& inputs, const Tensor& grad_root,
                         bool retain_graph) {
  std::unordered_map<const AutogradMeta*, size_t> targets;
  for (size_t i = 0; i < inputs.size(); ++i) {
    DRIFT_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad(): input ", i,
                " does not require grad, so no gradient can be computed for it");
    targets.emplace(inputs[i].impl_ptr()->autograd.get(), i);
  }
  std::vector<Tensor> results(inputs.size());
  Sink sink;
  sink.targets = &targets;
  sink.results = &results;
  run_backward(root, grad_root, retain_graph, sink);
  // The same tensor may be listed twice: give both entries its gradient.
  for (size_t i = 0; i < inputs.size(); ++i) {
    size_t first = targets.at(inputs[i].impl_ptr()->autograd.get());
    if (first != i) results[i] = results[first];
  }
  return results;
}

}  // namespace drift
