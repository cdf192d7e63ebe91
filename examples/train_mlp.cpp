// A first end-to-end use of the autograd engine: fit y = sin(x) on
// [-pi, pi] with a two-layer MLP and plain gradient descent, written
// directly with tensors (no nn/ module), and print the falling loss.
//
//   y_hat = tanh(x W1^T + b1) W2^T + b2,   loss = mean((y_hat - sin x)^2)
//   theta <- theta - lr * d loss / d theta
//
// Run: ./build/train_mlp [steps]
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "autograd/functions.h"

using namespace drift;

namespace {

// A trainable leaf: N(0, std^2) initial values.
Tensor parameter(const Shape& shape, double std, Generator& gen) {
  Tensor p = ops::normal(shape, 0.0, std, gen);
  p.set_requires_grad(true);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int64_t n = 256, hidden = 32;
  // Gradient descent is stable for lr < 2 / (largest curvature); along W2 that is
  // about 2 * hidden * mean(h^2), so lr = 0.1 already diverges here.
  const double lr = 0.05;
  const double pi = 3.14159265358979323846;

  // Data: x in [-pi, pi] as a column [n, 1], target sin(x).
  Tensor x = ops::reshape(ops::linspace(-pi, pi, n), {n, 1});
  Tensor y = ops::sin(x);

  // Parameters (W1 [hidden, 1], b1 [hidden], W2 [1, hidden], b2 [1]).
  Generator gen(42);
  std::vector<Tensor> params = {parameter({hidden, 1}, 1.0, gen), parameter({hidden}, 0.5, gen),
                                parameter({1, hidden}, 1.0 / std::sqrt(static_cast<double>(hidden)), gen),
                                parameter({1}, 0.0, gen)};
  Tensor &w1 = params[0], &b1 = params[1], &w2 = params[2], &b2 = params[3];

  std::printf("fitting y = sin(x) with a 1-%lld-1 tanh MLP, %d steps of gradient descent (lr %.2f)\n",
              static_cast<long long>(hidden), steps, lr);
  double first = 0, last = 0;
  for (int step = 0; step <= steps; ++step) {
    // forward: the graph is recorded as the ops run
    Tensor h = tanh(linear(x, w1, b1));   // [n, hidden]
    Tensor pred = linear(h, w2, b2);      // [n, 1]
    Tensor loss = mse_loss(pred, y);      // mean squared error
    last = ops::item(loss);
    if (step == 0) first = last;
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0) std::printf("step %5d  loss %.6f\n", step, last);
    if (step == steps) break;

    // backward: d loss / d theta lands in each parameter's .grad
    backward(loss);

    // update in place, without recording a graph
    NoGradGuard no_grad;
    for (Tensor& p : params) {
      ops::copy_(p, ops::sub(p, ops::mul(p.grad(), lr)));  // theta <- theta - lr * grad
      p.set_grad(Tensor());                                // zero the gradient for the next step
    }
  }
  std::printf("loss %.6f -> %.6f\n", first, last);
  return last < first ? 0 : 1;
}
