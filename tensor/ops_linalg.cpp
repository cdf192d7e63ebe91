// Frontends of the linear-algebra, convolution and resampling ops: argument
// checks (messages name the shapes involved), output allocation and dispatch.
// The kernels (tensor/cpu/matmul.cpp, conv.cpp, pool.cpp and their CUDA
// counterparts) receive the layouts documented next to each frontend.
#include <string>

#include "tensor/backend.h"
#include "tensor/ops.h"
#include "tensor/ops_checks.h"

namespace drift::ops {
namespace {

using namespace checks;

// A view sharing t's storage.
Tensor make_view(const Tensor& t, Shape shape, Shape strides, int64_t offset) {
  return Tensor(t.storage(), std::move(shape), std::move(strides), offset, t.dtype());
}

// Merges the batch dims [0, nb) of t into one (size, stride) pair when the
// strides allow it (including stride 0 for broadcast dims). Returns false if not.
bool merge_batch(const Tensor& t, int64_t nb, int64_t& size, int64_t& stride) {
  size = 1;
  stride = 0;
  bool have = false;
  for (int64_t i = nb - 1; i >= 0; --i) {
    const int64_t s = t.shape()[i], st = t.strides()[i];
    if (s == 1) continue;
    if (!have) {
      stride = st;
      have = true;
    } else if (st != stride * size) {
      return false;
    }
    size *= s;
  }
  if (size == 0) stride = 0;
  return true;
}

// t (rank 2+) viewed as [batch..., r, c], broadcast to batch shape `bs`,
// then merged to 3-D [B, r, c]; copies only if the strides do not allow it.
Tensor as_batched_3d(const Tensor& t, const Shape& bs) {
  const int64_t nb = static_cast<int64_t>(bs.size()), tb = t.dim() - 2;
  Shape shape(bs), strides(static_cast<size_t>(nb), 0);
  for (int64_t i = 0; i < tb; ++i) {
    const int64_t d = nb - tb + i;  // right-aligned
    strides[d] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  }
  shape.push_back(t.size(-2));
  shape.push_back(t.size(-1));
  strides.push_back(t.stride(-2));
  strides.push_back(t.stride(-1));
  Tensor e = make_view(t, shape, strides, t.offset());
  int64_t size, stride;
  if (!merge_batch(e, nb, size, stride)) {
    e = contiguous(e);
    merge_batch(e, nb, size, stride);
  }
  return make_view(e, {size, e.size(-2), e.size(-1)}, {stride, e.stride(-2), e.stride(-1)}, e.offset());
}

// NCHW conv output size along one axis.
int64_t conv_out(int64_t in, int64_t k, int64_t stride, int64_t pad) { return (in + 2 * pad - k) / stride + 1; }

void check_conv_args(const char* op, int64_t stride, int64_t padding) {
  DRIFT_CHECK(stride >= 1, op, ": stride must be >= 1, got ", stride);
  DRIFT_CHECK(padding >= 0, op, ": padding must be >= 0, got ", padding);
}

}  // namespace

// ---------------------------------------------------------------- matmul
// Kernel: in = {a [B, M, K], b [B, K, N]}, out = {c [B, M, N] contiguous},
// each matrix in a BLAS layout (blas_layout, tensor/op.h), batch stride 0 allowed.
Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined(a, "matmul", "a");
  check_defined(b, "matmul", "b");
  DRIFT_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: expected tensors of rank >= 2, got shapes ",
              shape_str(a.shape()), " and ", shape_str(b.shape()));
  check_same(a, b, "matmul", "a", "b");
  check_floating(a, "matmul");
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  DRIFT_CHECK(b.size(-2) == K, "matmul: inner dimensions differ: ", shape_str(a.shape()), " @ ",
              shape_str(b.shape()), " (a.size(-1) = ", K, ", b.size(-2) = ", b.size(-2), ")");
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(ba, bb);
  } catch (const Error&) {
    throw Error(str("matmul: batch dimensions of ", shape_str(a.shape()), " and ", shape_str(b.shape()),
                    " do not broadcast"));
  }
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = empty(out_shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;

  // Matrices BLAS cannot read directly (neither dim has unit stride) are copied.
  Tensor a2 = blas_layout(M, K, a.stride(-2), a.stride(-1)).ok ? a : contiguous(a);
  Tensor b2 = blas_layout(K, N, b.stride(-2), b.stride(-1)).ok ? b : contiguous(b);
  Tensor a3 = as_batched_3d(a2, batch), b3 = as_batched_3d(b2, batch);
  const int64_t B = a3.size(0);

  // b shared by every batch entry and a's rows stacked row-major: one GEMM
  // [B*M, K] @ [K, N] instead of B small ones (e.g. a Linear layer on [B, T, D]).
  if (B > 1 && b3.stride(0) == 0 && a3.stride(2) == 1 && (M == 1 || a3.stride(0) == M * a3.stride(1))) {
    const int64_t row_stride = M == 1 ? a3.stride(0) : a3.stride(1);
    Tensor a_flat = make_view(a3, {1, B * M, K}, {0, row_stride, 1}, a3.offset());
    Tensor b_flat = make_view(b3, {1, K, N}, {0, b3.stride(1), b3.stride(2)}, b3.offset());
    Tensor out_flat = make_view(out, {1, B * M, N}, {0, N, 1}, out.offset());
    if (blas_layout(B * M, K, row_stride, 1).ok) {
      MatmulParams p{1, B * M, N, K};
      KernelArgs args;
      args.in = {&a_flat, &b_flat};
      args.out = {&out_flat};
      args.params = &p;
      dispatch(OpKind::Matmul, a.device(), args);
      return out;
    }
  }
  Tensor out3 = make_view(out, {B, M, N}, {M * N, N, 1}, out.offset());
  MatmulParams p{B, M, N, K};
  KernelArgs args;
  args.in = {&a3, &b3};
  args.out = {&out3};
  args.params = &p;
  dispatch(OpKind::Matmul, a.device(), args);
  return out;
}

// ---------------------------------------------------------------- convolution
// Kernels (all tensors contiguous):
//   Conv2d               in = {x, w, bias or null}, out = {y}
//   Conv2dBackwardInput  in = {dy, w},              out = {dx}
//   Conv2dBackwardWeight in = {dy, x},              out = {dw}
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride, int64_t padding) {
  check_defined(x, "conv2d", "x");
  check_defined(w, "conv2d", "weight");
  check_conv_args("conv2d", stride, padding);
  DRIFT_CHECK(x.dim() == 4, "conv2d: expected input x [N, C, H, W], got shape ", shape_str(x.shape()));
  DRIFT_CHECK(w.dim() == 4, "conv2d: expected weight [Cout, Cin, kh, kw], got shape ", shape_str(w.shape()));
  check_same(x, w, "conv2d", "x", "weight");
  check_floating(x, "conv2d");
  DRIFT_CHECK(w.size(1) == x.size(1), "conv2d: weight ", shape_str(w.shape()), " expects ", w.size(1),
              " input channels but x ", shape_str(x.shape()), " has ", x.size(1));
  if (bias.defined()) {
    check_same(x, bias, "conv2d", "x", "bias");
    DRIFT_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "conv2d: expected bias [", w.size(0),
                "] for weight ", shape_str(w.shape()), ", got ", shape_str(bias.shape()));
  }
  const int64_t Ho = conv_out(x.size(2), w.size(2), stride, padding);
  const int64_t Wo = conv_out(x.size(3), w.size(3), stride, padding);
  DRIFT_CHECK(x.size(2) + 2 * padding >= w.size(2) && x.size(3) + 2 * padding >= w.size(3),
              "conv2d: kernel ", w.size(2), "x", w.size(3), " is larger than the padded input (x ",
              shape_str(x.shape()), ", padding ", padding, ")");
  Tensor y = empty({x.size(0), w.size(0), Ho, Wo}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  Tensor xc = contig(x), wc = contig(w), bc;
  if (bias.defined()) bc = contig(bias);
  Conv2dParams p{stride, stride, padding, padding};
  KernelArgs args;
  args.in = {&xc, &wc, bias.defined() ? &bc : nullptr};
  args.out = {&y};
  args.params = &p;
  dispatch(OpKind::Conv2d, x.device(), args);
  return y;
}

Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Shape& x_shape, int64_t stride,
                             int64_t padding) {
  check_defined(grad_out, "conv2d_backward_input", "grad_out");
  check_defined(w, "conv2d_backward_input", "weight");
  check_conv_args("conv2d_backward_input", stride, padding);
  check_same(grad_out, w, "conv2d_backward_input", "grad_out", "weight");
  check_floating(w, "conv2d_backward_input");
  DRIFT_CHECK(x_shape.size() == 4 && w.dim() == 4 && grad_out.dim() == 4 && x_shape[1] == w.size(1),
              "conv2d_backward_input: expected x [N, C, H, W], weight [Cout, C, kh, kw], grad_out [N, Cout, Ho, Wo];"
              " got x ", shape_str(x_shape), ", weight ", shape_str(w.shape()), ", grad_out ",
              shape_str(grad_out.shape()));
  const Shape expect = {x_shape[0], w.size(0), conv_out(x_shape[2], w.size(2), stride, padding),
                        conv_out(x_shape[3], w.size(3), stride, padding)};
  DRIFT_CHECK(grad_out.shape() == expect, "conv2d_backward_input: grad_out has shape ", shape_str(grad_out.shape()),
              " but x ", shape_str(x_shape), " and weight ", shape_str(w.shape()), " give output ", shape_str(expect));
  Tensor dx = empty(x_shape, w.dtype(), w.device());
  if (dx.numel() == 0) return dx;
  if (grad_out.numel() == 0) {
    fill_(dx, 0.0);
    return dx;
  }
  Tensor gc = contig(grad_out), wc = contig(w);
  Conv2dParams p{stride, stride, padding, padding};
  KernelArgs args;
  args.in = {&gc, &wc};
  args.out = {&dx};
  args.params = &p;
  dispatch(OpKind::Conv2dBackwardInput, w.device(), args);
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& w_shape, int64_t stride,
                              int64_t padding) {
  check_defined(grad_out, "conv2d_backward_weight", "grad_out");
  check_defined(x, "conv2d_backward_weight", "x");
  check_conv_args("conv2d_backward_weight", stride, padding);
  check_same(grad_out, x, "conv2d_backward_weight", "grad_out", "x");
  check_floating(x, "conv2d_backward_weight");
  DRIFT_CHECK(w_shape.size() == 4 && x.dim() == 4 && grad_out.dim() == 4 && x.size(1) == w_shape[1],
              "conv2d_backward_weight: expected x [N, C, H, W], weight [Cout, C, kh, kw], grad_out [N, Cout, Ho, Wo];"
              " got x ", shape_str(x.shape()), ", weight ", shape_str(w_shape), ", grad_out ",
              shape_str(grad_out.shape()));
  const Shape expect = {x.size(0), w_shape[0], conv_out(x.size(2), w_shape[2], stride, padding),
                        conv_out(x.size(3), w_shape[3], stride, padding)};
  DRIFT_CHECK(grad_out.shape() == expect, "conv2d_backward_weight: grad_out has shape ", shape_str(grad_out.shape()),
              " but x ", shape_str(x.shape()), " and weight ", shape_str(w_shape), " give output ", shape_str(expect));
  Tensor dw = empty(w_shape, x.dtype(), x.device());
  if (dw.numel() == 0) return dw;
  if (grad_out.numel() == 0) {
    fill_(dw, 0.0);
    return dw;
  }
  Tensor gc = contig(grad_out), xc = contig(x);
  Conv2dParams p{stride, stride, padding, padding};
  KernelArgs args;
  args.in = {&gc, &xc};
  args.out = {&dw};
  args.params = &p;
  dispatch(OpKind::Conv2dBackwardWeight, x.device(), args);
  return dw;
}

// ---------------------------------------------------------------- pooling / upsampling
// Kernels: in = {source}, out = {result}, both contiguous NCHW; PoolParams{k}.
namespace {
Tensor run_resample(OpKind op, const Tensor& in, const Shape& out_shape, int64_t k) {
  Tensor out = empty(out_shape, in.dtype(), in.device());
  if (out.numel() == 0) return out;
  Tensor ic = contig(in);
  PoolParams p{k};
  KernelArgs args;
  args.in = {&ic};
  args.out = {&out};
  args.params = &p;
  dispatch(op, in.device(), args);
  return out;
}
}  // namespace

Tensor avg_pool2d(const Tensor& x, int64_t k) {
  check_defined(x, "avg_pool2d", "x");
  check_floating(x, "avg_pool2d");
  DRIFT_CHECK(k >= 1, "avg_pool2d: window k must be >= 1, got ", k);
  DRIFT_CHECK(x.dim() == 4 && x.size(2) >= k && x.size(3) >= k, "avg_pool2d: expected x [N, C, H, W] with H, W >= ",
              k, ", got shape ", shape_str(x.shape()));
  return run_resample(OpKind::AvgPool2d, x, {x.size(0), x.size(1), x.size(2) / k, x.size(3) / k}, k);
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, int64_t k) {
  check_defined(grad_out, "avg_pool2d_backward", "grad_out");
  check_floating(grad_out, "avg_pool2d_backward");
  DRIFT_CHECK(k >= 1, "avg_pool2d_backward: window k must be >= 1, got ", k);
  DRIFT_CHECK(x_shape.size() == 4, "avg_pool2d_backward: expected x shape [N, C, H, W], got ", shape_str(x_shape));
  const Shape expect = {x_shape[0], x_shape[1], x_shape[2] / k, x_shape[3] / k};
  DRIFT_CHECK(grad_out.shape() == expect, "avg_pool2d_backward: grad_out has shape ", shape_str(grad_out.shape()),
              " but pooling x ", shape_str(x_shape), " by ", k, " gives ", shape_str(expect));
  return run_resample(OpKind::AvgPool2dBackward, grad_out, x_shape, k);
}

Tensor upsample_nearest2d(const Tensor& x, int64_t scale) {
  check_defined(x, "upsample_nearest2d", "x");
  check_floating(x, "upsample_nearest2d");
  DRIFT_CHECK(scale >= 1, "upsample_nearest2d: scale must be >= 1, got ", scale);
  DRIFT_CHECK(x.dim() == 4, "upsample_nearest2d: expected x [N, C, H, W], got shape ", shape_str(x.shape()));
  return run_resample(OpKind::UpsampleNearest2d, x, {x.size(0), x.size(1), x.size(2) * scale, x.size(3) * scale},
                      scale);
}

Tensor upsample_nearest2d_backward(const Tensor& grad_out, const Shape& x_shape, int64_t scale) {
  check_defined(grad_out, "upsample_nearest2d_backward", "grad_out");
  check_floating(grad_out, "upsample_nearest2d_backward");
  DRIFT_CHECK(scale >= 1, "upsample_nearest2d_backward: scale must be >= 1, got ", scale);
  DRIFT_CHECK(x_shape.size() == 4, "upsample_nearest2d_backward: expected x shape [N, C, H, W], got ",
              shape_str(x_shape));
  const Shape expect = {x_shape[0], x_shape[1], x_shape[2] * scale, x_shape[3] * scale};
  DRIFT_CHECK(grad_out.shape() == expect, "upsample_nearest2d_backward: grad_out has shape ",
              shape_str(grad_out.shape()), " but upsampling x ", shape_str(x_shape), " by ", scale, " gives ",
              shape_str(expect));
  return run_resample(OpKind::UpsampleNearest2dBackward, grad_out, x_shape, scale);
}

}  // namespace drift::ops
