#pragma once
// A node of the autograd graph: the op that produced a value. It holds the
// autograd slots of its inputs (null for inputs that need no gradient) and a
// backward function, written with tensor ops, that maps d(root)/d(output) to
// d(root)/d(input) for every input.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace drift {

struct Node {
  std::string name;                                     // the op's name, for error messages
  std::vector<std::shared_ptr<AutogradMeta>> inputs;    // null where no gradient flows
  std::vector<Shape> input_shapes;                      // to check returned gradients
  std::function<std::vector<Tensor>(const Tensor& grad_out)> backward;  // one grad per input (undefined = zero)
  bool released = false;                                // saved tensors freed after backward

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees the chain of producers behind this node iteratively (autograd/engine.cpp),
  // so that dropping a graph of 100k ops cannot overflow the stack.
  ~Node();
};

}  // namespace drift
