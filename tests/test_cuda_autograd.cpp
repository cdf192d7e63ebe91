// CUDA backend, backward passes: for every differentiable function of
// autograd/functions.h the value and the gradients of sum(f(x) * r) agree
// between the CPU and the CUDA backend (float64: to ~1e-9; float32: to float32
// tolerance), and a representative set passes a float64 gradcheck run on the
// GPU itself. Skipped visibly without a GPU or without CUDA in the build.
#include <gtest/gtest.h>

#include "tests/cuda_skip.h"

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tensor/backend.h"

using namespace drift;

namespace {


constexpr Device kCuda = Device::CUDA;

// An input: shape and the interval its values are drawn from.
struct Input {
  Shape shape;
  double lo = -1, hi = 1;
};
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
struct Case {
  std::string name;
  std::vector<Input> inputs;
  Fn fn;
};

Tensor host_values(const Shape& shape, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = u(rng);
  return ops::from_vector(v, shape);
}

// Constants used inside the functions, placed on the inputs' device.
Tensor on(const Tensor& t, const Tensor& like) { return ops::to(ops::to(t, like.dtype()), like.device()); }
Tensor labels_on(const std::vector<int64_t>& v, const Tensor& like) {
  return ops::to(ops::from_vector(v, {static_cast<int64_t>(v.size())}), like.device());
}

std::vector<Case> all_cases() {
  using V = const std::vector<Tensor>&;
  std::vector<Case> c = {
      // views and copies
      {"reshape", {{{3, 4}}}, [](V x) { return reshape(x[0], {2, 6}); }},
      {"view", {{{3, 4}}}, [](V x) { return view(x[0], {4, 3}); }},
      {"flatten", {{{2, 3, 4}}}, [](V x) { return flatten(x[0], 1); }},
      {"permute", {{{2, 3, 4}}}, [](V x) { return permute(x[0], {2, 0, 1}); }},
      {"transpose", {{{3, 5}}}, [](V x) { return transpose(x[0], 0, 1); }},
      {"narrow", {{{4, 6}}}, [](V x) { return narrow(x[0], 1, 1, 3); }},
      {"select", {{{4, 6}}}, [](V x) { return select(x[0], 0, 2); }},
      {"expand", {{{3, 1}}}, [](V x) { return expand(x[0], {2, 3, 4}); }},
      {"squeeze", {{{3, 1, 4}}}, [](V x) { return squeeze(x[0], 1); }},
      {"unsqueeze", {{{3, 4}}}, [](V x) { return unsqueeze(x[0], 1); }},
      {"split", {{{5, 4}}}, [](V x) { auto p = split(x[0], {2, 3}, 0); return mul(p[0], narrow(p[1], 0, 0, 2)); }},
      {"chunk", {{{6, 4}}}, [](V x) { auto p = chunk(x[0], 3, 0); return add(p[0], mul(p[1], p[2])); }},
      {"contiguous", {{{3, 4}}}, [](V x) { return contiguous(transpose(x[0], 0, 1)); }},
      {"to dtype", {{{3, 4}}}, [](V x) { return to(to(x[0], DType::Float64), x[0].dtype()); }},
      {"cat", {{{2, 3}}, {{4, 3}}}, [](V x) { return cat({x[0], x[1]}, 0); }},
      {"stack", {{{2, 3}}, {{2, 3}}}, [](V x) { return stack({x[0], x[1]}, 1); }},
      // binary, broadcasting
      {"add", {{{3, 4}}, {{4}}}, [](V x) { return add(x[0], x[1]); }},
      {"sub", {{{3, 1}}, {{1, 4}}}, [](V x) { return sub(x[0], x[1]); }},
      {"mul", {{{2, 3, 4}}, {{3, 1}}}, [](V x) { return mul(x[0], x[1]); }},
      {"div", {{{3, 4}}, {{4}, 0.5, 2}}, [](V x) { return div(x[0], x[1]); }},
      {"pow", {{{3, 4}, 0.5, 2}, {{3, 4}}}, [](V x) { return pow(x[0], x[1]); }},
      {"maximum", {{{3, 4}}, {{4}}}, [](V x) { return maximum(x[0], x[1]); }},
      {"minimum", {{{3, 4}}, {{3, 1}}}, [](V x) { return minimum(x[0], x[1]); }},
      {"where", {{{3, 4}}, {{3, 4}}},
       [](V x) { return where(on(ops::gt(host_values({3, 4}, 7, -1, 1), ops::zeros({1}, DType::Float64)), x[0]), x[0], x[1]); }},
      // unary
      {"neg", {{{3, 4}}}, [](V x) { return neg(x[0]); }},
      {"abs", {{{3, 4}}}, [](V x) { return abs(x[0]); }},
      {"exp", {{{3, 4}}}, [](V x) { return exp(x[0]); }},
      {"log", {{{3, 4}, 0.5, 2}}, [](V x) { return log(x[0]); }},
      {"sqrt", {{{3, 4}, 0.5, 2}}, [](V x) { return sqrt(x[0]); }},
      {"rsqrt", {{{3, 4}, 0.5, 2}}, [](V x) { return rsqrt(x[0]); }},
      {"sin", {{{3, 4}}}, [](V x) { return sin(x[0]); }},
      {"cos", {{{3, 4}}}, [](V x) { return cos(x[0]); }},
      {"tanh", {{{3, 4}}}, [](V x) { return tanh(x[0]); }},
      {"sigmoid", {{{3, 4}}}, [](V x) { return sigmoid(x[0]); }},
      {"relu", {{{3, 4}}}, [](V x) { return relu(x[0]); }},
      {"silu", {{{3, 4}}}, [](V x) { return silu(x[0]); }},
      {"gelu", {{{3, 4}}}, [](V x) { return gelu(x[0]); }},
      {"square", {{{3, 4}}}, [](V x) { return square(x[0]); }},
      // scalar forms
      {"add scalar", {{{3, 4}}}, [](V x) { return add(x[0], 1.5); }},
      {"sub scalar", {{{3, 4}}}, [](V x) { return sub(x[0], 1.5); }},
      {"mul scalar", {{{3, 4}}}, [](V x) { return mul(x[0], -2.0); }},
      {"div scalar", {{{3, 4}}}, [](V x) { return div(x[0], 4.0); }},
      {"rsub", {{{3, 4}}}, [](V x) { return rsub(1.0, x[0]); }},
      {"pow scalar", {{{3, 4}, 0.5, 2}}, [](V x) { return pow(x[0], 1.7); }},
      {"clamp", {{{3, 4}}}, [](V x) { return clamp(x[0], -0.4, 0.5); }},
      // reductions
      {"sum all", {{{3, 4}}}, [](V x) { return sum(x[0]); }},
      {"sum dims", {{{2, 3, 4}}}, [](V x) { return sum(x[0], {0, 2}, true); }},
      {"mean", {{{2, 3, 4}}}, [](V x) { return mean(x[0], {1}); }},
      {"var", {{{2, 3, 4}}}, [](V x) { return var(x[0], {2}); }},
      {"amax", {{{3, 5}}}, [](V x) { return amax(x[0], {1}); }},
      {"amin", {{{3, 5}}}, [](V x) { return amin(x[0], {0}); }},
      {"logsumexp", {{{3, 5}}}, [](V x) { return logsumexp(x[0], {1}); }},
      // linear algebra, convolution, resampling
      {"matmul", {{{2, 3, 4}}, {{4, 5}}}, [](V x) { return matmul(x[0], x[1]); }},
      {"matmul transposed", {{{4, 3}}, {{5, 4}}},
       [](V x) { return matmul(transpose(x[0], 0, 1), transpose(x[1], 0, 1)); }},
      {"linear", {{{2, 3, 6}}, {{4, 6}}, {{4}}}, [](V x) { return linear(x[0], x[1], x[2]); }},
      {"conv2d", {{{2, 3, 6, 6}}, {{4, 3, 3, 3}}, {{4}}}, [](V x) { return conv2d(x[0], x[1], x[2], 1, 1); }},
      {"conv2d stride 2", {{{1, 2, 7, 7}}, {{3, 2, 3, 3}}}, [](V x) { return conv2d(x[0], x[1], Tensor(), 2, 0); }},
      {"avg_pool2d", {{{2, 3, 4, 6}}}, [](V x) { return avg_pool2d(x[0], 2); }},
      {"upsample_nearest2d", {{{2, 3, 2, 3}}}, [](V x) { return upsample_nearest2d(x[0], 2); }},
      // indexing
      {"index_select", {{{5, 3}}}, [](V x) { return index_select(x[0], 0, labels_on({4, 0, 4, 2}, x[0])); }},
      {"embedding", {{{6, 4}}}, [](V x) { return embedding(x[0], ops::reshape(labels_on({1, 5, 1, 0}, x[0]), {2, 2})); }},
      // softmax, normalisation, dropout, losses
      {"softmax", {{{3, 5}}}, [](V x) { return softmax(x[0], 1); }},
      {"softmax dim 0", {{{3, 5}}}, [](V x) { return softmax(x[0], 0); }},
      {"log_softmax", {{{3, 5}}}, [](V x) { return log_softmax(x[0], -1); }},
      {"group_norm", {{{2, 4, 3, 3}}, {{4}}, {{4}}}, [](V x) { return group_norm(x[0], 2, x[1], x[2]); }},
      {"group_norm no affine", {{{2, 6, 5}}}, [](V x) { return group_norm(x[0], 3, Tensor(), Tensor()); }},
      {"layer_norm", {{{3, 8}}, {{8}}, {{8}}}, [](V x) { return layer_norm(x[0], x[1], x[2]); }},
      {"dropout", {{{4, 8}}}, [](V x) { Generator g(5); return dropout(x[0], 0.3, g); }},
      {"mse_loss", {{{3, 4}}, {{3, 4}}}, [](V x) { return mse_loss(x[0], x[1]); }},
      {"cross_entropy", {{{4, 5}}}, [](V x) { return cross_entropy(x[0], labels_on({0, 4, 2, 2}, x[0])); }},
      // operator sugar
      {"operators", {{{3, 4}}, {{4}, 0.5, 2}}, [](V x) { return (x[0] * 2.0 - x[1]) / x[1] + 1.0 - (-x[0]); }},
  };
  return c;
}

// Value and gradients of sum(fn(inputs) * r) with the inputs on `device`.
struct Result {
  Tensor value;
  std::vector<Tensor> grads;
};
Result evaluate(const Case& c, DType dtype, Device device, uint64_t seed) {
  std::vector<Tensor> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor x = ops::to(ops::to(host_values(c.inputs[i].shape, seed + i, c.inputs[i].lo, c.inputs[i].hi), dtype), device);
    x.set_requires_grad(true);
    xs.push_back(x);
  }
  Tensor y = c.fn(xs);
  Tensor r = ops::to(ops::to(host_values(y.shape(), seed + 100, -1, 1), dtype), device);
  Tensor loss = sum(mul(y, r));
  Result res;
  res.value = ops::to(ops::to(y.detach(), Device::CPU), DType::Float64);
  for (Tensor& g : drift::grad(loss, xs))
    res.grads.push_back(g.defined() ? ops::to(ops::to(g, Device::CPU), DType::Float64) : Tensor());
  return res;
}

void expect_close(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  std::vector<double> g = ops::to_vector_f64(got), w = ops::to_vector_f64(want);
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    double excess = std::abs(g[i] - w[i]) - (atol + rtol * std::abs(w[i]));
    if (std::isnan(excess)) excess = INFINITY;
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  EXPECT_LE(worst, 0.0) << what << ": element " << at << " is " << g[at] << " on CUDA, " << w[at] << " on CPU";
}

void compare_backends(DType dtype, double rtol, double atol) {
  uint64_t seed = 1;
  for (const Case& c : all_cases()) {
    SCOPED_TRACE(c.name + " " + dtype_name(dtype));
    seed += 10;
    Result cpu, dev;
    try {
      cpu = evaluate(c, dtype, Device::CPU, seed);
      dev = evaluate(c, dtype, kCuda, seed);
    } catch (const Error& e) {
      ADD_FAILURE() << c.name << " threw: " << e.what();
      continue;
    }
    expect_close(dev.value, cpu.value, rtol, atol, c.name + " value");
    ASSERT_EQ(dev.grads.size(), cpu.grads.size());
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      ASSERT_EQ(dev.grads[i].defined(), cpu.grads[i].defined()) << c.name << " grad " << i;
      if (cpu.grads[i].defined())
        expect_close(dev.grads[i], cpu.grads[i], rtol, atol, c.name + " grad of input " + std::to_string(i));
    }
  }
}

}  // namespace

TEST(CudaAutograd, BackwardMatchesCpuFloat64) {
  REQUIRE_CUDA();
  compare_backends(DType::Float64, 1e-9, 1e-10);
}

TEST(CudaAutograd, BackwardMatchesCpuFloat32) {
  REQUIRE_CUDA();
  compare_backends(DType::Float32, 1e-4, 2e-5);
}

TEST(CudaAutograd, GradcheckOnTheGpu) {
  REQUIRE_CUDA();
  // A representative set: every kernel family with a backward pass.
  for (const char* name : {"matmul transposed", "conv2d", "conv2d stride 2", "avg_pool2d", "upsample_nearest2d",
                           "index_select", "embedding", "softmax dim 0", "log_softmax", "group_norm", "layer_norm",
                           "silu", "gelu", "div", "var", "amax", "logsumexp", "cross_entropy", "maximum"}) {
    const Case* found = nullptr;
    static const std::vector<Case> cases = all_cases();
    for (const Case& c : cases)
      if (c.name == name) found = &c;
    ASSERT_NE(found, nullptr) << name;
    std::vector<Tensor> xs;
    for (size_t i = 0; i < found->inputs.size(); ++i) {
      Tensor x = ops::to(host_values(found->inputs[i].shape, 500 + i, found->inputs[i].lo, found->inputs[i].hi), kCuda);
      x.set_requires_grad(true);
      xs.push_back(x);
    }
    GradcheckResult r = gradcheck(found->fn, xs);
    EXPECT_TRUE(r.ok) << name << " on CUDA: " << r.message;
  }
}

TEST(CudaAutograd, GradientsStayOnTheDevice) {
  REQUIRE_CUDA();
  Tensor w = ops::to(host_values({4, 3}, 9, -1, 1), kCuda);
  w.set_requires_grad(true);
  Tensor x = ops::to(host_values({5, 3}, 10, -1, 1), kCuda);
  Tensor loss = mean(square(linear(x, w, Tensor())));
  backward(loss);
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().device(), kCuda);
  EXPECT_EQ(w.grad().shape(), w.shape());
}
