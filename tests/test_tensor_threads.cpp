// The same bits whatever the thread count: the CPU kernels split work over
// output blocks only, never over a sum (the GEMM by blocks of C, the conv
// weight gradient by blocks of dW with images added in order, reductions in
// pieces fixed by the shape). Each case runs with omp_set_num_threads(1) and
// (2), at the avx2 and avx512 levels this CPU supports, and the results must
// be bitwise equal.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "tensor/ops.h"
#include "tests/isa_levels.h"

using namespace drift;

namespace {

Tensor randn(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return ops::randn(shape, g);
}

// Raw bytes of every tensor, for an exact comparison.
std::vector<std::vector<char>> bytes_of(const std::vector<Tensor>& ts) {
  std::vector<std::vector<char>> out;
  for (const Tensor& t : ts) {
    Tensor c = ops::contiguous(t);
    const char* p = static_cast<const char*>(c.data_ptr());
    out.emplace_back(p, p + c.numel() * dtype_size(c.dtype()));
  }
  return out;
}

// Runs `f` with 1 and with 2 OpenMP threads and expects bitwise equal results.
void expect_same_bits_on_1_and_2_threads(const std::string& what, const std::function<std::vector<Tensor>()>& f) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = bytes_of(f());
  omp_set_num_threads(2);
  const auto two = bytes_of(f());
  omp_set_num_threads(saved);
  ASSERT_EQ(one.size(), two.size()) << what;
  for (size_t i = 0; i < one.size(); ++i)
    EXPECT_TRUE(one[i] == two[i]) << what << ": output " << i << " differs between 1 and 2 threads";
}

// The portable level runs float32 GEMMs on OpenBLAS (one call per block of
// output columns): its kernels round differently for different block widths,
// so only drift's own GEMM levels promise the same bits.
class TensorThreads : public PerIsaTest {
 protected:
  void SetUp() override {
    PerIsaTest::SetUp();
    if (IsSkipped()) return;
    if (GetParam() == cpu::CpuIsa::Generic)
      GTEST_SKIP() << "the portable level's float32 GEMM is OpenBLAS, whose results depend on the block width "
                      "(1 vs 2 threads differ: measured)";
  }
};

TEST_P(TensorThreads, MatmulSingleBatchedAndTransposed) {
  Tensor a = randn({96, 300}, 1), b = randn({300, 500}, 2);
  Tensor qa = randn({8, 64, 32}, 3), qb = randn({8, 32, 64}, 4);
  expect_same_bits_on_1_and_2_threads("matmul", [&] {
    return std::vector<Tensor>{ops::matmul(a, b), ops::matmul(qa, qb),
                               ops::matmul(ops::transpose(b, 0, 1), ops::transpose(a, 0, 1)),
                               ops::matmul(a, ops::transpose(randn({40, 300}, 5), 0, 1))};
  });
}

TEST_P(TensorThreads, Conv2dForwardAndBothGradients) {
  struct Case {
    Shape x, w;
    int64_t stride, pad;
  };
  // Wide stride-1 images (shifted windows), small images (several per chunk),
  // a strided conv and a 1x1 conv; batches of 1 and of several images; and
  // two that take Winograd (conv_fast.h's rules) in all three passes, with
  // several blocks and all of the weight gradient's groups.
  for (const Case& c : {Case{{3, 8, 20, 20}, {16, 8, 3, 3}, 1, 1}, Case{{6, 16, 8, 8}, {8, 16, 3, 3}, 1, 1},
                        Case{{1, 8, 20, 20}, {16, 8, 3, 3}, 1, 1}, Case{{4, 6, 9, 9}, {5, 6, 3, 3}, 2, 1},
                        Case{{5, 12, 6, 6}, {7, 12, 1, 1}, 1, 0}, Case{{5, 16, 14, 14}, {24, 16, 3, 3}, 1, 1},
                        Case{{3, 32, 28, 28}, {16, 32, 3, 3}, 1, 1}}) {
    Tensor x = randn(c.x, 10), w = randn(c.w, 11), b = randn({c.w[0]}, 12);
    Tensor y = ops::conv2d(x, w, b, c.stride, c.pad);
    Tensor dy = randn(y.shape(), 13);
    expect_same_bits_on_1_and_2_threads("conv2d x " + shape_str(c.x), [&] {
      return std::vector<Tensor>{ops::conv2d(x, w, b, c.stride, c.pad),
                                 ops::conv2d_backward_input(dy, w, c.x, c.stride, c.pad),
                                 ops::conv2d_backward_weight(dy, x, c.w, c.stride, c.pad)};
    });
  }
}

TEST_P(TensorThreads, SumsOfLongRowsAndOfManyRows) {
  Tensor row = randn({3, 200000}, 20);  // few long rows: split into pieces
  Tensor tall = randn({4096, 40}, 21);  // many rows, few outputs (a bias gradient)
  Tensor mid = randn({64, 70, 300}, 22);
  expect_same_bits_on_1_and_2_threads("sum", [&] {
    return std::vector<Tensor>{ops::sum(row, {1}), ops::sum(row), ops::sum(tall, {0}), ops::sum(mid, {1}),
                               ops::sum(ops::to(row, DType::Float64), {1})};
  });
}

TEST_P(TensorThreads, GroupNormAndLayerNormWithGradients) {
  Tensor x = randn({4, 32, 12, 12}, 30), gw = randn({32}, 31), gb = randn({32}, 32);
  Tensor dy = randn(x.shape(), 33);
  Tensor xl = randn({300, 96}, 34), lw = randn({96}, 35), lb = randn({96}, 36), dyl = randn({300, 96}, 37);
  expect_same_bits_on_1_and_2_threads("norms", [&] {
    ops::NormResult g = ops::group_norm(x, 8, gw, gb, 1e-5);
    ops::NormGrads gg = ops::group_norm_backward(dy, x, g.mean, g.rstd, gw, 8);
    ops::NormResult l = ops::layer_norm(xl, lw, lb, 1e-5);
    ops::NormGrads lg = ops::layer_norm_backward(dyl, xl, l.mean, l.rstd, lw);
    return std::vector<Tensor>{g.y, gg.dx, gg.dweight, gg.dbias, l.y, lg.dx, lg.dweight, lg.dbias};
  });
}

// A tiny U-Net: a forward pass, then three SGD and three Adam training steps
// from the same seeds; the outputs, losses and final weights must match.
TEST_P(TensorThreads, TinyUNetForwardAndTrainingSteps) {
  Tensor x = randn({4, 1, 8, 8}, 40), eps = randn({4, 1, 8, 8}, 41);
  Tensor t = ops::from_vector(std::vector<int64_t>{3, 250, 600, 999}, {4});
  expect_same_bits_on_1_and_2_threads("tiny U-Net", [&] {
    std::vector<Tensor> out;
    nn::UNet net(nn::UNetConfig::tiny());
    {
      NoGradGuard no_grad;
      net.eval();
      out.push_back(net.forward(x, t));
    }
    net.train();
    nn::SGD sgd(net.named_parameters(), nn::SGDOptions{1e-2, 0.9, 0.0, false});
    nn::Adam adam(net.named_parameters(), nn::AdamOptions{});
    for (int step = 0; step < 6; ++step) {
      nn::Optimizer& opt = step < 3 ? static_cast<nn::Optimizer&>(sgd) : adam;
      opt.zero_grad();
      Tensor loss = mse_loss(net.forward(x, t), eps);
      backward(loss);
      opt.step();
      out.push_back(ops::clone(loss));
    }
    for (const auto& [name, p] : net.named_parameters()) out.push_back(ops::clone(p));
    return out;
  });
}

DRIFT_INSTANTIATE_PER_ISA(TensorThreads);

}  // namespace
