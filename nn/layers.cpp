#include "nn/layers.h"

#include <cmath>

#include "nn/autocast.h"

namespace drift::nn {

namespace {
// U(-bound, bound) with bound = 1/sqrt(fan_in): PyTorch's default for the
// weights (kaiming_uniform_ with a = sqrt(5)) and biases of Linear and Conv2d.
Tensor fan_in_uniform(const Shape& shape, int64_t fan_in, Generator& gen) {
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return ops::uniform(shape, -bound, bound, gen);
}
}  // namespace

// ---------------------------------------------------------------- Linear
Linear::Linear(int64_t in, int64_t out, Generator& init, bool has_bias)
    : Module("Linear"), in_features(in), out_features(out) {
  DRIFT_CHECK(in > 0 && out > 0, "Linear: features must be positive, got in=", in, " out=", out);
  weight = register_parameter("weight", fan_in_uniform({out, in}, in, init));
  if (has_bias) bias = register_parameter("bias", fan_in_uniform({out}, in, init));
}

Tensor Linear::forward(const Tensor& x) {
  DRIFT_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear(", in_features, " -> ", out_features,
              "): expected input [..., ", in_features, "], got ", shape_str(x.shape()));
  // x W^T + b; 16-bit operands under autocast (nn/autocast.h), float32 result.
  return autocast_result(linear(autocast_operand(x), autocast_operand(weight), autocast_operand(bias)));
}

// ---------------------------------------------------------------- Conv2d
Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, Generator& init, int64_t stride_, int64_t padding_,
               bool has_bias)
    : Module("Conv2d"), in_channels(in), out_channels(out), kernel_size(k), stride(stride_), padding(padding_) {
  DRIFT_CHECK(in > 0 && out > 0 && k > 0 && stride_ > 0 && padding_ >= 0, "Conv2d: bad arguments in=", in,
              " out=", out, " kernel=", k, " stride=", stride_, " padding=", padding_);
  int64_t fan_in = in * k * k;
  weight = register_parameter("weight", fan_in_uniform({out, in, k, k}, fan_in, init));
  if (has_bias) bias = register_parameter("bias", fan_in_uniform({out}, fan_in, init));
}

Tensor Conv2d::forward(const Tensor& x) {
  DRIFT_CHECK(x.dim() == 4 && x.size(1) == in_channels, "Conv2d(", in_channels, " -> ", out_channels,
              "): expected input [N, ", in_channels, ", H, W], got ", shape_str(x.shape()));
  return autocast_result(
      conv2d(autocast_operand(x), autocast_operand(weight), autocast_operand(bias), stride, padding));
}

// ---------------------------------------------------------------- GroupNorm
GroupNorm::GroupNorm(int64_t g, int64_t c, double eps_) : Module("GroupNorm"), groups(g), channels(c), eps(eps_) {
  DRIFT_CHECK(g > 0 && c > 0 && c % g == 0, "GroupNorm: channels (", c, ") must be a positive multiple of groups (",
              g, ")");
  weight = register_parameter("weight", ops::ones({c}));
  bias = register_parameter("bias", ops::zeros({c}));
}

Tensor GroupNorm::forward(const Tensor& x) {
  DRIFT_CHECK(x.dim() >= 2 && x.size(1) == channels, "GroupNorm(", groups, ", ", channels,
              "): expected input [N, ", channels, ", ...], got ", shape_str(x.shape()));
  return group_norm(x, groups, weight, bias, eps);
}

Tensor GroupNorm::forward_silu(const Tensor& x) {
  DRIFT_CHECK(x.dim() >= 2 && x.size(1) == channels, "GroupNorm(", groups, ", ", channels,
              "): expected input [N, ", channels, ", ...], got ", shape_str(x.shape()));
  return group_norm_silu(x, groups, weight, bias, eps);
}

// ---------------------------------------------------------------- Dropout
Dropout::Dropout(double p_, std::shared_ptr<Generator> gen_) : Module("Dropout"), p(p_), gen(std::move(gen_)) {
  DRIFT_CHECK(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got ", p);
  if (!gen) gen = std::make_shared<Generator>(0);
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p == 0) return x;
  ops::RowShard rows;
  if (split_count > 1) rows = {split_rank * x.size(0), split_count * x.size(0)};
  return dropout(x, p, *gen, rows);
}

void set_batch_split(Module& m, int64_t rank, int64_t count) {
  DRIFT_CHECK(count >= 1 && rank >= 0 && rank < count, "set_batch_split: part ", rank, " of ", count);
  for (auto& [name, sub] : m.named_modules())
    if (auto* d = dynamic_cast<Dropout*>(sub)) {
      d->split_rank = rank;
      d->split_count = count;
    }
}

// ---------------------------------------------------------------- Embedding
Embedding::Embedding(int64_t n, int64_t d, Generator& init) : Module("Embedding"), num_embeddings(n), dim(d) {
  DRIFT_CHECK(n > 0 && d > 0, "Embedding: sizes must be positive, got ", n, " x ", d);
  weight = register_parameter("weight", ops::randn({n, d}, init));
}

Tensor Embedding::forward(const Tensor& ids) {
  DRIFT_CHECK(ids.dtype() == DType::Int64, "Embedding: ids must be int64, got ", dtype_name(ids.dtype()));
  return embedding(weight, ids);
}

// ---------------------------------------------------------------- Sequential
Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : items_) h = m->forward(h);
  return h;
}

// ---------------------------------------------------------------- timestep embedding
Tensor timestep_embedding(const Tensor& t, int64_t dim) {
  DRIFT_CHECK(t.dim() == 1, "timestep_embedding: expected t of shape [B], got ", shape_str(t.shape()));
  DRIFT_CHECK(dim >= 4 && dim % 2 == 0, "timestep_embedding: dim must be even and >= 4, got ", dim);
  const int64_t half = dim / 2, batch = t.size(0);
  // Float32 arithmetic step by step, in the reference's order:
  //   f_i = exp((-ln(10000) * i) / (half - 1));  arg = float(t) * f_i
  std::vector<float> freqs(half);
  const float neg_log = static_cast<float>(-std::log(10000.0));
  const float denom = static_cast<float>(half - 1);
  for (int64_t i = 0; i < half; ++i) freqs[i] = std::exp((neg_log * static_cast<float>(i)) / denom);
  std::vector<float> tv = ops::to_vector_f32(t);
  std::vector<float> emb(batch * dim);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < half; ++i) {
      float arg = tv[b] * freqs[i];
      emb[b * dim + i] = std::sin(arg);          // first half: sin
      emb[b * dim + half + i] = std::cos(arg);   // second half: cos
    }
  }
  return ops::from_vector(emb, {batch, dim}, t.device());
}

// ---------------------------------------------------------------- AttnBlock
AttnBlock::AttnBlock(int64_t c, int64_t groups, Generator& init, int64_t heads_)
    : Module("AttnBlock"), channels(c), heads(heads_) {
  DRIFT_CHECK(heads_ > 0 && c % heads_ == 0, "AttnBlock: channels (", c, ") must be a multiple of heads (", heads_,
              ")");
  norm = register_module("norm", std::make_shared<GroupNorm>(groups, c));
  qkv = register_module("qkv", std::make_shared<Conv2d>(c, 3 * c, 1, init));  // q, k, v as one 1x1 conv
  proj = register_module("proj", std::make_shared<Conv2d>(c, c, 1, init));
}

Tensor AttnBlock::forward(const Tensor& x) {
  DRIFT_CHECK(x.dim() == 4 && x.size(1) == channels, "AttnBlock(", channels, "): expected [B, ", channels,
              ", H, W], got ", shape_str(x.shape()));
  const int64_t b = x.size(0), c = channels, hh = x.size(2), ww = x.size(3), n = hh * ww;
  const int64_t d = c / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  // [B, 3C, H, W] -> [B, 3, heads, d, N]; q, k, v are strided views, not copies.
  Tensor qkv_out = reshape(qkv->forward(norm->forward(x)), {b, 3, heads, d, n});
  Tensor q = select(qkv_out, 1, 0), k = select(qkv_out, 1, 1), v = select(qkv_out, 1, 2);  // [B, heads, d, N]
  // As [B * heads, d, N] problems: a view for one head (the reference's), a copy for several.
  q = reshape(q, {b * heads, d, n});
  k = reshape(k, {b * heads, d, n});
  v = reshape(v, {b * heads, d, n});
  // out = v softmax(q^T k / sqrt(d))^T in one op (ops::attention: the [N, N]
  // weights are never a tensor). Under autocast q, k, v are 16-bit (the
  // attention products' operands); the softmax inside runs in float32.
  Tensor out = autocast_result(attention(autocast_operand(q), autocast_operand(k), autocast_operand(v), scale));
  return add(x, proj->forward(reshape(out, {b, c, hh, ww})));
}

// ---------------------------------------------------------------- Downsample / Upsample
Downsample::Downsample(int64_t c, Generator& init) : Module("Downsample") {
  conv = register_module("conv", std::make_shared<Conv2d>(c, c, 3, init, 2, 1));
}

Upsample::Upsample(int64_t c, Generator& init) : Module("Upsample") {
  conv = register_module("conv", std::make_shared<Conv2d>(c, c, 3, init, 1, 1));
}

Tensor Upsample::forward(const Tensor& x) { return conv->forward(upsample_nearest2d(x, 2)); }

// ---------------------------------------------------------------- ResBlock
ResBlock::ResBlock(int64_t in, int64_t out, int64_t temb_ch, int64_t groups, double p, Generator& init,
                   std::shared_ptr<Generator> dropout_gen)
    : Module("ResBlock"), in_channels(in), out_channels(out) {
  // Registration order = PyTorch's attribute order, so names and init draws line up.
  norm1 = register_module("norm1", std::make_shared<GroupNorm>(groups, in));
  conv1 = register_module("conv1", std::make_shared<Conv2d>(in, out, 3, init, 1, 1));
  temb_proj = register_module("temb_proj", std::make_shared<Linear>(temb_ch, out, init));
  norm2 = register_module("norm2", std::make_shared<GroupNorm>(groups, out));
  dropout = register_module("dropout", std::make_shared<Dropout>(p, std::move(dropout_gen)));
  conv2 = register_module("conv2", std::make_shared<Conv2d>(out, out, 3, init, 1, 1));
  if (in != out) skip = register_module("skip", std::make_shared<Conv2d>(in, out, 1, init));
}

Tensor ResBlock::forward(const Tensor& x, const Tensor& temb) {
  DRIFT_CHECK(x.dim() == 4 && x.size(1) == in_channels, "ResBlock(", in_channels, " -> ", out_channels,
              "): expected x [B, ", in_channels, ", H, W], got ", shape_str(x.shape()));
  DRIFT_CHECK(temb.dim() == 2 && temb.size(0) == x.size(0), "ResBlock: expected temb [", x.size(0), ", ",
              temb_proj->in_features, "], got ", shape_str(temb.shape()));
  Tensor h = conv1->forward(norm1->forward_silu(x));
  // + temb_proj(silu(temb))[:, :, None, None], broadcast over H, W
  Tensor t = temb_proj->forward(silu(temb));
  h = add(h, reshape(t, {t.size(0), out_channels, 1, 1}));
  h = conv2->forward(dropout->forward(norm2->forward_silu(h)));
  return add(skip ? skip->forward(x) : x, h);
}

}  // namespace drift::nn
