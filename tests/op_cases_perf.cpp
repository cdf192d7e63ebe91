// Perf-only cases (build/drift-test-ops perf [-o OP]): the op timings of the
// U-Net's layers, formerly in bench/bench_ops.cpp (which keeps the
// drift-vs-OpenBLAS comparisons). Same conventions as
// ../shared/bench/torch_gemm_peak.py: conv forward = 2*N*Cout*H*W*Cin*9 flop,
// forward + backward = 3x; norms in GB/s of the minimal traffic.
#include "tests/op_cases.h"

namespace drift::optest {
namespace {

OpCase perf(std::string op, std::string what, std::vector<Arg> args, Fn fn, double flops, double bytes = 0) {
  OpCase c{std::move(op), "perf: " + what, std::move(args), std::move(fn)};
  c.flops = flops;
  c.bytes = bytes;
  c.perf_only = true;
  c.dtypes = {F32};
  return c;
}

}  // namespace

DRIFT_OP_CASES(perf) {
  auto mm = [](V x) { return ops::matmul(x[0], x[1]); };
  for (int64_t n : {256, 1024, 2048})
    c.push_back(perf("Matmul", std::to_string(n) + "^3", {in({n, n}), in({n, n})}, mm, 2.0 * n * n * n));
  for (int64_t n : {512, 1024})
    c.push_back(perf("Matmul", std::to_string(n) + "^3, B transposed", {in({n, n}), tr({n, n})}, mm, 2.0 * n * n * n));
  // Attention-shaped batched products [B, T, 32] @ [B, 32, T].
  for (auto [b, t] : {std::pair<int64_t, int64_t>{64, 49}, {16, 256}, {64, 196}})
    c.push_back(perf("Matmul", "batched [" + std::to_string(b) + "," + std::to_string(t) + ",32] @ [.,32,.]",
                     {in({b, t, 32}), in({b, 32, t})}, mm, 2.0 * b * t * t * 32));

  // conv2d 64 -> 64, 3x3, pad 1, batch 64.
  const int64_t N = 64, C = 64;
  for (int64_t hw : {28, 14, 7}) {
    const double f = 2.0 * N * C * hw * hw * C * 9;
    const std::string s = std::to_string(hw) + "x" + std::to_string(hw);
    c.push_back(perf("Conv2d", "64->64 3x3 " + s + ", batch 64", {in({N, C, hw, hw}), in({C, C, 3, 3}), in({C})},
                     [](V x) { return ops::conv2d(x[0], x[1], x[2], 1, 1); }, f));
    // forward, then the gradients of input, weight and bias for dy = 1
    c.push_back(perf("Conv2d", "64->64 3x3 " + s + ", batch 64, forward + backward",
                     {in({N, C, hw, hw}), in({C, C, 3, 3}), in({C})},
                     [](V x) {
                       Tensor y = ops::conv2d(x[0], x[1], x[2], 1, 1);
                       Tensor dy = ops::ones_like(y);
                       Tensor dx = ops::conv2d_backward_input(dy, x[1], x[0].shape(), 1, 1);
                       Tensor dw = ops::conv2d_backward_weight(dy, x[0], x[1].shape(), 1, 1);
                       return pack({dx, dw, ops::sum(dy, {0, 2, 3})});
                     },
                     3 * f));
    if (hw == 7) continue;
    c.push_back(perf("Conv2dBackwardInput", "64->64 3x3 " + s + ", batch 64", {in({N, C, hw, hw}), in({C, C, 3, 3})},
                     [](V x) { return ops::conv2d_backward_input(x[0], x[1], x[0].shape(), 1, 1); }, f));
    c.push_back(perf("Conv2dBackwardWeight", "64->64 3x3 " + s + ", batch 64", {in({N, C, hw, hw}), in({N, C, hw, hw})},
                     [](V x) { return ops::conv2d_backward_weight(x[0], x[1], {C, C, 3, 3}, 1, 1); }, f));
    c.push_back(perf("Conv2d", "1x1 64->128 " + s + ", batch 64", {in({N, C, hw, hw}), in({2 * C, C, 1, 1})},
                     [](V x) { return ops::conv2d(x[0], x[1], Tensor(), 1, 0); }, 2.0 * N * 2 * C * hw * hw * C));
  }

  // GroupNorm on [64, 64, 28, 28], 32 groups (the U-Net's setting).
  const Shape xs = {64, 64, 28, 28};
  const double n = static_cast<double>(shape_numel(xs));
  c.push_back(perf("GroupNorm", "[64,64,28,28] G 32 forward", {in(xs), in({64}), in({64})},
                   [](V x) { return ops::group_norm(x[0], 32, x[1], x[2], 1e-5).y; }, 0, 2 * 4 * n));  // read x, write y
  c.push_back(perf("GroupNormBackward", "[64,64,28,28] G 32 backward", {in(xs), in(xs), in({64})},
                   [](V x) {
                     ops::NormResult r = ops::group_norm(x[1], 32, x[2], Tensor(), 1e-5);
                     return ops::group_norm_backward(x[0], x[1], r.mean, r.rstd, x[2], 32).dx;
                   },
                   0, 3 * 4 * n));  // read dy, x, write dx (the forward for mean/rstd is included)
  // The attention-block LayerNorm of the U-Net, [B*T, D] = [4096, 256], forward and backward.
  c.push_back(perf("GroupNorm", "layer_norm [4096,256] forward + backward", {in({4096, 256}), in({4096, 256}), in({256}), in({256})},
                   [](V x) {
                     ops::NormResult r = ops::layer_norm(x[1], x[2], x[3], 1e-5);
                     return ops::layer_norm_backward(x[0], x[1], r.mean, r.rstd, x[2]).dx;
                   },
                   0, 5 * 4 * 4096.0 * 256));  // read x, write y; read dy, x, write dx
}

}  // namespace drift::optest
