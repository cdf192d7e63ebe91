// CUDA backend. Backend mode of the op-test registry (tests/op_cases.h):
// every case agrees between CUDA (fast and naive kernel variants) and the
// CPU, same inputs and strides (float32 tolerance; exact for int64); every
// gradient case agrees in value and gradients and passes a float64
// gradcheck on the GPU. Besides: the kernel table registers every op (checked
// WITHOUT a device, in any CUDA build), the caching allocator reuses blocks,
// CUDA errors become drift::Error, host <-> device copies. Without a GPU (or
// in a build without CUDA) the device tests are skipped with a visible reason.
#include <gtest/gtest.h>

#include "tests/cuda_skip.h"

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "tensor/backend.h"
#include "tensor/ops.h"
#include "tests/op_harness.h"
#ifdef DRIFT_HAVE_CUDA
#include "cuda/check.h"
#include "cuda/variant.h"
#endif

using namespace drift;

namespace {


constexpr Device kCuda = Device::CUDA;

// Uniform values in [lo, hi) from a fixed std::mt19937 seed (host-side data).
Tensor host_random(const Shape& shape, uint32_t seed, DType dtype = DType::Float32, double lo = -1, double hi = 1) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = u(gen);
  return ops::to(ops::from_vector(v, shape), dtype);
}

Tensor gpu(const Tensor& t) { return ops::to(t, kCuda); }

// |got - want| <= atol + rtol |want| elementwise; reports the worst element.
void expect_close(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  std::vector<double> g = ops::to_vector_f64(got), w = ops::to_vector_f64(want);
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    bool both_nan = std::isnan(g[i]) && std::isnan(w[i]);
    double excess = both_nan ? 0 : std::abs(g[i] - w[i]) - (atol + rtol * std::abs(w[i]));
    if (std::isnan(excess)) excess = INFINITY;
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  EXPECT_LE(worst, 0.0) << what << ": element " << at << " is " << g[at] << " on CUDA, " << w[at] << " on CPU";
}

// Float32 tolerance (1e-4 relative, 1e-5 absolute: a few ulps on sums of up to
// a few hundred terms), a much tighter one for float64, exact for int64.
void expect_match(const Tensor& cuda_result, const Tensor& cpu_result, const std::string& what) {
  EXPECT_EQ(cuda_result.device(), kCuda) << what;
  Tensor c = ops::to(cuda_result, Device::CPU);
  if (cpu_result.dtype() == DType::Float64) expect_close(c, cpu_result, 1e-10, 1e-12, what);
  else if (cpu_result.dtype() == DType::Int64) expect_close(c, cpu_result, 0, 0, what);
  else expect_close(c, cpu_result, 1e-4, 1e-5, what);
}

}  // namespace

// ---------------------------------------------------------------- backend basics

TEST(CudaBackend, RegisteredAndAvailable) {
  REQUIRE_CUDA();
  const Backend& b = backend(kCuda);
  EXPECT_EQ(b.name, "cuda");
  EXPECT_EQ(missing_ops(b), "");
}

TEST(CudaBackend, RoundTripThroughTheDevice) {
  REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    Tensor x = host_random({3, 5, 7}, 1, DType::Float64, -100, 100);
    x = ops::to(x, dt);
    Tensor back = ops::to(gpu(x), Device::CPU);
    expect_close(back, x, 0, 0, std::string("round trip ") + dtype_name(dt));
  }
}

TEST(CudaBackend, CachingAllocatorReusesFreedBlocks) {
  REQUIRE_CUDA();
  Allocator* a = backend(kCuda).allocator;
  a->empty_cache();
  EXPECT_EQ(a->cached_bytes(), 0u);
  void* p = a->allocate(1000);
  a->deallocate(p, 1000);
  EXPECT_GE(a->cached_bytes(), 1000u);
  void* q = a->allocate(900);  // same 512-byte bucket: the same block comes back
  EXPECT_EQ(p, q);
  a->deallocate(q, 900);
  a->empty_cache();
  EXPECT_EQ(a->cached_bytes(), 0u);
}

TEST(CudaBackend, CudaErrorsBecomeDriftErrors) {
  REQUIRE_CUDA();
#ifdef DRIFT_HAVE_CUDA
  float host = 0;
  try {
    DRIFT_CUDA_CHECK(cudaMemcpy(&host, reinterpret_cast<void*>(0x10), sizeof(float), cudaMemcpyDeviceToHost));
    ADD_FAILURE() << "expected drift::Error from an invalid cudaMemcpy";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("cudaMemcpy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test_cuda_ops.cpp"), std::string::npos) << msg;
  }
#endif
}

TEST(CudaBackend, MixingDevicesIsAClearError) {
  REQUIRE_CUDA();
  Tensor a = ops::ones({3});
  try {
    (void)ops::add(a, gpu(a));
    ADD_FAILURE() << "expected drift::Error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_TRUE(msg.find("cuda") != std::string::npos || msg.find("device") != std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------- the registry on CUDA

namespace {
using optest::all_cases;
using optest::Check;

std::vector<size_t> cases_where(bool grad) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < all_cases().size(); ++i)
    if (all_cases()[i].grad == grad && !all_cases()[i].perf_only) idx.push_back(i);
  return idx;
}
std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  return optest::test_name(all_cases()[info.param], info.param);
}

class CudaOp : public ::testing::TestWithParam<size_t> {};
class CudaGrad : public ::testing::TestWithParam<size_t> {};
}  // namespace

// Every op case: CUDA (each kernel variant) against the CPU.
TEST_P(CudaOp, MatchesCpu) {
  REQUIRE_CUDA();
  const optest::OpCase& c = all_cases()[GetParam()];
  for (const optest::Variant& v : optest::backend_variants(kCuda))
    for (DType dt : c.dtypes) {
      Check r = optest::under(v, [&] { return optest::check_backend(c, dt, kCuda); });
      EXPECT_TRUE(r.ok) << r.message;
    }
}
INSTANTIATE_TEST_SUITE_P(Registry, CudaOp, ::testing::ValuesIn(cases_where(false)), case_name);

// Every gradient case: value and gradients against the CPU (float64 and
// float32), and a float64 gradcheck on the GPU itself.
TEST_P(CudaGrad, MatchesCpuAndGradcheck) {
  REQUIRE_CUDA();
  const optest::OpCase& c = all_cases()[GetParam()];
  for (DType dt : c.dtypes) {
    Check r = optest::check_grad_backend(c, dt, kCuda);
    EXPECT_TRUE(r.ok) << r.message;
  }
  Check g = optest::check_grad(c, kCuda);
  EXPECT_TRUE(g.ok) << g.message;
}
INSTANTIATE_TEST_SUITE_P(Registry, CudaGrad, ::testing::ValuesIn(cases_where(true)), case_name);

// Backend completeness without a device: building the CUDA kernel table needs
// no GPU, so any CUDA build registers the backend (or records why not) at
// start-up, and this test fails naming the ops its table misses.
TEST(CudaBackend, TableRegistersEveryOpWithoutADevice) {
#ifndef DRIFT_HAVE_CUDA
  GTEST_SKIP() << "drift was built without the CUDA backend";
#else
  const Backend* b = registered_backend(kCuda);
  ASSERT_NE(b, nullptr) << "the CUDA backend was not registered: " << registration_error(kCuda);
  EXPECT_EQ(missing_ops(*b), "");
  EXPECT_EQ(b->name, "cuda");
#endif
}

TEST(CudaBackend, RegistrationRejectsAnIncompleteTable) {
  // What a CUDA build with a forgotten kernel would hit at start-up.
  Backend b = *registered_backend(Device::CPU);
  b.kernels[static_cast<int>(OpKind::Conv2d)] = nullptr;
  b.device = Device::CUDA;
  b.name = "incomplete";
  const Backend* before = registered_backend(Device::CUDA);
  const std::string before_error = registration_error(Device::CUDA);
  try {
    register_backend(b);
    ADD_FAILURE() << "expected drift::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Conv2d"), std::string::npos) << e.what();
  }
  EXPECT_NE(registration_error(Device::CUDA).find("Conv2d"), std::string::npos);
  EXPECT_EQ(registered_backend(Device::CUDA), before);  // nothing replaced
}

// ---------------------------------------------------------------- copies, random, sizes, errors

TEST(CudaCopy, HostDeviceCopiesIntoStridedDestinations) {
  REQUIRE_CUDA();
  // copy_ across devices in both directions, into strided destinations
  Tensor host_dst = ops::zeros({4, 3});
  Tensor dev_src = gpu(host_random({3, 4}, 6));
  Tensor host_view = ops::transpose(host_dst, 0, 1);
  ops::copy_(host_view, dev_src);
  expect_close(host_dst, ops::contiguous(ops::transpose(ops::to(dev_src, Device::CPU), 0, 1)), 0, 0, "device->host");
  Tensor dev_dst = ops::zeros({4, 3}, DType::Float64, kCuda);
  Tensor dev_view = ops::transpose(dev_dst, 0, 1);
  Tensor host_src = host_random({3, 4}, 7);
  ops::copy_(dev_view, host_src);
  expect_match(dev_dst, ops::to(ops::contiguous(ops::transpose(host_src, 0, 1)), DType::Float64), "host->device");
}

TEST(CudaRandom, RandintMatchesCpu) {
  REQUIRE_CUDA();
  Generator gc(99), gd(99);
  expect_close(ops::to(ops::randint(-3, 17, {5, 9}, gd, kCuda), Device::CPU), ops::randint(-3, 17, {5, 9}, gc), 0, 0,
               "randint");
}

TEST(CudaRandom, NormalHasTheRightMoments) {
  REQUIRE_CUDA();
  Generator g(7);
  Tensor z = ops::randn({1 << 20}, g, DType::Float32, kCuda);
  double m = ops::item(ops::mean(z)), v = ops::item(ops::var(z));
  EXPECT_NEAR(m, 0.0, 5e-3);
  EXPECT_NEAR(v, 1.0, 5e-3);
}

TEST(CudaElementwise, LargeTensorsUseTheGridStrideLoop) {
  REQUIRE_CUDA();
  Tensor a = host_random({1 << 22}, 23), b = host_random({1 << 22}, 24);  // > 65536 blocks of 256 threads
  expect_match(ops::add(gpu(a), gpu(b)), ops::add(a, b), "add 4M");
}

TEST(CudaReduce, EmptyTensors) {
  REQUIRE_CUDA();
  Tensor e = ops::zeros({0, 3}, DType::Float32, kCuda);
  EXPECT_EQ(ops::add(e, e).numel(), 0);
  expect_match(ops::sum(e, {0}), ops::sum(ops::zeros({0, 3}), {0}), "sum over an empty dim");
  Tensor a = ops::zeros({4, 0}, DType::Float32, kCuda), b = ops::zeros({0, 5}, DType::Float32, kCuda);
  expect_match(ops::matmul(a, b), ops::zeros({4, 5}), "matmul with k = 0");
}

TEST(CudaConv, NaiveAndFastAgreeOnALargerLayer) {
  REQUIRE_CUDA();
#ifdef DRIFT_HAVE_CUDA
  Tensor x = gpu(host_random({4, 32, 32, 32}, 100)), w = gpu(host_random({64, 32, 3, 3}, 101));
  Tensor b = gpu(host_random({64}, 102));
  Tensor fast = ops::conv2d(x, w, b, 1, 1);
  Tensor gy = gpu(host_random(fast.shape(), 103));
  Tensor fast_gx = ops::conv2d_backward_input(gy, w, x.shape(), 1, 1);
  Tensor fast_gw = ops::conv2d_backward_weight(gy, x, w.shape(), 1, 1);
  cuda::KernelVariantGuard naive(cuda::KernelVariant::Naive);
  expect_close(ops::to(ops::conv2d(x, w, b, 1, 1), Device::CPU), ops::to(fast, Device::CPU), 1e-4, 1e-4, "forward");
  expect_close(ops::to(ops::conv2d_backward_input(gy, w, x.shape(), 1, 1), Device::CPU),
               ops::to(fast_gx, Device::CPU), 1e-4, 1e-4, "backward input");
  expect_close(ops::to(ops::conv2d_backward_weight(gy, x, w.shape(), 1, 1), Device::CPU),
               ops::to(fast_gw, Device::CPU), 1e-4, 1e-3, "backward weight");
#endif
}

TEST(CudaIndex, OutOfRangeIndexThrows) {
  REQUIRE_CUDA();
  Tensor t = ops::zeros({4, 2}, DType::Float32, kCuda);
  Tensor bad = gpu(ops::from_vector(std::vector<int64_t>{0, 4}, {2}));
  EXPECT_THROW((void)ops::index_select(t, 0, bad), Error);
  EXPECT_THROW((void)ops::index_add({4, 2}, 0, bad, ops::ones({2, 2}, DType::Float32, kCuda)), Error);
}

// ---------------------------------------------------------------- losses, autograd

TEST(CudaSoftmaxNorm, LossesMatchCpu) {
  REQUIRE_CUDA();
  Tensor p = host_random({16, 10}, 150), q = host_random({16, 10}, 151);
  Tensor labels = ops::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5}, {16});
  expect_match(ops::mse_loss(gpu(p), gpu(q)), ops::mse_loss(p, q), "mse_loss");
  expect_match(ops::cross_entropy(gpu(p), gpu(labels)), ops::cross_entropy(p, labels), "cross_entropy");
  expect_match(ops::one_hot(gpu(labels), 10), ops::one_hot(labels, 10), "one_hot");
}

TEST(CudaAutograd, GradientsStayOnTheDevice) {
  REQUIRE_CUDA();
  Tensor w = ops::to(host_random({4, 3}, 9, DType::Float64), kCuda);
  w.set_requires_grad(true);
  Tensor x = ops::to(host_random({5, 3}, 10, DType::Float64), kCuda);
  Tensor loss = mean(square(linear(x, w, Tensor())));
  backward(loss);
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().device(), kCuda);
  EXPECT_EQ(w.grad().shape(), w.shape());
}
