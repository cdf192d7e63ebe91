// Matmul, conv2d, pooling and upsampling on the CPU: BLAS layouts, the fast
// sgemm kernel against a naive loop, exact small examples and error messages.
// Values over shapes, layouts and kernel paths against float64 references:
// the op-test registry (tests/op_cases_linalg.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/cpu/blas.h"
#include "tensor/ops.h"
#include "tests/test_util.h"
#include "tests/isa_levels.h"

using namespace drift;
using drift::test::expect_error;
using drift::test::vals;

namespace {

std::vector<double> random_values(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = u(gen);
  return v;
}

Tensor random_tensor(const Shape& shape, uint32_t seed, DType dtype = DType::Float32) {
  return ops::to(ops::from_vector(random_values(shape_numel(shape), seed), shape), dtype);
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::abs(got[i] - want[i]) / (1.0 + std::abs(want[i]));
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  EXPECT_LE(worst, tol) << what << ": element " << at << " is " << got[at] << ", expected " << want[at];
}


// ------------------------------------------------------------ reference kernels
namespace reference {

// c[M, N] = a[M, K] @ b[K, N], all row-major.
std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, int64_t M, int64_t K,
                           int64_t N) {
  std::vector<double> c(static_cast<size_t>(M * N), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += a[i * K + k] * b[k * N + j];
      c[i * N + j] = s;
    }
  return c;
}

}  // namespace reference

// Reference matmul of a (logical [.., M, K]) and b ([.., K, N]) for one batch entry.
std::vector<double> sub_matrix(const std::vector<double>& v, int64_t index, int64_t rows, int64_t cols) {
  return std::vector<double>(v.begin() + index * rows * cols, v.begin() + (index + 1) * rows * cols);
}

}  // namespace


TEST(TensorMatmul, TransposedViewsGoToBlasWithoutCopies) {
  const int64_t M = 9, K = 6, N = 11;
  Tensor at = random_tensor({K, M}, 3, DType::Float64), bt = random_tensor({N, K}, 4, DType::Float64);
  Tensor a = ops::transpose(at, 0, 1), b = ops::transpose(bt, 0, 1);  // [M, K], [K, N], stride(-2) == 1
  ASSERT_EQ(a.stride(-2), 1);
  ASSERT_EQ(b.stride(-2), 1);
  const std::vector<double> ac = vals(ops::contiguous(a)), bc = vals(ops::contiguous(b));
  const std::vector<double> want = reference::matmul(ac, bc, M, K, N);
  expect_near_all(vals(ops::matmul(a, b)), want, 1e-12, "a^T b^T");
  expect_near_all(vals(ops::matmul(ops::contiguous(a), b)), want, 1e-12, "a b^T");
  expect_near_all(vals(ops::matmul(a, ops::contiguous(b))), want, 1e-12, "a^T b");
  // A batched transposed view: [B, K, M] -> [B, M, K].
  Tensor x = random_tensor({3, K, M}, 5, DType::Float64);
  Tensor y = random_tensor({3, K, N}, 6, DType::Float64);
  Tensor xt = ops::transpose(x, -1, -2);
  Tensor z = ops::matmul(xt, y);
  const std::vector<double> xtc = vals(ops::contiguous(xt)), yv = vals(y), zv = vals(z);
  for (int64_t i = 0; i < 3; ++i)
    expect_near_all(sub_matrix(zv, i, M, N),
                    reference::matmul(sub_matrix(xtc, i, M, K), sub_matrix(yv, i, K, N), M, K, N), 1e-12,
                    str("batched transposed, batch ", i));
}




// cpu::sgemm, drift's GEMM behind float32 matmul and convolutions, at every
// ISA level this CPU supports (OpenBLAS on the generic level): all transpose
// combinations, partial tiles (6 x 16 and 8 x 48), K over several 256-deep
// slices, N over several 384-wide blocks, accumulate on and off, one thread
// and split over the threads.
class TensorSgemm : public PerIsaTest {};
TEST_P(TensorSgemm, MatchesNaiveLoop) {
  const cpu::CpuIsa isa = GetParam();
  for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {8, 48, 8}, {13, 100, 300}, {24, 800, 280}, {9, 47, 17}}) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const std::vector<double> a = random_values(M * K, 20 + t), b = random_values(K * N, 30 + t);
      const std::vector<double> c0 = random_values(M * N, 40 + t);
      // Stored operands: A as [M, K] or [K, M], B as [K, N] or [N, K], with padded leading dims.
      const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
      std::vector<float> as(static_cast<size_t>((ta ? K : M) * lda)), bs(static_cast<size_t>((tb ? N : K) * ldb));
      std::vector<float> cs(static_cast<size_t>(M * ldc), 0.f);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t k = 0; k < K; ++k) as[ta ? k * lda + i : i * lda + k] = static_cast<float>(a[i * K + k]);
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < N; ++j) bs[tb ? j * ldb + k : k * ldb + j] = static_cast<float>(b[k * N + j]);
      std::vector<double> af(a.size()), bf(b.size());  // the float-rounded inputs
      for (size_t i = 0; i < a.size(); ++i) af[i] = static_cast<float>(a[i]);
      for (size_t i = 0; i < b.size(); ++i) bf[i] = static_cast<float>(b[i]);
      const std::vector<double> want = reference::matmul(af, bf, M, K, N);
      for (bool accumulate : {false, true}) {
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) cs[i * ldc + j] = static_cast<float>(c0[i * N + j]);
        for (bool parallel : {false, true}) {
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) cs[i * ldc + j] = static_cast<float>(c0[i * N + j]);
        cpu::sgemm(ta, tb, M, N, K, as.data(), lda, bs.data(), ldb, accumulate, cs.data(), ldc, parallel);
        std::vector<double> got(static_cast<size_t>(M * N)), expect(want);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            got[i * N + j] = cs[i * ldc + j];
            if (accumulate) expect[i * N + j] += static_cast<float>(c0[i * N + j]);
          }
        expect_near_all(got, expect, 1e-5 * std::sqrt(double(K)),
                        str(cpu::isa_name(isa), " sgemm ", M, "x", N, "x", K, " trans ", ta, tb, " accumulate ",
                            accumulate, " parallel ", parallel));
        }
      }
    }
  }
}
DRIFT_INSTANTIATE_PER_ISA(TensorSgemm);


TEST(TensorMatmul, EmptyInnerDimGivesZeros) {
  Tensor c = ops::matmul(ops::zeros({3, 0}), ops::zeros({0, 2}));
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(vals(c), std::vector<double>(6, 0.0));
  EXPECT_EQ(ops::matmul(ops::zeros({0, 4}), ops::zeros({4, 2})).shape(), (Shape{0, 2}));
}

TEST(TensorMatmul, ErrorsNameTheShapes) {
  expect_error([] { ops::matmul(ops::zeros({2, 3}), ops::zeros({4, 5})); }, {"[2, 3]", "[4, 5]", "inner"});
  expect_error([] { ops::matmul(ops::zeros({3}), ops::zeros({3, 2})); }, {"rank >= 2", "[3]"});
  expect_error([] { ops::matmul(ops::zeros({2, 2, 3}), ops::zeros({3, 3, 2})); }, {"[2, 2, 3]", "[3, 3, 2]"});
  expect_error([] { ops::matmul(ops::zeros({2, 3}), ops::zeros({3, 2}, DType::Float64)); },
               {"float32", "float64"});
  expect_error([] { ops::matmul(ops::zeros({2, 3}, DType::Int64), ops::zeros({3, 2}, DType::Int64)); }, {"int64"});
}

// ------------------------------------------------------------------------ conv2d
// (values against the naive reference at every ISA level: tests/op_cases_linalg.cpp)


TEST(TensorConv2d, ErrorsNameTheShapes) {
  expect_error([] { ops::conv2d(ops::zeros({1, 3, 8, 8}), ops::zeros({4, 2, 3, 3}), Tensor(), 1, 1); },
               {"[1, 3, 8, 8]", "[4, 2, 3, 3]", "channels"});
  expect_error([] { ops::conv2d(ops::zeros({3, 8, 8}), ops::zeros({4, 3, 3, 3}), Tensor(), 1, 1); },
               {"[3, 8, 8]", "[N, C, H, W]"});
  expect_error([] { ops::conv2d(ops::zeros({1, 3, 8, 8}), ops::zeros({4, 3, 3, 3}), ops::zeros({5}), 1, 1); },
               {"bias", "[5]", "[4, 3, 3, 3]"});
  expect_error([] { ops::conv2d(ops::zeros({1, 3, 2, 2}), ops::zeros({4, 3, 5, 5}), Tensor(), 1, 0); },
               {"[1, 3, 2, 2]", "larger"});
  expect_error([] { ops::conv2d(ops::zeros({1, 3, 8, 8}), ops::zeros({4, 3, 3, 3}), Tensor(), 0, 1); }, {"stride"});
  expect_error([] { ops::conv2d_backward_input(ops::zeros({1, 4, 7, 7}), ops::zeros({4, 3, 3, 3}), {1, 3, 8, 8}, 1, 1); },
               {"[1, 4, 7, 7]", "[1, 4, 8, 8]"});
  expect_error(
      [] { ops::conv2d_backward_weight(ops::zeros({1, 4, 7, 7}), ops::zeros({1, 3, 8, 8}), {4, 3, 3, 3}, 1, 1); },
      {"[1, 4, 7, 7]", "[1, 4, 8, 8]"});
}


TEST(TensorPool, UpsampleRepeatsPixels) {
  Tensor x = ops::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {1, 1, 2, 3});
  Tensor y = ops::upsample_nearest2d(x, 2);
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 6}));
  EXPECT_EQ(vals(y), (std::vector<double>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6}));
}

// <pool(x), g> = <x, pool_backward(g)>, and likewise for upsampling.
TEST(TensorPool, AvgPoolBackwardSpreadsTheGradient) {
  // dy / k^2 over each window; rows and columns the pooling dropped get zero.
  Tensor dx = ops::avg_pool2d_backward(ops::full({1, 1, 1, 1}, 4.0), {1, 1, 3, 3}, 2);
  EXPECT_EQ(vals(dx), (std::vector<double>{1, 1, 0, 1, 1, 0, 0, 0, 0}));
}

TEST(TensorPool, ErrorsNameTheShapes) {
  expect_error([] { ops::avg_pool2d(ops::zeros({1, 1, 1, 4}), 2); }, {"[1, 1, 1, 4]"});
  expect_error([] { ops::avg_pool2d(ops::zeros({4, 4}), 2); }, {"[4, 4]"});
  expect_error([] { ops::avg_pool2d_backward(ops::zeros({1, 1, 3, 3}), {1, 1, 4, 4}, 2); },
               {"[1, 1, 3, 3]", "[1, 1, 4, 4]"});
  expect_error([] { ops::upsample_nearest2d_backward(ops::zeros({1, 1, 3, 3}), {1, 1, 2, 2}, 2); },
               {"[1, 1, 3, 3]", "[1, 1, 2, 2]"});
}
