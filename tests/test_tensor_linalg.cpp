// Matmul, conv2d (forward and both backward passes), average pooling and
// nearest upsampling on the CPU, against naive reference loops written here.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/cpu/blas.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

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

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += a[i] * b[i];
  return s;
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

// Expects the call to throw drift::Error whose message contains every piece.

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

struct ConvShape {
  int64_t N, C, H, W, O, kh, kw, stride, pad;
  int64_t Ho() const { return (H + 2 * pad - kh) / stride + 1; }
  int64_t Wo() const { return (W + 2 * pad - kw) / stride + 1; }
  Shape x() const { return {N, C, H, W}; }
  Shape w() const { return {O, C, kh, kw}; }
  Shape y() const { return {N, O, Ho(), Wo()}; }
};

// Direct convolution: y[n,o,i,j] = b[o] + sum_{c,a,b} x[n,c,i*s-p+a, j*s-p+b] w[o,c,a,b].
std::vector<double> conv2d(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>* bias,
                           const ConvShape& s) {
  const int64_t Ho = s.Ho(), Wo = s.Wo();
  std::vector<double> y(static_cast<size_t>(s.N * s.O * Ho * Wo), 0.0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double acc = bias ? (*bias)[o] : 0.0;
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t a = 0; a < s.kh; ++a)
              for (int64_t b = 0; b < s.kw; ++b) {
                const int64_t ih = i * s.stride - s.pad + a, iw = j * s.stride - s.pad + b;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                acc += x[((n * s.C + c) * s.H + ih) * s.W + iw] * w[((o * s.C + c) * s.kh + a) * s.kw + b];
              }
          y[((n * s.O + o) * Ho + i) * Wo + j] = acc;
        }
  return y;
}

// The two adjoints of the direct loop above (scatter form).
std::vector<double> conv2d_backward_input(const std::vector<double>& dy, const std::vector<double>& w,
                                          const ConvShape& s) {
  const int64_t Ho = s.Ho(), Wo = s.Wo();
  std::vector<double> dx(static_cast<size_t>(s.N * s.C * s.H * s.W), 0.0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j)
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t a = 0; a < s.kh; ++a)
              for (int64_t b = 0; b < s.kw; ++b) {
                const int64_t ih = i * s.stride - s.pad + a, iw = j * s.stride - s.pad + b;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                dx[((n * s.C + c) * s.H + ih) * s.W + iw] +=
                    dy[((n * s.O + o) * Ho + i) * Wo + j] * w[((o * s.C + c) * s.kh + a) * s.kw + b];
              }
  return dx;
}

std::vector<double> conv2d_backward_weight(const std::vector<double>& dy, const std::vector<double>& x,
                                           const ConvShape& s) {
  const int64_t Ho = s.Ho(), Wo = s.Wo();
  std::vector<double> dw(static_cast<size_t>(s.O * s.C * s.kh * s.kw), 0.0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j)
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t a = 0; a < s.kh; ++a)
              for (int64_t b = 0; b < s.kw; ++b) {
                const int64_t ih = i * s.stride - s.pad + a, iw = j * s.stride - s.pad + b;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                dw[((o * s.C + c) * s.kh + a) * s.kw + b] +=
                    dy[((n * s.O + o) * Ho + i) * Wo + j] * x[((n * s.C + c) * s.H + ih) * s.W + iw];
              }
  return dw;
}

}  // namespace reference

// Reference matmul of a (logical [.., M, K]) and b ([.., K, N]) for one batch entry.
std::vector<double> sub_matrix(const std::vector<double>& v, int64_t index, int64_t rows, int64_t cols) {
  return std::vector<double>(v.begin() + index * rows * cols, v.begin() + (index + 1) * rows * cols);
}

}  // namespace

// ------------------------------------------------------------------------ matmul
TEST(TensorMatmul, MatchesNaiveLoopFloat32AndFloat64) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (auto [M, K, N] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {7, 5, 3}, {33, 17, 29}, {64, 128, 1}}) {
      Tensor a = random_tensor({M, K}, 1, dt), b = random_tensor({K, N}, 2, dt);
      Tensor c = ops::matmul(a, b);
      EXPECT_EQ(c.shape(), (Shape{M, N}));
      EXPECT_EQ(c.dtype(), dt);
      expect_near_all(vals(c), reference::matmul(vals(a), vals(b), M, K, N), dt == DType::Float32 ? 1e-5 : 1e-12,
                      str("matmul ", M, "x", K, "x", N, " ", dtype_name(dt)));
    }
  }
}

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

TEST(TensorMatmul, NonBlasLayoutIsCopied) {
  // Every other column: neither dim has unit stride.
  Tensor big = random_tensor({5, 8}, 7, DType::Float64);
  Tensor a = ops::slice(big, 1, 0, 8, 2);  // [5, 4], strides [8, 2]
  Tensor b = random_tensor({4, 3}, 8, DType::Float64);
  expect_near_all(vals(ops::matmul(a, b)), reference::matmul(vals(ops::contiguous(a)), vals(b), 5, 4, 3), 1e-12,
                  "strided a");
}

TEST(TensorMatmul, BroadcastsBatchDims) {
  const int64_t M = 3, K = 4, N = 5;
  // a [2, 1, M, K] @ b [3, K, N] -> [2, 3, M, N]; b's batch is broadcast over a's.
  Tensor a = random_tensor({2, 1, M, K}, 9, DType::Float64);
  Tensor b = random_tensor({3, K, N}, 10, DType::Float64);
  Tensor c = ops::matmul(a, b);
  ASSERT_EQ(c.shape(), (Shape{2, 3, M, N}));
  const std::vector<double> av = vals(a), bv = vals(b), cv = vals(c);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      expect_near_all(sub_matrix(cv, i * 3 + j, M, N),
                      reference::matmul(sub_matrix(av, i, M, K), sub_matrix(bv, j, K, N), M, K, N), 1e-12,
                      str("batch (", i, ", ", j, ")"));
  // A shared right operand: [4, M, K] @ [K, N] (one flattened GEMM).
  Tensor x = random_tensor({4, M, K}, 11, DType::Float32);
  Tensor w = random_tensor({K, N}, 12, DType::Float32);
  Tensor y = ops::matmul(x, w);
  ASSERT_EQ(y.shape(), (Shape{4, M, N}));
  expect_near_all(vals(y), reference::matmul(vals(x), vals(w), 4 * M, K, N), 1e-5, "shared right operand");
  // A shared left operand: [M, K] @ [4, K, N] (batch stride 0 on a).
  Tensor l = random_tensor({M, K}, 13, DType::Float64);
  Tensor r = random_tensor({4, K, N}, 14, DType::Float64);
  Tensor lr = ops::matmul(l, r);
  ASSERT_EQ(lr.shape(), (Shape{4, M, N}));
  const std::vector<double> lv = vals(l), rv = vals(r), lrv = vals(lr);
  for (int64_t i = 0; i < 4; ++i)
    expect_near_all(sub_matrix(lrv, i, M, N), reference::matmul(lv, sub_matrix(rv, i, K, N), M, K, N), 1e-12,
                    str("shared left, batch ", i));
  // An expanded (stride 0) batch view of a.
  Tensor e = ops::expand(ops::unsqueeze(l, 0), {4, M, K});
  expect_near_all(vals(ops::matmul(e, r)), lrv, 1e-12, "expanded a");
  // Batch dims that cannot be merged into one stride (permuted): copied first.
  Tensor p = random_tensor({3, 2, M, K}, 17, DType::Float64);
  Tensor pp = ops::permute(p, {1, 0, 2, 3});  // [2, 3, M, K], batch strides (M*K, 2*M*K)
  Tensor q = random_tensor({2, 3, K, N}, 18, DType::Float64);
  const std::vector<double> ppv = vals(ops::contiguous(pp)), qv = vals(q), pq = vals(ops::matmul(pp, q));
  for (int64_t i = 0; i < 6; ++i)
    expect_near_all(sub_matrix(pq, i, M, N), reference::matmul(sub_matrix(ppv, i, M, K), sub_matrix(qv, i, K, N), M, K, N),
                    1e-12, str("permuted batch ", i));
}

TEST(TensorMatmul, ManySmallBatchesInParallel) {
  const int64_t B = 37, M = 8, K = 16, N = 8;
  Tensor a = random_tensor({B, M, K}, 15, DType::Float32), b = random_tensor({B, K, N}, 16, DType::Float32);
  const std::vector<double> av = vals(a), bv = vals(b), cv = vals(ops::matmul(a, b));
  for (int64_t i = 0; i < B; ++i)
    expect_near_all(sub_matrix(cv, i, M, N),
                    reference::matmul(sub_matrix(av, i, M, K), sub_matrix(bv, i, K, N), M, K, N), 1e-5,
                    str("batch ", i));
}

// The AVX-512 sgemm behind float32 convolutions (OpenBLAS where not built):
// all transpose combinations, partial tiles, K over several 256-deep slices,
// N over several 384-wide blocks, accumulate on and off.
TEST(TensorMatmul, FastSgemmMatchesNaiveLoop) {
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
        cpu::fast_sgemm(ta, tb, M, N, K, as.data(), lda, bs.data(), ldb, accumulate, cs.data(), ldc);
        std::vector<double> got(static_cast<size_t>(M * N)), expect(want);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            got[i * N + j] = cs[i * ldc + j];
            if (accumulate) expect[i * N + j] += static_cast<float>(c0[i * N + j]);
          }
        expect_near_all(got, expect, 1e-5 * std::sqrt(double(K)),
                        str("fast_sgemm ", M, "x", N, "x", K, " trans ", ta, tb, " accumulate ", accumulate));
      }
    }
  }
}

// float32 matmul (drift's AVX-512 GEMM where built: batch entries over the
// threads, or one product split by columns) against float64 matmul (the
// OpenBLAS reference path) on the same float-rounded inputs: attention-shaped
// batches with transposed operands, a single product large enough to be split
// over threads, a linear layer x @ W^T.
TEST(TensorMatmul, MatmulFloat32MatchesFloat64Reference) {
  struct Case {
    Shape a, b;
    bool ta, tb;  // pass a / b as transposed views of stored [.., K, M] / [.., N, K]
  };
  const std::vector<Case> cases = {
      {{6, 70, 50}, {6, 50, 90}, false, false},  // batched
      {{6, 70, 50}, {6, 50, 90}, true, false},   // q^T k
      {{6, 70, 50}, {6, 50, 90}, false, true},   // v attn^T
      {{1, 100, 60}, {1, 60, 200}, false, false},  // one product, split by columns
      {{1, 100, 60}, {1, 60, 200}, true, true},
      {{1, 16, 256}, {1, 256, 130}, false, true},  // x @ W^T
  };
  int seed = 50;
  for (const Case& c : cases) {
    const int64_t B = c.a[0], M = c.a[1], K = c.a[2], N = c.b[2];
    Tensor a32 = c.ta ? ops::transpose(random_tensor({B, K, M}, seed++, DType::Float32), 1, 2)
                      : random_tensor({B, M, K}, seed++, DType::Float32);
    Tensor b32 = c.tb ? ops::transpose(random_tensor({B, N, K}, seed++, DType::Float32), 1, 2)
                      : random_tensor({B, K, N}, seed++, DType::Float32);
    Tensor got = ops::matmul(a32, b32);
    Tensor want = ops::matmul(ops::to(a32, DType::Float64), ops::to(b32, DType::Float64));
    ASSERT_EQ(got.shape(), (Shape{B, M, N}));
    expect_near_all(vals(got), vals(want), 1e-5 * std::sqrt(double(K)),
                    str("matmul ", shape_str(c.a), " @ ", shape_str(c.b), " trans ", c.ta, c.tb));
  }
}

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
namespace {
using reference::ConvShape;

// Odd sizes: non-square kernels and images, strides 1-2, padding 0-2, C = 1 and 7,
// and batches that take both the threaded-chunk and the serial paths.
const std::vector<ConvShape> kConvCases = {
    {2, 1, 5, 7, 3, 3, 5, 1, 0},    // C = 1, 3x5 kernel
    {3, 7, 9, 6, 4, 3, 5, 2, 1},    // stride 2, pad 1
    {1, 7, 8, 11, 5, 3, 3, 2, 2},   // N = 1 (serial, threaded BLAS), pad 2
    {5, 3, 4, 4, 2, 1, 1, 1, 0},    // 1x1 stride 1: plain GEMM
    {4, 2, 6, 5, 3, 1, 1, 2, 1},    // 1x1 with stride and padding: im2col path
    {9, 3, 7, 7, 4, 3, 3, 1, 1},    // small images: several per GEMM chunk
    {6, 4, 28, 28, 8, 3, 3, 1, 1},  // one image per chunk
    {3, 2, 5, 5, 3, 5, 5, 1, 2},    // kernel as large as the image
    {1, 5, 3, 4, 6, 1, 1, 1, 0},    // 1x1, N = 1
    {2, 3, 13, 17, 5, 3, 5, 1, 2},  // stride 1, wide output: padded-window (no im2col) path
    {5, 2, 12, 14, 4, 5, 3, 1, 0},  // same, no padding, threads over images
    {1, 3, 9, 20, 2, 3, 3, 1, 1},   // same, N = 1 (threads over columns)
};

std::string case_name(const ConvShape& s) {
  return str("x ", shape_str(s.x()), " w ", shape_str(s.w()), " stride ", s.stride, " pad ", s.pad);
}
}  // namespace

TEST(TensorConv2d, ForwardMatchesDirectConvolution) {
  uint32_t seed = 100;
  for (const ConvShape& s : kConvCases) {
    for (DType dt : {DType::Float32, DType::Float64}) {
      Tensor x = random_tensor(s.x(), seed++, dt), w = random_tensor(s.w(), seed++, dt);
      Tensor b = random_tensor({s.O}, seed++, dt);
      const double tol = dt == DType::Float32 ? 2e-5 : 1e-12;
      const std::vector<double> xv = vals(x), wv = vals(w), bv = vals(b);
      Tensor y = ops::conv2d(x, w, b, s.stride, s.pad);
      ASSERT_EQ(y.shape(), s.y()) << case_name(s);
      expect_near_all(vals(y), reference::conv2d(xv, wv, &bv, s), tol, "conv2d+bias " + case_name(s));
      Tensor y0 = ops::conv2d(x, w, Tensor(), s.stride, s.pad);
      expect_near_all(vals(y0), reference::conv2d(xv, wv, nullptr, s), tol, "conv2d " + case_name(s));
    }
  }
}

TEST(TensorConv2d, BackwardPassesMatchDirectAdjoints) {
  uint32_t seed = 200;
  for (const ConvShape& s : kConvCases) {
    for (DType dt : {DType::Float32, DType::Float64}) {
      Tensor x = random_tensor(s.x(), seed++, dt), w = random_tensor(s.w(), seed++, dt);
      Tensor dy = random_tensor(s.y(), seed++, dt);
      const double tol = dt == DType::Float32 ? 2e-5 : 1e-12;
      Tensor dx = ops::conv2d_backward_input(dy, w, s.x(), s.stride, s.pad);
      Tensor dw = ops::conv2d_backward_weight(dy, x, s.w(), s.stride, s.pad);
      ASSERT_EQ(dx.shape(), s.x());
      ASSERT_EQ(dw.shape(), s.w());
      expect_near_all(vals(dx), reference::conv2d_backward_input(vals(dy), vals(w), s), tol,
                      "backward input " + case_name(s));
      expect_near_all(vals(dw), reference::conv2d_backward_weight(vals(dy), vals(x), s), tol,
                      "backward weight " + case_name(s));
    }
  }
}

// <conv(x, w), g> = <x, conv_bwd_input(g, w)> = <w, conv_bwd_weight(g, x)>
TEST(TensorConv2d, AdjointIdentityFloat64) {
  uint32_t seed = 300;
  for (const ConvShape& s : kConvCases) {
    Tensor x = random_tensor(s.x(), seed++, DType::Float64), w = random_tensor(s.w(), seed++, DType::Float64);
    Tensor g = random_tensor(s.y(), seed++, DType::Float64);
    const double lhs = dot(vals(ops::conv2d(x, w, Tensor(), s.stride, s.pad)), vals(g));
    const double via_x = dot(vals(x), vals(ops::conv2d_backward_input(g, w, s.x(), s.stride, s.pad)));
    const double via_w = dot(vals(w), vals(ops::conv2d_backward_weight(g, x, s.w(), s.stride, s.pad)));
    EXPECT_NEAR(via_x, lhs, 1e-10 * (1 + std::abs(lhs))) << case_name(s);
    EXPECT_NEAR(via_w, lhs, 1e-10 * (1 + std::abs(lhs))) << case_name(s);
  }
}

TEST(TensorConv2d, NonContiguousInputs) {
  const ConvShape s{2, 3, 6, 5, 4, 3, 3, 1, 1};
  Tensor x = random_tensor(s.x(), 400, DType::Float64);
  // The same values through an NHWC buffer permuted to NCHW.
  Tensor x_nhwc = ops::contiguous(ops::permute(x, {0, 2, 3, 1}));
  Tensor x_view = ops::permute(x_nhwc, {0, 3, 1, 2});
  ASSERT_FALSE(x_view.is_contiguous());
  Tensor w = random_tensor(s.w(), 401, DType::Float64);
  expect_near_all(vals(ops::conv2d(x_view, w, Tensor(), 1, 1)), reference::conv2d(vals(x), vals(w), nullptr, s), 1e-12,
                  "permuted x");
}

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

// ------------------------------------------------------------------------ pooling
TEST(TensorPool, AvgPoolMatchesWindowMeans) {
  // H = 7, W = 5 with k = 2: the last row and column are dropped (floor).
  const int64_t N = 2, C = 3, H = 7, W = 5, k = 2;
  Tensor x = random_tensor({N, C, H, W}, 500, DType::Float64);
  Tensor y = ops::avg_pool2d(x, k);
  ASSERT_EQ(y.shape(), (Shape{N, C, 3, 2}));
  const std::vector<double> xv = vals(x), yv = vals(y);
  for (int64_t p = 0; p < N * C; ++p)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        double s = 0;
        for (int64_t a = 0; a < k; ++a)
          for (int64_t b = 0; b < k; ++b) s += xv[(p * H + i * k + a) * W + j * k + b];
        EXPECT_NEAR(yv[(p * 3 + i) * 2 + j], s / (k * k), 1e-12);
      }
  // float32 and a 3x3 window.
  Tensor x3 = random_tensor({1, 2, 6, 9}, 501);
  Tensor y3 = ops::avg_pool2d(x3, 3);
  ASSERT_EQ(y3.shape(), (Shape{1, 2, 2, 3}));
  EXPECT_NEAR(vals(y3)[0], [&] {
    const std::vector<double> v = vals(x3);
    double s = 0;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) s += v[a * 9 + b];
    return s / 9;
  }(), 1e-6);
}

TEST(TensorPool, UpsampleRepeatsPixels) {
  Tensor x = ops::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {1, 1, 2, 3});
  Tensor y = ops::upsample_nearest2d(x, 2);
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 6}));
  EXPECT_EQ(vals(y), (std::vector<double>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6}));
}

// <pool(x), g> = <x, pool_backward(g)>, and likewise for upsampling.
TEST(TensorPool, BackwardPassesAreAdjoints) {
  for (int64_t k : {1, 2, 3}) {
    const Shape xs = {2, 3, 7, 8};
    Tensor x = random_tensor(xs, 600 + k, DType::Float64);
    Tensor g = random_tensor({2, 3, 7 / k, 8 / k}, 610 + k, DType::Float64);
    const double lhs = dot(vals(ops::avg_pool2d(x, k)), vals(g));
    EXPECT_NEAR(dot(vals(x), vals(ops::avg_pool2d_backward(g, xs, k))), lhs, 1e-12) << "pool k=" << k;

    Tensor gu = random_tensor({2, 3, 7 * k, 8 * k}, 620 + k, DType::Float64);
    const double lhs_u = dot(vals(ops::upsample_nearest2d(x, k)), vals(gu));
    EXPECT_NEAR(dot(vals(x), vals(ops::upsample_nearest2d_backward(gu, xs, k))), lhs_u, 1e-11) << "upsample k=" << k;
  }
  // The pooling backward spreads dy / k^2 and leaves dropped rows at zero.
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
