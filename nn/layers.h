#pragma once
// Layers: the building blocks of the U-Net. Parameter names and default
// initialisation follow PyTorch (torch.nn), so that weights move between the
// two frameworks by name:
//   Linear, Conv2d  weight, bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//                   (PyTorch's kaiming_uniform_(a=sqrt(5)) works out to this bound)
//   GroupNorm       weight = 1, bias = 0
//   Embedding       weight ~ N(0, 1)
// Initial values are drawn from a seeded drift::Generator, in construction order.
#include <memory>
#include <vector>

#include "nn/module.h"

namespace drift::nn {

// y = x W^T + b;  x [..., in], W [out, in], b [out].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& init, bool bias = true);
  Tensor forward(const Tensor& x) override;
  int64_t in_features, out_features;
  Tensor weight, bias;  // bias undefined when bias = false
};

// 2-D convolution, NCHW: x [N, Cin, H, W], weight [Cout, Cin, k, k], bias [Cout].
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& init, int64_t stride = 1,
         int64_t padding = 0, bool bias = true);
  Tensor forward(const Tensor& x) override;
  int64_t in_channels, out_channels, kernel_size, stride, padding;
  Tensor weight, bias;
};

// Group normalisation (Wu & He 2018): per sample and group of C/G channels,
// y = (x - mean) / sqrt(var + eps) * weight + bias.
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t groups, int64_t channels, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  // silu(forward(x)) in one fused op (group_norm_silu).
  Tensor forward_silu(const Tensor& x);
  int64_t groups, channels;
  double eps;
  Tensor weight, bias;
};

// Inverted dropout: in training, zeroes each element with probability p and
// scales the rest by 1/(1-p); the identity in eval mode. Draws from a shared
// generator so that a training run (and its checkpoint) owns one RNG state.
// Data-parallel (split_count > 1): the input is part split_rank of split_count
// equal parts of the batch, and gets exactly those rows of the whole batch's mask.
class Dropout : public Module {
 public:
  Dropout(double p, std::shared_ptr<Generator> gen);
  Tensor forward(const Tensor& x) override;
  double p;
  std::shared_ptr<Generator> gen;
  int64_t split_rank = 0, split_count = 1;
};

// Tells every Dropout in `m` that its inputs are part `rank` of `count` equal
// parts of the batch (data-parallel training, diffusion::Trainer).
void set_batch_split(Module& m, int64_t rank, int64_t count);

// y = x * sigmoid(x).
class SiLU : public Module {
 public:
  SiLU() : Module("SiLU") {}
  Tensor forward(const Tensor& x) override { return silu(x); }
};

// Table lookup: ids int64 [...] -> weight rows [..., dim].
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, Generator& init);
  Tensor forward(const Tensor& ids) override;
  int64_t num_embeddings, dim;
  Tensor weight;
};

// Children named "0", "1", ... (as torch.nn.ModuleList); no forward of its own.
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  template <class M>
  std::shared_ptr<M> append(std::shared_ptr<M> m) {
    items_.push_back(m);
    return register_module(std::to_string(items_.size() - 1), m);
  }
  size_t size() const { return items_.size(); }
  const std::shared_ptr<Module>& at(size_t i) const { return items_.at(i); }

 protected:
  explicit ModuleList(std::string type_name) : Module(std::move(type_name)) {}
  std::vector<std::shared_ptr<Module>> items_;
};

// Applies its children in order (as torch.nn.Sequential).
class Sequential : public ModuleList {
 public:
  Sequential() : ModuleList("Sequential") {}
  Tensor forward(const Tensor& x) override;
};

// Sinusoidal timestep embedding (DDPM; Vaswani et al. 2017), exactly as the
// PyTorch reference: half = dim/2, f_i = exp(-ln(10000) * i / (half - 1)),
// emb = [sin(t f_0..f_{half-1}), cos(t f_0..f_{half-1})].  t [B] int64 or
// float -> [B, dim] float32, on t's device.
Tensor timestep_embedding(const Tensor& t, int64_t dim);

// Spatial self-attention over the H*W positions (the reference's AttnBlock):
//   h = GroupNorm(x); q, k, v = split(Conv1x1(h)) each [B, C, N], N = H*W
//   w = softmax(q^T k / sqrt(d)) over keys;  out = v w^T;  y = x + Conv1x1(out)
// (out by the fused op ops::attention: w is never stored)
// With heads > 1 the C channels split into heads of d = C/heads channels,
// each attending on its own (d = C for one head, as the reference).
class AttnBlock : public Module {
 public:
  AttnBlock(int64_t channels, int64_t groups, Generator& init, int64_t heads = 1);
  Tensor forward(const Tensor& x) override;
  int64_t channels, heads;
  std::shared_ptr<GroupNorm> norm;
  std::shared_ptr<Conv2d> qkv, proj;
};

// 3x3 convolution with stride 2: [B, C, H, W] -> [B, C, H/2, W/2].
class Downsample : public Module {
 public:
  Downsample(int64_t channels, Generator& init);
  Tensor forward(const Tensor& x) override { return conv->forward(x); }
  std::shared_ptr<Conv2d> conv;
};

// Nearest-neighbour x2 then 3x3 convolution: [B, C, H, W] -> [B, C, 2H, 2W].
class Upsample : public Module {
 public:
  Upsample(int64_t channels, Generator& init);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv;
};

// Residual block with time-embedding injection (DDPM):
//   h = conv1(silu(norm1(x))) + temb_proj(silu(temb))[:, :, None, None]
//   h = conv2(dropout(silu(norm2(h))))
//   y = skip(x) + h        (skip = 1x1 conv when the channel count changes)
class ResBlock : public Module {
 public:
  ResBlock(int64_t in_channels, int64_t out_channels, int64_t temb_channels, int64_t groups, double dropout,
           Generator& init, std::shared_ptr<Generator> dropout_gen);
  Tensor forward(const Tensor& x, const Tensor& temb);
  int64_t in_channels, out_channels;
  std::shared_ptr<GroupNorm> norm1, norm2;
  std::shared_ptr<Conv2d> conv1, conv2, skip;  // skip null when in == out
  std::shared_ptr<Linear> temb_proj;
  std::shared_ptr<Dropout> dropout;
};

}  // namespace drift::nn
