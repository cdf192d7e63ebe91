// CUDA backend, forward ops: every op agrees with the CPU backend (within
// float32 tolerance; exactly for copies, comparisons and random numbers) on
// contiguous and on strided/broadcast inputs; the naive and fast kernel
// variants agree; the caching allocator reuses blocks; CUDA errors become
// drift::Error. Without a GPU (or in a build without CUDA) every test is
// skipped with a visible reason.
#include <gtest/gtest.h>

#include "tests/cuda_skip.h"

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/ops.h"
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

// A strided (non-contiguous) tensor with the values of `t`: a transposed copy
// transposed back, so its last two dims have swapped strides.
Tensor strided_copy(const Tensor& t) {
  if (t.dim() < 2) {  // every other element of a twice-as-long tensor
    Tensor big = ops::zeros({t.numel() * 2}, t.dtype(), t.device());
    Tensor view = ops::slice(big, 0, 0, t.numel() * 2, 2);
    ops::copy_(view, t);
    return ops::reshape(view, t.shape());
  }
  Tensor tt = ops::contiguous(ops::transpose(t, -1, -2));
  return ops::transpose(tt, -1, -2);
}

using Unary = std::function<Tensor(const Tensor&)>;
using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;

// Runs f on CPU inputs and on the same inputs on CUDA (contiguous, then
// strided) and compares.
void check_unary(const std::string& name, const Unary& f, const Tensor& x) {
  Tensor want = f(x);
  expect_match(f(gpu(x)), want, name + " (contiguous)");
  Tensor xs = strided_copy(gpu(x));
  ASSERT_FALSE(xs.is_contiguous() && x.dim() >= 2 && x.size(-1) > 1 && x.size(-2) > 1);
  expect_match(f(xs), want, name + " (strided)");
}
void check_binary(const std::string& name, const Binary& f, const Tensor& a, const Tensor& b) {
  Tensor want = f(a, b);
  expect_match(f(gpu(a), gpu(b)), want, name + " (contiguous)");
  expect_match(f(strided_copy(gpu(a)), strided_copy(gpu(b))), want, name + " (strided)");
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

// ---------------------------------------------------------------- copy, fill

TEST(CudaCopy, FillStridedViews) {
  REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    Tensor cpu = ops::zeros({4, 6}, dt), dev = ops::zeros({4, 6}, dt, kCuda);
    Tensor cv = ops::slice(ops::transpose(cpu, 0, 1), 0, 1, 6, 2), dv = ops::slice(ops::transpose(dev, 0, 1), 0, 1, 6, 2);
    ops::fill_(cv, 3.0);
    ops::fill_(dv, 3.0);
    expect_match(dev, cpu, std::string("fill strided ") + dtype_name(dt));
  }
}

TEST(CudaCopy, CopyWithBroadcastStridesAndDtypeConversion) {
  REQUIRE_CUDA();
  Tensor src = host_random({3, 1, 5}, 2, DType::Float64, -50, 50);
  for (DType to : {DType::Float32, DType::Float64, DType::Int64}) {
    for (DType from : {DType::Float32, DType::Float64, DType::Int64}) {
      Tensor s = ops::to(src, from);
      Tensor cpu = ops::zeros({5, 3, 4, 5}, to), dev = ops::zeros({5, 3, 4, 5}, to, kCuda);
      ops::copy_(cpu, s);
      ops::copy_(dev, gpu(s));
      expect_match(dev, cpu, std::string("copy ") + dtype_name(from) + " -> " + dtype_name(to));
      // into a permuted destination from a permuted source
      Tensor cperm = ops::permute(ops::zeros({5, 4, 3, 5}, to), {0, 2, 1, 3});
      Tensor dperm = ops::permute(ops::zeros({5, 4, 3, 5}, to, kCuda), {0, 2, 1, 3});
      Tensor ssrc = ops::permute(ops::to(host_random({5, 4, 5, 3}, 3, DType::Float64, -9, 9), from), {0, 3, 1, 2});
      ops::copy_(cperm, ssrc);
      ops::copy_(dperm, gpu(ssrc));
      expect_match(dperm, cperm, std::string("permuted copy ") + dtype_name(from) + " -> " + dtype_name(to));
    }
  }
}

TEST(CudaCopy, ContiguousCatStackAndHostCopies) {
  REQUIRE_CUDA();
  Tensor a = host_random({2, 3, 4}, 4), b = host_random({2, 5, 4}, 5);
  expect_match(ops::contiguous(ops::permute(gpu(a), {2, 0, 1})), ops::contiguous(ops::permute(a, {2, 0, 1})),
               "contiguous(permute)");
  expect_match(ops::cat({gpu(a), gpu(b)}, 1), ops::cat({a, b}, 1), "cat");
  expect_match(ops::stack({gpu(a), gpu(a)}, 0), ops::stack({a, a}, 0), "stack");
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

// ---------------------------------------------------------------- random

TEST(CudaRandom, SameSeedSameNumbersAsCpu) {
  REQUIRE_CUDA();
  for (int64_t n : {1, 3, 4, 7, 1001}) {
    for (DType dt : {DType::Float32, DType::Float64}) {
      Generator gc(1234, 5), gd(1234, 5);
      // two draws each: the second one starts at an advanced offset
      for (int draw = 0; draw < 2; ++draw) {
        // Bit-identical unless the host compiler fused a*b+c into an FMA
        // (GCC does for C++ with -march=native): then the last bit of a double
        // may differ, so allow a double ulp, and a few float ulps for float32
        // normals (polynomials of ~20 operations).
        Tensor u_cpu = ops::rand({n}, gc, dt), u_dev = ops::rand({n}, gd, dt, kCuda);
        expect_close(ops::to(u_dev, Device::CPU), u_cpu, 0, 1e-15, "rand n=" + std::to_string(n));
        Tensor z_cpu = ops::normal({n}, 0.5, 2.0, gc, dt), z_dev = ops::normal({n}, 0.5, 2.0, gd, dt, kCuda);
        // float64: besides, libm and CUDA's log/sin/cos may differ in the last bit
        double tol = dt == DType::Float32 ? 1e-6 : 1e-12;
        expect_close(ops::to(z_dev, Device::CPU), z_cpu, tol, tol, "normal n=" + std::to_string(n));
      }
      EXPECT_EQ(gc.offset, gd.offset);
    }
  }
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

// ---------------------------------------------------------------- elementwise

TEST(CudaElementwise, BinaryOpsBroadcastAndStrides) {
  REQUIRE_CUDA();
  std::vector<std::pair<std::string, Binary>> ops_list = {
      {"add", [](const Tensor& a, const Tensor& b) { return ops::add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return ops::sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return ops::mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return ops::div(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return ops::maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return ops::minimum(a, b); }},
      {"silu_backward", [](const Tensor& a, const Tensor& b) { return ops::silu_backward(a, b); }},
      {"eq", [](const Tensor& a, const Tensor& b) { return ops::eq(a, b); }},
      {"ne", [](const Tensor& a, const Tensor& b) { return ops::ne(a, b); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return ops::lt(a, b); }},
      {"le", [](const Tensor& a, const Tensor& b) { return ops::le(a, b); }},
      {"gt", [](const Tensor& a, const Tensor& b) { return ops::gt(a, b); }},
      {"ge", [](const Tensor& a, const Tensor& b) { return ops::ge(a, b); }},
  };
  for (DType dt : {DType::Float32, DType::Float64}) {
    // values rounded to a coarse grid so that eq/le/ge see real ties
    auto halves = [](const Tensor& t) {  // t rounded towards 0 to a multiple of 1/2
      return ops::div(ops::to(ops::to(ops::mul(t, 2.0), DType::Int64), DType::Float64), 2.0);
    };
    Tensor a = ops::to(halves(host_random({3, 4, 5}, 10, DType::Float64, -4, 4)), dt);
    Tensor b = ops::to(halves(host_random({4, 1}, 11, DType::Float64, 0.5, 4)), dt);
    for (auto& [name, f] : ops_list) check_binary(name + " " + dtype_name(dt), f, a, b);
    Tensor base = host_random({6, 7}, 12, dt, 0.2, 3), ex = host_random({6, 7}, 13, dt, -2, 2);
    check_binary(std::string("pow ") + dtype_name(dt), [](const Tensor& x, const Tensor& y) { return ops::pow(x, y); },
                 base, ex);
  }
  // int64: arithmetic and comparisons (not div/pow)
  Tensor ai = ops::to(host_random({5, 6}, 14, DType::Float64, -20, 20), DType::Int64);
  Tensor bi = ops::to(host_random({6}, 15, DType::Float64, -20, 20), DType::Int64);
  for (auto& [name, f] : ops_list)
    if (name != "div") check_binary(name + " int64", f, ai, bi);
}

TEST(CudaElementwise, WhereBroadcasts) {
  REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    Tensor c = ops::to(ops::gt(host_random({4, 1, 6}, 16, DType::Float64), ops::zeros({1}, DType::Float64)), dt);
    Tensor a = ops::to(host_random({5, 6}, 17, DType::Float64, -9, 9), dt);
    Tensor b = ops::to(host_random({4, 5, 1}, 18, DType::Float64, -9, 9), dt);
    Tensor want = ops::where(c, a, b);
    expect_match(ops::where(gpu(c), gpu(a), gpu(b)), want, std::string("where ") + dtype_name(dt));
    expect_match(ops::where(gpu(c), strided_copy(gpu(a)), strided_copy(gpu(b))), want,
                 std::string("where strided ") + dtype_name(dt));
  }
}

TEST(CudaElementwise, UnaryOps) {
  REQUIRE_CUDA();
  std::vector<std::pair<std::string, Unary>> any_sign = {
      {"neg", [](const Tensor& x) { return ops::neg(x); }},
      {"abs", [](const Tensor& x) { return ops::abs(x); }},
      {"sign", [](const Tensor& x) { return ops::sign(x); }},
      {"exp", [](const Tensor& x) { return ops::exp(x); }},
      {"sin", [](const Tensor& x) { return ops::sin(x); }},
      {"cos", [](const Tensor& x) { return ops::cos(x); }},
      {"tanh", [](const Tensor& x) { return ops::tanh(x); }},
      {"sigmoid", [](const Tensor& x) { return ops::sigmoid(x); }},
      {"relu", [](const Tensor& x) { return ops::relu(x); }},
      {"silu", [](const Tensor& x) { return ops::silu(x); }},
      {"gelu", [](const Tensor& x) { return ops::gelu(x); }},
      {"erf", [](const Tensor& x) { return ops::erf(x); }},
      {"square", [](const Tensor& x) { return ops::square(x); }},
      {"affine", [](const Tensor& x) { return ops::affine(x, -1.5, 0.25); }},
      {"clamp", [](const Tensor& x) { return ops::clamp(x, -0.5, 0.75); }},
      {"pow 3", [](const Tensor& x) { return ops::pow(x, 3.0); }},
      {"rsub", [](const Tensor& x) { return ops::rsub(2.0, x); }},
  };
  std::vector<std::pair<std::string, Unary>> positive = {
      {"log", [](const Tensor& x) { return ops::log(x); }},
      {"sqrt", [](const Tensor& x) { return ops::sqrt(x); }},
      {"rsqrt", [](const Tensor& x) { return ops::rsqrt(x); }},
      {"pow 1.7", [](const Tensor& x) { return ops::pow(x, 1.7); }},
      {"pow -0.5", [](const Tensor& x) { return ops::pow(x, -0.5); }},
      {"pow 2", [](const Tensor& x) { return ops::pow(x, 2.0); }},
  };
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor x = host_random({7, 9}, 20, dt, -4, 4), xp = host_random({7, 9}, 21, dt, 0.05, 5);
    for (auto& [name, f] : any_sign) check_unary(name + " " + dtype_name(dt), f, x);
    for (auto& [name, f] : positive) check_unary(name + " " + dtype_name(dt), f, xp);
  }
  // int64: the ops the CPU supports on integers (affine needs integer a and b)
  Tensor xi = ops::to(host_random({7, 9}, 22, DType::Float64, -30, 30), DType::Int64);
  for (const char* name : {"neg", "abs", "sign", "relu"})
    for (auto& [n, f] : any_sign)
      if (n == name) check_unary(n + " int64", f, xi);
  check_unary("affine int64", [](const Tensor& x) { return ops::affine(x, -2, 3); }, xi);
  check_unary("clamp int64", [](const Tensor& x) { return ops::clamp(x, -5.5, 7.5); }, xi);
}

TEST(CudaElementwise, LargeTensorsUseTheGridStrideLoop) {
  REQUIRE_CUDA();
  Tensor a = host_random({1 << 22}, 23), b = host_random({1 << 22}, 24);  // > 65536 blocks of 256 threads
  expect_match(ops::add(gpu(a), gpu(b)), ops::add(a, b), "add 4M");
}

// ---------------------------------------------------------------- reductions

TEST(CudaReduce, SumMeanMaxMinOverDims) {
  REQUIRE_CUDA();
  std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {2}, {0, 2}, {-1}, {1, 2}};
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor x = host_random({6, 37, 5}, 30, dt);
    for (const auto& dims : dim_sets) {
      for (bool keep : {false, true}) {
        std::string tag = std::string(dtype_name(dt)) + " dims " + shape_str(dims) + (keep ? " keepdim" : "");
        check_unary("sum " + tag, [&](const Tensor& t) { return ops::sum(t, dims, keep); }, x);
        check_unary("mean " + tag, [&](const Tensor& t) { return ops::mean(t, dims, keep); }, x);
        check_unary("amax " + tag, [&](const Tensor& t) { return ops::amax(t, dims, keep); }, x);
        check_unary("amin " + tag, [&](const Tensor& t) { return ops::amin(t, dims, keep); }, x);
        check_unary("var " + tag, [&](const Tensor& t) { return ops::var(t, dims, keep); }, x);
      }
    }
    check_unary(std::string("logsumexp ") + dtype_name(dt), [](const Tensor& t) { return ops::logsumexp(t, {1}); }, x);
  }
  Tensor xi = ops::to(host_random({4, 9, 3}, 31, DType::Float64, -50, 50), DType::Int64);
  check_unary("sum int64", [](const Tensor& t) { return ops::sum(t, {1}); }, xi);
  check_unary("amax int64", [](const Tensor& t) { return ops::amax(t, {0, 2}); }, xi);
}

TEST(CudaReduce, LongRowsAndColumns) {
  REQUIRE_CUDA();
  Tensor x = host_random({3, 100000}, 32);  // long rows: one block per row
  check_unary("sum long rows", [](const Tensor& t) { return ops::sum(t, {1}); }, x);
  check_unary("amax long rows", [](const Tensor& t) { return ops::amax(t, {1}); }, x);
  Tensor y = host_random({5000, 70}, 33);  // many short rows: one warp per row
  check_unary("sum short rows", [](const Tensor& t) { return ops::sum(t, {1}); }, y);
  check_unary("sum columns", [](const Tensor& t) { return ops::sum(t, {0}); }, y);
  Tensor all = host_random({1 << 20}, 34);
  Tensor want = ops::sum(all);
  expect_close(ops::to(ops::sum(gpu(all)), Device::CPU), want, 1e-4, 1e-2, "sum of 1M");
}

TEST(CudaReduce, ArgMaxArgMinFirstIndexOnTies) {
  REQUIRE_CUDA();
  // a coarse grid gives many ties; the first index must win on both devices
  Tensor x = ops::to(ops::to(host_random({5, 40, 3}, 35, DType::Float64, -3, 3), DType::Int64), DType::Float32);
  for (int64_t d : {0, 1, 2, -1}) {
    for (bool keep : {false, true}) {
      check_unary("argmax dim " + std::to_string(d), [&](const Tensor& t) { return ops::argmax(t, d, keep); }, x);
      check_unary("argmin dim " + std::to_string(d), [&](const Tensor& t) { return ops::argmin(t, d, keep); }, x);
    }
  }
  Tensor big = host_random({2, 9000}, 36);
  check_unary("argmax long rows", [](const Tensor& t) { return ops::argmax(t, 1); }, big);
}

TEST(CudaReduce, NaNPropagatesLikeOnTheCpu) {
  REQUIRE_CUDA();
  std::vector<float> v = {1, NAN, 3, -2, 5, 0, NAN, 4, 7, -1, 2, 2};
  Tensor x = ops::from_vector(v, {3, 4});
  for (int64_t d : {0, 1}) {
    check_unary("amax NaN", [&](const Tensor& t) { return ops::amax(t, {d}); }, x);
    check_unary("amin NaN", [&](const Tensor& t) { return ops::amin(t, {d}); }, x);
    check_unary("argmax NaN", [&](const Tensor& t) { return ops::argmax(t, d); }, x);
    check_unary("argmin NaN", [&](const Tensor& t) { return ops::argmin(t, d); }, x);
  }
  Tensor y = ops::from_vector(std::vector<float>{NAN, 0, 1, 9, 9, 9, 9, 9, NAN, 0, 0, 0}, {3, 4});
  check_binary("maximum NaN", [](const Tensor& a, const Tensor& b) { return ops::maximum(a, b); }, x, y);
  check_binary("minimum NaN", [](const Tensor& a, const Tensor& b) { return ops::minimum(a, b); }, x, y);
}

TEST(CudaReduce, EmptyTensors) {
  REQUIRE_CUDA();
  Tensor e = ops::zeros({0, 3}, DType::Float32, kCuda);
  EXPECT_EQ(ops::add(e, e).numel(), 0);
  expect_match(ops::sum(e, {0}), ops::sum(ops::zeros({0, 3}), {0}), "sum over an empty dim");
  Tensor a = ops::zeros({4, 0}, DType::Float32, kCuda), b = ops::zeros({0, 5}, DType::Float32, kCuda);
  expect_match(ops::matmul(a, b), ops::zeros({4, 5}), "matmul with k = 0");
}

// ---------------------------------------------------------------- matmul

TEST(CudaMatmul, ShapesTransposesAndBatchBroadcast) {
  REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64}) {
    std::string t = dtype_name(dt);
    Tensor a = host_random({7, 5}, 40, dt), b = host_random({5, 9}, 41, dt);
    check_binary("2d " + t, [](const Tensor& x, const Tensor& y) { return ops::matmul(x, y); }, a, b);
    // transposed views go to cuBLAS as flags
    Tensor at = host_random({5, 7}, 42, dt), bt = host_random({9, 5}, 43, dt);
    auto tt = [](const Tensor& x, const Tensor& y) { return ops::matmul(ops::transpose(x, 0, 1), ops::transpose(y, 0, 1)); };
    expect_match(tt(gpu(at), gpu(bt)), tt(at, bt), "a^T b^T " + t);
    // batched with broadcast batch dims
    Tensor ab = host_random({2, 3, 4, 6}, 44, dt), bb = host_random({3, 6, 5}, 45, dt);
    check_binary("batched broadcast " + t, [](const Tensor& x, const Tensor& y) { return ops::matmul(x, y); }, ab, bb);
    Tensor a1 = host_random({1, 6}, 46, dt), b1 = host_random({4, 6, 1}, 47, dt);
    check_binary("row x column " + t, [](const Tensor& x, const Tensor& y) { return ops::matmul(x, y); }, a1, b1);
    // a Linear layer: [B, T, D] @ W^T
    Tensor xs = host_random({3, 8, 16}, 48, dt), w = host_random({12, 16}, 49, dt);
    auto lin = [](const Tensor& x, const Tensor& ww) { return ops::matmul(x, ops::transpose(ww, 0, 1)); };
    expect_match(lin(gpu(xs), gpu(w)), lin(xs, w), "linear " + t);
  }
  Tensor big_a = host_random({256, 300}, 50), big_b = host_random({300, 200}, 51);
  Tensor want = ops::matmul(big_a, big_b);
  expect_close(ops::to(ops::matmul(gpu(big_a), gpu(big_b)), Device::CPU), want, 1e-4, 1e-4, "256x300x200");
}

// ---------------------------------------------------------------- convolution

namespace {
struct ConvCase { Shape x, w; int64_t stride, pad; bool bias; };
const std::vector<ConvCase> kConvCases = {
    {{2, 3, 8, 8}, {4, 3, 3, 3}, 1, 1, true},  {{2, 3, 9, 7}, {5, 3, 3, 3}, 2, 1, false},
    {{1, 4, 6, 6}, {2, 4, 1, 1}, 1, 0, true},  {{3, 2, 7, 8}, {3, 2, 3, 2}, 2, 0, true},
    {{2, 8, 16, 16}, {8, 8, 3, 3}, 1, 1, true}, {{1, 1, 5, 5}, {1, 1, 5, 5}, 1, 2, false},
};

void check_conv_all(const std::string& variant) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (size_t i = 0; i < kConvCases.size(); ++i) {
      const ConvCase& c = kConvCases[i];
      std::string tag = variant + " case " + std::to_string(i) + " " + dtype_name(dt);
      Tensor x = host_random(c.x, 60 + i, dt), w = host_random(c.w, 70 + i, dt);
      Tensor b = c.bias ? host_random({c.w[0]}, 80 + i, dt) : Tensor();
      Tensor y = ops::conv2d(x, w, b, c.stride, c.pad);
      Tensor yd = ops::conv2d(gpu(x), gpu(w), c.bias ? gpu(b) : Tensor(), c.stride, c.pad);
      expect_match(yd, y, "conv2d " + tag);
      Tensor gy = host_random(y.shape(), 90 + i, dt);
      expect_match(ops::conv2d_backward_input(gpu(gy), gpu(w), c.x, c.stride, c.pad),
                   ops::conv2d_backward_input(gy, w, c.x, c.stride, c.pad), "conv2d backward input " + tag);
      expect_match(ops::conv2d_backward_weight(gpu(gy), gpu(x), c.w, c.stride, c.pad),
                   ops::conv2d_backward_weight(gy, x, c.w, c.stride, c.pad), "conv2d backward weight " + tag);
      // strided (permuted-back) input
      Tensor xs = ops::permute(ops::contiguous(ops::permute(gpu(x), {0, 2, 3, 1})), {0, 3, 1, 2});
      expect_match(ops::conv2d(xs, gpu(w), c.bias ? gpu(b) : Tensor(), c.stride, c.pad), y, "conv2d strided " + tag);
    }
  }
}
}  // namespace

TEST(CudaConv, FastMatchesCpu) {
  REQUIRE_CUDA();
  check_conv_all("fast");
}

TEST(CudaConv, NaiveMatchesCpu) {
  REQUIRE_CUDA();
#ifdef DRIFT_HAVE_CUDA
  cuda::KernelVariantGuard naive(cuda::KernelVariant::Naive);
  check_conv_all("naive");
#endif
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

// ---------------------------------------------------------------- pooling, upsampling

TEST(CudaPool, AvgPoolAndUpsampleWithBackward) {
  REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor x = host_random({2, 3, 8, 12}, 110, dt);
    check_unary("avg_pool2d", [](const Tensor& t) { return ops::avg_pool2d(t, 2); }, x);
    check_unary("avg_pool2d k4", [](const Tensor& t) { return ops::avg_pool2d(t, 4); }, x);
    check_unary("upsample x2", [](const Tensor& t) { return ops::upsample_nearest2d(t, 2); }, x);
    check_unary("upsample x3", [](const Tensor& t) { return ops::upsample_nearest2d(t, 3); }, x);
    Tensor gp = host_random({2, 3, 4, 6}, 111, dt);
    check_unary("avg_pool2d backward", [](const Tensor& g) { return ops::avg_pool2d_backward(g, {2, 3, 8, 12}, 2); }, gp);
    Tensor gu = host_random({2, 3, 16, 24}, 112, dt);
    check_unary("upsample backward",
                [](const Tensor& g) { return ops::upsample_nearest2d_backward(g, {2, 3, 8, 12}, 2); }, gu);
  }
}

// ---------------------------------------------------------------- indexing

TEST(CudaIndex, IndexSelectIndexAddEmbedding) {
  REQUIRE_CUDA();
  Tensor idx = ops::from_vector(std::vector<int64_t>{3, 0, 3, 1, 4, 4, 2}, {7});
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    Tensor t = ops::to(host_random({5, 6, 4}, 120, DType::Float64, -9, 9), dt);
    Tensor t0 = ops::to(host_random({5, 3}, 121, DType::Float64, -9, 9), dt);
    expect_match(ops::index_select(gpu(t0), 0, gpu(idx)), ops::index_select(t0, 0, idx), "index_select dim 0");
    expect_match(ops::index_select(gpu(t), 2, gpu(ops::narrow(idx, 0, 0, 2))),
                 ops::index_select(t, 2, ops::narrow(idx, 0, 0, 2)), "index_select dim 2");
    expect_match(ops::index_select(strided_copy(gpu(t)), 0, gpu(idx)), ops::index_select(t, 0, idx),
                 "index_select strided");
    // repeated indices accumulate
    Tensor src = ops::to(host_random({2, 7, 3}, 122, DType::Float64, -9, 9), dt);
    expect_match(ops::index_add({2, 5, 3}, 1, gpu(idx), gpu(src)), ops::index_add({2, 5, 3}, 1, idx, src),
                 std::string("index_add ") + dtype_name(dt));
  }
  Tensor wgt = host_random({10, 4}, 123);
  Tensor ids = ops::from_vector(std::vector<int64_t>{1, 9, 0, 1, 5, 5}, {2, 3});
  expect_match(ops::embedding(gpu(wgt), gpu(ids)), ops::embedding(wgt, ids), "embedding");
}

TEST(CudaIndex, OutOfRangeIndexThrows) {
  REQUIRE_CUDA();
  Tensor t = ops::zeros({4, 2}, DType::Float32, kCuda);
  Tensor bad = gpu(ops::from_vector(std::vector<int64_t>{0, 4}, {2}));
  EXPECT_THROW((void)ops::index_select(t, 0, bad), Error);
  EXPECT_THROW((void)ops::index_add({4, 2}, 0, bad, ops::ones({2, 2}, DType::Float32, kCuda)), Error);
}

// ---------------------------------------------------------------- softmax, norms, losses

namespace {
void check_softmax_norms(const std::string& variant) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    std::string t = variant + " " + dtype_name(dt);
    Tensor x = host_random({4, 6, 33}, 130, dt, -6, 6);
    for (int64_t d : {0, 1, 2}) {
      check_unary("softmax dim " + std::to_string(d) + " " + t, [&](const Tensor& v) { return ops::softmax(v, d); }, x);
      check_unary("log_softmax dim " + std::to_string(d) + " " + t,
                  [&](const Tensor& v) { return ops::log_softmax(v, d); }, x);
    }
    Tensor wide = host_random({3, 2000}, 131, dt, -30, 30);
    check_unary("softmax wide " + t, [](const Tensor& v) { return ops::softmax(v, 1); }, wide);

    // GroupNorm on [N, C, H, W], with and without affine parameters
    Tensor xg = host_random({2, 8, 5, 6}, 132, dt, -2, 3), w = host_random({8}, 133, dt), b = host_random({8}, 134, dt);
    Tensor gy = host_random({2, 8, 5, 6}, 135, dt);
    for (bool affine : {true, false}) {
      Tensor wa = affine ? w : Tensor(), ba = affine ? b : Tensor();
      ops::NormResult rc = ops::group_norm(xg, 4, wa, ba, 1e-5);
      ops::NormResult rd = ops::group_norm(gpu(xg), 4, affine ? gpu(w) : Tensor(), affine ? gpu(b) : Tensor(), 1e-5);
      std::string g = "group_norm " + t + (affine ? " affine" : "");
      expect_match(rd.y, rc.y, g + " y");
      expect_match(rd.mean, rc.mean, g + " mean");
      expect_match(rd.rstd, rc.rstd, g + " rstd");
      ops::NormGrads gc = ops::group_norm_backward(gy, xg, rc.mean, rc.rstd, wa, 4);
      ops::NormGrads gd = ops::group_norm_backward(gpu(gy), gpu(xg), rd.mean, rd.rstd, affine ? gpu(w) : Tensor(), 4);
      expect_match(gd.dx, gc.dx, g + " dx");
      if (affine) {
        expect_match(gd.dweight, gc.dweight, g + " dweight");
        expect_match(gd.dbias, gc.dbias, g + " dbias");
      }
    }
    // a GroupNorm with a large spatial size (block-per-channel weight gradient)
    Tensor xl = host_random({2, 4, 40, 40}, 136, dt), gl = host_random({2, 4, 40, 40}, 137, dt);
    Tensor wl = host_random({4}, 138, dt);
    ops::NormResult rl = ops::group_norm(xl, 2, wl, Tensor(), 1e-5);
    ops::NormResult rld = ops::group_norm(gpu(xl), 2, gpu(wl), Tensor(), 1e-5);
    expect_match(rld.y, rl.y, "group_norm large " + t);
    ops::NormGrads gl_c = ops::group_norm_backward(gl, xl, rl.mean, rl.rstd, wl, 2);
    ops::NormGrads gl_d = ops::group_norm_backward(gpu(gl), gpu(xl), rld.mean, rld.rstd, gpu(wl), 2);
    expect_match(gl_d.dx, gl_c.dx, "group_norm large dx " + t);
    expect_match(gl_d.dweight, gl_c.dweight, "group_norm large dweight " + t);

    // LayerNorm over the last dim of [B, T, D]
    Tensor xn = host_random({3, 7, 48}, 139, dt, -2, 2), wn = host_random({48}, 140, dt), bn = host_random({48}, 141, dt);
    Tensor gn = host_random({3, 7, 48}, 142, dt);
    ops::NormResult lc = ops::layer_norm(xn, wn, bn, 1e-5);
    ops::NormResult ld = ops::layer_norm(strided_copy(gpu(xn)), gpu(wn), gpu(bn), 1e-5);
    expect_match(ld.y, lc.y, "layer_norm y " + t);
    expect_match(ld.rstd, lc.rstd, "layer_norm rstd " + t);
    ops::NormGrads lgc = ops::layer_norm_backward(gn, xn, lc.mean, lc.rstd, wn);
    ops::NormGrads lgd = ops::layer_norm_backward(gpu(gn), gpu(xn), ld.mean, ld.rstd, gpu(wn));
    expect_match(lgd.dx, lgc.dx, "layer_norm dx " + t);
    expect_match(lgd.dweight, lgc.dweight, "layer_norm dweight " + t);
    expect_match(lgd.dbias, lgc.dbias, "layer_norm dbias " + t);
  }
}
}  // namespace

TEST(CudaSoftmaxNorm, FastMatchesCpu) {
  REQUIRE_CUDA();
  check_softmax_norms("fast");
}

TEST(CudaSoftmaxNorm, NaiveMatchesCpu) {
  REQUIRE_CUDA();
#ifdef DRIFT_HAVE_CUDA
  cuda::KernelVariantGuard naive(cuda::KernelVariant::Naive);
  check_softmax_norms("naive");
#endif
}

TEST(CudaSoftmaxNorm, LossesMatchCpu) {
  REQUIRE_CUDA();
  Tensor p = host_random({16, 10}, 150), q = host_random({16, 10}, 151);
  Tensor labels = ops::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5}, {16});
  expect_match(ops::mse_loss(gpu(p), gpu(q)), ops::mse_loss(p, q), "mse_loss");
  expect_match(ops::cross_entropy(gpu(p), gpu(labels)), ops::cross_entropy(p, labels), "cross_entropy");
  expect_match(ops::one_hot(gpu(labels), 10), ops::one_hot(labels, 10), "one_hot");
}
