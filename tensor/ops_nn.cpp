// Frontends of the indexing, softmax, normalisation and loss ops: argument
// checks (messages name the shapes involved), output allocation and dispatch.
// Kernel layouts are documented in tensor/cpu/index.cpp, softmax.cpp, norm.cpp.
#include <cmath>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/ops.h"
#include "tensor/ops_checks.h"

namespace drift::ops {
namespace {

using namespace checks;

// A contiguous tensor seen with another shape (same number of elements).
Tensor reshaped(const Tensor& t, const Shape& shape) {
  Tensor c = contig(t);
  return Tensor(c.storage(), shape, contiguous_strides(shape), c.offset(), c.dtype());
}

int64_t prod(const Shape& s, int64_t begin, int64_t end) {
  int64_t p = 1;
  for (int64_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

void check_index(const Tensor& index, const Tensor& t, const char* op) {
  check_defined(index, op, "index");
  DRIFT_CHECK(index.dtype() == DType::Int64, op, ": expected an int64 index, got ", dtype_name(index.dtype()));
  DRIFT_CHECK(index.dim() == 1, op, ": expected a 1-D index, got shape ", shape_str(index.shape()));
  DRIFT_CHECK(index.device() == t.device(), op, ": index is on ", device_name(index.device()), " but the tensor is on ",
              device_name(t.device()));
}

// An optional per-channel parameter: undefined, or [c] with x's dtype/device.
void check_param(const Tensor& p, const Tensor& x, int64_t c, const char* op, const char* name) {
  if (!p.defined()) return;
  check_same(x, p, op, "x", name);
  DRIFT_CHECK(p.dim() == 1 && p.size(0) == c, op, ": expected ", name, " of shape [", c, "] for x ",
              shape_str(x.shape()), ", got ", shape_str(p.shape()));
}

}  // namespace

// ---------------------------------------------------------------- indexing
Tensor index_select(const Tensor& t, int64_t dim, const Tensor& index) {
  check_defined(t, "index_select", "t");
  check_index(index, t, "index_select");
  DRIFT_CHECK(t.dim() >= 1, "index_select: expected a tensor of rank >= 1, got shape ", shape_str(t.shape()));
  const int64_t d = wrap_dim(dim, t.dim());
  const int64_t m = index.size(0);
  Shape out_shape = t.shape();
  out_shape[d] = m;
  Tensor out = empty(out_shape, t.dtype(), t.device());
  if (m == 0) return out;
  DRIFT_CHECK(t.size(d) > 0, "index_select: cannot select ", m, " entries from dim ", d, " of size 0 (shape ",
              shape_str(t.shape()), ")");
  if (out.numel() == 0) return out;
  Tensor tc = contig(t), ic = contig(index);
  IndexParams p{prod(t.shape(), 0, d), t.size(d), prod(t.shape(), d + 1, t.dim()), m};
  KernelArgs args;
  args.in = {&tc, &ic};
  args.out = {&out};
  args.params = &p;
  dispatch(OpKind::IndexSelect, t.device(), args);
  return out;
}

Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined(src, "index_add", "src");
  check_index(index, src, "index_add");
  const int64_t nd = static_cast<int64_t>(shape.size());
  DRIFT_CHECK(nd >= 1, "index_add: expected an output shape of rank >= 1, got ", shape_str(shape));
  const int64_t d = wrap_dim(dim, nd);
  const int64_t m = index.size(0);
  Shape expect = shape;
  expect[d] = m;
  DRIFT_CHECK(src.shape() == expect, "index_add: src has shape ", shape_str(src.shape()), " but an output of shape ",
              shape_str(shape), " with ", m, " indices along dim ", d, " needs ", shape_str(expect));
  Tensor out = empty(shape, src.dtype(), src.device());
  if (out.numel() == 0) return out;
  if (m == 0) {
    fill_(out, 0.0);
    return out;
  }
  Tensor sc = contig(src), ic = contig(index);
  IndexParams p{prod(shape, 0, d), shape[d], prod(shape, d + 1, nd), m};
  KernelArgs args;
  args.in = {&sc, &ic};
  args.out = {&out};
  args.params = &p;
  dispatch(OpKind::IndexAdd, src.device(), args);
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  check_defined(weight, "embedding", "weight");
  check_defined(ids, "embedding", "ids");
  DRIFT_CHECK(weight.dim() == 2, "embedding: expected weight [V, D], got shape ", shape_str(weight.shape()));
  DRIFT_CHECK(ids.dtype() == DType::Int64, "embedding: expected int64 ids, got ", dtype_name(ids.dtype()));
  Tensor rows = index_select(weight, 0, reshaped(ids, {ids.numel()}));
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  return reshaped(rows, out_shape);
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  check_defined(labels, "one_hot", "labels");
  DRIFT_CHECK(labels.dtype() == DType::Int64, "one_hot: expected int64 labels, got ", dtype_name(labels.dtype()));
  DRIFT_CHECK(num_classes >= 1, "one_hot: num_classes must be >= 1, got ", num_classes);
  // Row `label` of the identity matrix.
  std::vector<double> eye(static_cast<size_t>(num_classes * num_classes), 0.0);
  for (int64_t i = 0; i < num_classes; ++i) eye[static_cast<size_t>(i * num_classes + i)] = 1.0;
  Tensor identity = to(from_vector(eye, {num_classes, num_classes}, labels.device()), dtype);
  Tensor rows = index_select(identity, 0, reshaped(labels, {labels.numel()}));
  Shape out_shape = labels.shape();
  out_shape.push_back(num_classes);
  return reshaped(rows, out_shape);
}

// ---------------------------------------------------------------- softmax
namespace {
Tensor run_softmax(OpKind op, const Tensor& x, int64_t dim, const char* name) {
  check_defined(x, name, "x");
  check_floating(x, name);
  DRIFT_CHECK(x.dim() >= 1, name, ": expected a tensor of rank >= 1, got shape ", shape_str(x.shape()));
  const int64_t d = wrap_dim(dim, x.dim());
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  Tensor xc = contig(x);
  SoftmaxParams p{prod(x.shape(), 0, d), x.size(d), prod(x.shape(), d + 1, x.dim())};
  KernelArgs args;
  args.in = {&xc};
  args.out = {&y};
  args.params = &p;
  dispatch(op, x.device(), args);
  return y;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return run_softmax(OpKind::Softmax, x, dim, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return run_softmax(OpKind::LogSoftmax, x, dim, "log_softmax"); }

// ---------------------------------------------------------------- attention
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  check_defined(q, "attention", "q");
  check_defined(k, "attention", "k");
  check_defined(v, "attention", "v");
  check_floating(q, "attention");
  check_same(q, k, "attention", "q", "k");
  check_same(q, v, "attention", "q", "v");
  DRIFT_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, "attention: expected q [G, d, Nq], k [G, d, Nk], "
              "v [G, dv, Nk], got ", shape_str(q.shape()), ", ", shape_str(k.shape()), ", ", shape_str(v.shape()));
  DRIFT_CHECK(k.size(0) == q.size(0) && v.size(0) == q.size(0) && k.size(1) == q.size(1) && v.size(2) == k.size(2),
              "attention: expected q [G, d, Nq], k [G, d, Nk], v [G, dv, Nk], got ", shape_str(q.shape()), ", ",
              shape_str(k.shape()), ", ", shape_str(v.shape()));
  DRIFT_CHECK(std::isfinite(scale), "attention: scale must be finite, got ", scale);
  const int64_t g = q.size(0), d = q.size(1), nq = q.size(2), nk = k.size(2), dv = v.size(1);
  Tensor out = empty({g, dv, nq}, q.dtype(), q.device());
  if (out.numel() == 0) return out;
  DRIFT_CHECK(nk > 0, "attention: there must be at least one key, got k ", shape_str(k.shape()));
  DRIFT_CHECK(d > 0, "attention: q and k need at least one channel, got q ", shape_str(q.shape()));
  // Each [d, N] matrix contiguous; the batch stride is free (a view of the qkv convolution's output).
  auto rows_contig = [](const Tensor& t) {
    const bool ok = (t.size(2) <= 1 || t.stride(2) == 1) && (t.size(1) <= 1 || t.stride(1) == t.size(2));
    return ok ? t : contiguous(t);
  };
  Tensor qc = rows_contig(q), kc = rows_contig(k), vc = rows_contig(v);
  AttentionParams p{g, d, dv, nq, nk, qc.stride(0), kc.stride(0), vc.stride(0), scale};
  KernelArgs args;
  args.in = {&qc, &kc, &vc};
  args.out = {&out};
  args.params = &p;
  dispatch(OpKind::Attention, q.device(), args);
  return out;
}

// ---------------------------------------------------------------- group norm
NormResult group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps,
                      bool silu) {
  check_defined(x, "group_norm", "x");
  check_floating(x, "group_norm");
  DRIFT_CHECK(x.dim() >= 2, "group_norm: expected x [N, C, *], got shape ", shape_str(x.shape()));
  const int64_t N = x.size(0), C = x.size(1);
  DRIFT_CHECK(groups >= 1 && C % groups == 0, "group_norm: ", C, " channels (x ", shape_str(x.shape()),
              ") cannot be split into ", groups, " groups");
  DRIFT_CHECK(eps >= 0, "group_norm: eps must be >= 0, got ", eps);
  check_param(weight, x, C, "group_norm", "weight");
  check_param(bias, x, C, "group_norm", "bias");
  NormResult r;
  r.y = empty(x.shape(), x.dtype(), x.device());
  r.mean = empty({N, groups}, x.dtype(), x.device());
  r.rstd = empty({N, groups}, x.dtype(), x.device());
  if (N == 0) return r;
  Tensor xc = contig(x), wc, bc;
  if (weight.defined()) wc = contig(weight);
  if (bias.defined()) bc = contig(bias);
  NormParams p{N, C, prod(x.shape(), 2, x.dim()), groups, eps, silu};
  KernelArgs args;
  args.in = {&xc, weight.defined() ? &wc : nullptr, bias.defined() ? &bc : nullptr};
  args.out = {&r.y, &r.mean, &r.rstd};
  args.params = &p;
  dispatch(OpKind::GroupNorm, x.device(), args);
  return r;
}

NormGrads group_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight, int64_t groups, const Tensor& bias, bool silu) {
  const char* op = "group_norm_backward";
  check_defined(grad_y, op, "grad_y");
  check_defined(x, op, "x");
  check_defined(mean, op, "mean");
  check_defined(rstd, op, "rstd");
  check_floating(x, op);
  DRIFT_CHECK(x.dim() >= 2, op, ": expected x [N, C, *], got shape ", shape_str(x.shape()));
  const int64_t N = x.size(0), C = x.size(1);
  DRIFT_CHECK(groups >= 1 && C % groups == 0, op, ": ", C, " channels (x ", shape_str(x.shape()),
              ") cannot be split into ", groups, " groups");
  check_same(x, grad_y, op, "x", "grad_y");
  check_same(x, mean, op, "x", "mean");
  check_same(x, rstd, op, "x", "rstd");
  DRIFT_CHECK(grad_y.shape() == x.shape(), op, ": grad_y has shape ", shape_str(grad_y.shape()), " but x has shape ",
              shape_str(x.shape()));
  const Shape stats = {N, groups};
  DRIFT_CHECK(mean.shape() == stats && rstd.shape() == stats, op, ": expected mean and rstd of shape ",
              shape_str(stats), " for x ", shape_str(x.shape()), ", got ", shape_str(mean.shape()), " and ",
              shape_str(rstd.shape()));
  check_param(weight, x, C, op, "weight");
  check_param(bias, x, C, op, "bias");
  DRIFT_CHECK(!silu || weight.defined() == bias.defined(), op,
              ": with silu, weight and bias must both be given or both be absent");
  NormGrads g;
  g.dx = empty(x.shape(), x.dtype(), x.device());
  if (weight.defined()) {
    g.dweight = empty({C}, x.dtype(), x.device());
    g.dbias = empty({C}, x.dtype(), x.device());
  }
  if (N == 0) {
    if (weight.defined()) {
      fill_(g.dweight, 0.0);
      fill_(g.dbias, 0.0);
    }
    return g;
  }
  Tensor gc = contig(grad_y), xc = contig(x), mc = contig(mean), rc = contig(rstd), wc;
  if (weight.defined()) wc = contig(weight);
  Tensor bc;
  if (silu && bias.defined()) bc = contig(bias);
  NormParams p{N, C, prod(x.shape(), 2, x.dim()), groups, 0.0, silu};
  KernelArgs args;
  args.in = {&gc, &xc, &mc, &rc, weight.defined() ? &wc : nullptr, silu && bias.defined() ? &bc : nullptr};
  args.out = {&g.dx, weight.defined() ? &g.dweight : nullptr, weight.defined() ? &g.dbias : nullptr};
  args.params = &p;
  dispatch(OpKind::GroupNormBackward, x.device(), args);
  return g;
}

// ---------------------------------------------------------------- layer norm
// LayerNorm over the last dim is GroupNorm of x viewed as [M, D, 1] with one
// group (each row is a group, each of its D elements a channel with its own
// weight and bias): one kernel family for both, on every backend.
NormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_defined(x, "layer_norm", "x");
  check_floating(x, "layer_norm");
  DRIFT_CHECK(x.dim() >= 1, "layer_norm: expected x [..., D], got shape ", shape_str(x.shape()));
  DRIFT_CHECK(eps >= 0, "layer_norm: eps must be >= 0, got ", eps);
  const int64_t D = x.size(-1), M = prod(x.shape(), 0, x.dim() - 1);
  check_param(weight, x, D, "layer_norm", "weight");
  check_param(bias, x, D, "layer_norm", "bias");
  const Shape stats(x.shape().begin(), x.shape().end() - 1);
  NormResult r = group_norm(reshaped(x, {M, D, 1}), 1, weight, bias, eps);
  return {reshaped(r.y, x.shape()), reshaped(r.mean, stats), reshaped(r.rstd, stats)};
}

NormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                              const Tensor& weight) {
  const char* op = "layer_norm_backward";
  check_defined(grad_y, op, "grad_y");
  check_defined(x, op, "x");
  check_defined(mean, op, "mean");
  check_defined(rstd, op, "rstd");
  check_floating(x, op);
  DRIFT_CHECK(x.dim() >= 1, op, ": expected x [..., D], got shape ", shape_str(x.shape()));
  check_same(x, grad_y, op, "x", "grad_y");
  check_same(x, mean, op, "x", "mean");
  check_same(x, rstd, op, "x", "rstd");
  DRIFT_CHECK(grad_y.shape() == x.shape(), op, ": grad_y has shape ", shape_str(grad_y.shape()), " but x has shape ",
              shape_str(x.shape()));
  const int64_t D = x.size(-1), M = prod(x.shape(), 0, x.dim() - 1);
  DRIFT_CHECK(mean.numel() == M && rstd.numel() == M, op, ": expected mean and rstd with ", M,
              " elements for x ", shape_str(x.shape()), ", got ", shape_str(mean.shape()), " and ",
              shape_str(rstd.shape()));
  check_param(weight, x, D, op, "weight");
  NormGrads g = group_norm_backward(reshaped(grad_y, {M, D, 1}), reshaped(x, {M, D, 1}), reshaped(mean, {M, 1}),
                                    reshaped(rstd, {M, 1}), weight, 1);
  g.dx = reshaped(g.dx, x.shape());
  return g;
}

// ---------------------------------------------------------------- losses
Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  check_defined(pred, "mse_loss", "pred");
  check_defined(target, "mse_loss", "target");
  check_same(pred, target, "mse_loss", "pred", "target");
  check_floating(pred, "mse_loss");
  DRIFT_CHECK(pred.shape() == target.shape(), "mse_loss: pred has shape ", shape_str(pred.shape()),
              " but target has shape ", shape_str(target.shape()), " (expected equal shapes)");
  return mean(square(sub(pred, target)));  // mean((pred - target)^2)
}

// loss = -1/N sum_i log_softmax(logits)[i, labels[i]]
Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  check_defined(logits, "cross_entropy", "logits");
  check_defined(labels, "cross_entropy", "labels");
  check_floating(logits, "cross_entropy");
  DRIFT_CHECK(logits.dim() == 2, "cross_entropy: expected logits [N, C], got shape ", shape_str(logits.shape()));
  DRIFT_CHECK(labels.dtype() == DType::Int64, "cross_entropy: expected int64 labels, got ",
              dtype_name(labels.dtype()));
  DRIFT_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), "cross_entropy: expected labels [",
              logits.size(0), "] for logits ", shape_str(logits.shape()), ", got ", shape_str(labels.shape()));
  DRIFT_CHECK(labels.device() == logits.device(), "cross_entropy: labels are on ", device_name(labels.device()),
              " but logits are on ", device_name(logits.device()));
  const int64_t N = logits.size(0), C = logits.size(1);
  DRIFT_CHECK(N > 0, "cross_entropy: empty batch (logits ", shape_str(logits.shape()), ")");
  // Flat positions i*C + label_i of the picked log-probabilities.
  std::vector<int64_t> lab = to_vector_i64(labels), pos(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    DRIFT_CHECK(lab[i] >= 0 && lab[i] < C, "cross_entropy: label ", lab[i], " at position ", i,
                " is out of range for ", C, " classes (logits ", shape_str(logits.shape()), ")");
    pos[i] = i * C + lab[i];
  }
  Tensor logp = reshaped(log_softmax(logits, 1), {N * C});
  Tensor picked = index_select(logp, 0, from_vector(pos, {N}, logits.device()));
  return neg(mean(picked));
}

}  // namespace drift::ops
