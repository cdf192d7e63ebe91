// Parity with PyTorch: the reference U-Net (torch_unet_reference.py) exported
// its seeded weights, fixed inputs, output, MSE loss, d loss / d x and every
// parameter gradient. Our U-Net, loaded with those weights, must reproduce
// all of them to float32 accuracy.
//
// Tolerance: each tensor is compared by its largest element error relative to
// its largest magnitude, max|ours - ref| / max|ref| <= 1e-4 (and the scalar
// loss to 1e-5 relative). Both sides compute in float32, but in different
// orders (our GEMM/im2col convolutions and reductions vs oneDNN's), so each
// op differs by a few ulps (~1e-7 relative); those differences pass through
// ~30 layers forward and again backward, through GroupNorm divisions and
// softmax, and grow to about 1e-6..1e-5 of the largest value. 1e-4 leaves an
// order of magnitude of headroom while any real mistake (a wrong formula,
// transposed weights, a missing term, a wrong skip connection) gives errors
// of order 1e-2..1.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>

#include "nn/safetensors.h"
#include "nn/unet.h"
#include "tests/rel_err.h"

using drift::testing::rel_err;

using namespace drift;
using namespace drift::nn;

namespace {

constexpr double kTensorTol = 1e-4;
constexpr double kLossTol = 1e-5;

void check_parity(const std::string& dir, const UNetConfig& cfg) {
  UNet net(cfg);
  load_module(net, dir + "/weights.safetensors");  // strict: every name, shape and dtype
  net.eval();                                       // dropout off, as the export
  SafetensorsContents io = load_safetensors(dir + "/io.safetensors");
  SafetensorsContents grads = load_safetensors(dir + "/grads.safetensors");

  Tensor x = ops::clone(find_tensor(io.tensors, "x"));
  x.set_requires_grad(true);
  Tensor t = find_tensor(io.tensors, "t");
  Tensor eps = find_tensor(io.tensors, "eps");
  ASSERT_EQ(t.dtype(), DType::Int64);

  Tensor out = net.forward(x, t);
  Tensor loss = mse_loss(out, eps);
  backward(loss);

  double e_out = rel_err(out, find_tensor(io.tensors, "out"));
  EXPECT_LE(e_out, kTensorTol) << "out";
  double ref_loss = ops::to_vector_f64(find_tensor(io.tensors, "loss"))[0];
  double e_loss = std::abs(ops::item(loss) - ref_loss) / std::abs(ref_loss);
  EXPECT_LE(e_loss, kLossTol) << "loss " << ops::item(loss) << " vs " << ref_loss;
  ASSERT_TRUE(x.grad().defined());
  double e_gx = rel_err(x.grad(), find_tensor(io.tensors, "grad.x"));
  EXPECT_LE(e_gx, kTensorTol) << "grad.x";

  double worst = 0;
  std::string worst_name;
  size_t checked = 0;
  for (auto& [name, p] : net.named_parameters()) {
    Tensor ref = find_tensor(grads.tensors, name);
    ASSERT_TRUE(ref.defined()) << "no reference gradient for " << name;
    ASSERT_TRUE(p.grad().defined()) << "no gradient reached " << name;
    double e = rel_err(p.grad(), ref);
    EXPECT_LE(e, kTensorTol) << "gradient of " << name;
    if (e > worst) {
      worst = e;
      worst_name = name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, grads.tensors.size());
  std::printf("parity %s: out %.2e  loss %.2e  grad.x %.2e  worst parameter gradient %.2e (%s), %zu gradients\n",
              dir.c_str(), e_out, e_loss, e_gx, worst, worst_name.c_str(), checked);
}

}  // namespace

TEST(ParityUNet, TinyMatchesPyTorch) {
  check_parity(std::string(DRIFT_TEST_DATA) + "/parity/tiny", UNetConfig::tiny());
}

TEST(ParityUNet, MnistMatchesPyTorch) {
  const std::string dir = std::string(DRIFT_SHARED_DIR) + "/bench/parity/mnist";
  if (!std::ifstream(dir + "/weights.safetensors").good())
    GTEST_SKIP() << "the mnist parity files are not here (" << dir
                 << "): they live in the shared folder (DRIFT_SHARED_DIR), too large for tests/data";
  check_parity(dir, UNetConfig::mnist());
}
