#include "nn/unet.h"

#include <algorithm>

#include "nn/json_bounded.h"

namespace drift::nn {

// ---------------------------------------------------------------- presets
UNetConfig UNetConfig::tiny() {
  UNetConfig c;
  c.in_channels = 1;
  c.image_size = 8;
  c.base_channels = 16;
  c.channel_mult = {1, 2};
  c.num_res_blocks = 1;
  c.attention_resolutions = {4};
  c.dropout = 0.1;
  c.groups = 4;
  return c;
}

UNetConfig UNetConfig::mnist() {
  UNetConfig c;
  c.in_channels = 1;
  c.image_size = 28;
  c.base_channels = 32;
  c.channel_mult = {1, 2, 2};
  c.num_res_blocks = 2;
  c.attention_resolutions = {7};
  c.dropout = 0.1;
  c.groups = 8;
  return c;
}

UNetConfig UNetConfig::cifar() {
  UNetConfig c;
  c.in_channels = 3;
  c.image_size = 32;
  c.base_channels = 64;
  c.channel_mult = {1, 2, 2, 2};
  c.num_res_blocks = 2;
  c.attention_resolutions = {16};
  c.dropout = 0.1;
  c.groups = 32;
  return c;
}

UNetConfig UNetConfig::preset(const std::string& name) {
  if (name == "tiny") return tiny();
  if (name == "mnist") return mnist();
  if (name == "cifar") return cifar();
  throw Error(str("UNetConfig::preset: unknown preset '", name, "' (expected tiny, mnist or cifar)"));
}

std::string UNetConfig::to_json() const { return config::to_json(*this).dump(); }

UNetConfig UNetConfig::from_json(const std::string& text) {
  UNetConfig c;
  config::apply_json(c, parse_json_bounded<config::Json>(text, "UNetConfig::from_json"), {"UNetConfig::from_json"});
  return c;
}

double UNetConfig::parameter_estimate() const {
  // Every block is at most a ResBlock from 2C to C channels at the widest
  // level C: two 3x3 convolutions (9 (2C) C + 9 C C), the time projection
  // (4 base C) and a 1x1 skip (2C C); attention adds 4 C^2 per block.
  double c = 0;
  for (int64_t m : channel_mult) c = std::max(c, static_cast<double>(base_channels) * static_cast<double>(m));
  const double levels = static_cast<double>(channel_mult.size());
  const double blocks = levels * (2.0 * static_cast<double>(num_res_blocks) + 2.0) + 3.0;
  const double base = static_cast<double>(base_channels);
  const double per_block = 29.0 * c * c + 4.0 * base * c + 4.0 * c * c;
  return blocks * per_block + 16.0 * base * base + static_cast<double>(num_classes + 1) * 4.0 * base +
         18.0 * c * static_cast<double>(in_channels);
}

void UNetConfig::validate() const {
  config::check(*this, "UNetConfig");
  DRIFT_CHECK(!channel_mult.empty(), "UNetConfig: 'channel_mult' needs at least one level");
  const int64_t levels = static_cast<int64_t>(channel_mult.size());  // <= 8 by its limits
  DRIFT_CHECK(image_size % (int64_t{1} << (levels - 1)) == 0, "UNetConfig: image_size ", image_size,
              " must be divisible by 2^(levels-1) = ", int64_t{1} << (levels - 1), " (", levels,
              " levels in channel_mult)");
  for (int64_t m : channel_mult)
    DRIFT_CHECK((base_channels * m) % groups == 0, "UNetConfig: GroupNorm groups ", groups, " must divide every channel count, ",
                "but base_channels ", base_channels, " x ", m, " = ", base_channels * m);
  DRIFT_CHECK(parameter_estimate() <= kMaxParameters, "UNetConfig: this U-Net would have about ",
              parameter_estimate(), " parameters, more than the limit of ", kMaxParameters,
              " (base_channels ", base_channels, ", widest level x", *std::max_element(channel_mult.begin(), channel_mult.end()),
              ", ", num_res_blocks, " blocks per level)");
}

// ---------------------------------------------------------------- construction
UNet::UNet(const UNetConfig& cfg) : Module("UNet"), cfg_(cfg) {
  cfg.validate();  // before anything is allocated
  Generator init(cfg.seed);
  // A separate stream for dropout masks, derived from the seed.
  dropout_gen_ = std::make_shared<Generator>(cfg.seed ^ 0x9E3779B97F4A7C15ull);

  const int64_t base = cfg.base_channels, temb_ch = 4 * base, groups = cfg.groups;
  const double p = cfg.dropout;
  auto has_attn = [&](int64_t res) {
    return std::find(cfg.attention_resolutions.begin(), cfg.attention_resolutions.end(), res) !=
           cfg.attention_resolutions.end();
  };
  auto res_block = [&](int64_t in, int64_t out) {
    return std::make_shared<ResBlock>(in, out, temb_ch, groups, p, init, dropout_gen_);
  };

  // temb = Linear(base, 4 base) - SiLU - Linear(4 base, 4 base)
  temb_ = register_module("temb", std::make_shared<Sequential>());
  temb_->append(std::make_shared<Linear>(base, temb_ch, init));
  temb_->append(std::make_shared<SiLU>());
  temb_->append(std::make_shared<Linear>(temb_ch, temb_ch, init));
  if (cfg.num_classes > 0)  // one extra row: the "no label" class
    label_emb_ = register_module("label_emb", std::make_shared<Embedding>(cfg.num_classes + 1, temb_ch, init));
  conv_in_ = register_module("conv_in", std::make_shared<Conv2d>(cfg.in_channels, base, 3, init, 1, 1));

  // Encoder. skip_chs records the channel count of every stored skip.
  down_ = register_module("down", std::make_shared<ModuleList>());
  std::vector<int64_t> skip_chs = {base};
  int64_t ch = base, res = cfg.image_size;
  const int64_t levels = static_cast<int64_t>(cfg.channel_mult.size());
  for (int64_t level = 0; level < levels; ++level) {
    const int64_t out_ch = base * cfg.channel_mult[level];
    for (int64_t i = 0; i < cfg.num_res_blocks; ++i) {
      down_blocks_.push_back({Kind::Res, down_->append(res_block(ch, out_ch))});
      ch = out_ch;
      if (has_attn(res))
        down_blocks_.push_back({Kind::Attn, down_->append(std::make_shared<AttnBlock>(ch, groups, init,
                                                                                     cfg.attention_heads))});
      skip_chs.push_back(ch);
    }
    if (level != levels - 1) {
      down_blocks_.push_back({Kind::Down, down_->append(std::make_shared<Downsample>(ch, init))});
      res /= 2;
      skip_chs.push_back(ch);
    }
  }

  // Middle: Res - Attn - Res.
  mid_ = register_module("mid", std::make_shared<ModuleList>());
  mid_res1_ = mid_->append(res_block(ch, ch));
  mid_attn_ = mid_->append(std::make_shared<AttnBlock>(ch, groups, init, cfg.attention_heads));
  mid_res2_ = mid_->append(res_block(ch, ch));

  // Decoder: num_res_blocks + 1 ResBlocks per level, each eating one skip.
  up_ = register_module("up", std::make_shared<ModuleList>());
  for (int64_t level = levels - 1; level >= 0; --level) {
    const int64_t out_ch = base * cfg.channel_mult[level];
    for (int64_t i = 0; i < cfg.num_res_blocks + 1; ++i) {
      const int64_t skip = skip_chs.back();
      skip_chs.pop_back();
      up_blocks_.push_back({Kind::Res, up_->append(res_block(ch + skip, out_ch))});
      ch = out_ch;
      if (has_attn(res))
        up_blocks_.push_back({Kind::Attn, up_->append(std::make_shared<AttnBlock>(ch, groups, init,
                                                                                 cfg.attention_heads))});
    }
    if (level != 0) {
      up_blocks_.push_back({Kind::Up, up_->append(std::make_shared<Upsample>(ch, init))});
      res *= 2;
    }
  }
  DRIFT_CHECK(skip_chs.empty(), "UNet: internal error, ", skip_chs.size(), " skips left unused");

  norm_out_ = register_module("norm_out", std::make_shared<GroupNorm>(groups, ch));
  conv_out_ = register_module("conv_out", std::make_shared<Conv2d>(ch, cfg.in_channels, 3, init, 1, 1));
}

// ---------------------------------------------------------------- forward
Tensor UNet::forward(const Tensor&) {
  throw Error("UNet::forward(x): a U-Net needs timesteps, call forward(x, t[, labels])");
}

Tensor UNet::forward(const Tensor& x, const Tensor& t, const Tensor& labels) {
  const int64_t s = cfg_.image_size;
  DRIFT_CHECK(x.dim() == 4 && x.size(1) == cfg_.in_channels && x.size(2) == s && x.size(3) == s,
              "UNet: expected x [B, ", cfg_.in_channels, ", ", s, ", ", s, "], got ", shape_str(x.shape()));
  DRIFT_CHECK(x.dtype() == DType::Float32, "UNet: expected float32 x, got ", dtype_name(x.dtype()));
  const int64_t batch = x.size(0);
  DRIFT_CHECK(t.defined() && t.dim() == 1 && t.size(0) == batch, "UNet: expected t of shape [", batch, "], got ",
              t.defined() ? shape_str(t.shape()) : std::string("undefined"));
  DRIFT_CHECK(t.device() == x.device(), "UNet: t is on ", device_name(t.device()), ", x on ",
              device_name(x.device()));

  return forward_embedded(x, embed(t, labels, batch, x.device()));
}

Tensor UNet::embed(const Tensor& t, const Tensor& labels, int64_t batch, Device device) {
  Tensor temb = temb_->forward(timestep_embedding(t, cfg_.base_channels));  // [B, 4 base]
  if (label_emb_) {
    Tensor y = labels;
    if (!y.defined()) y = ops::full({batch}, static_cast<double>(cfg_.num_classes), DType::Int64, device);
    DRIFT_CHECK(y.dim() == 1 && y.size(0) == batch && y.dtype() == DType::Int64, "UNet: expected labels int64 [",
                batch, "], got ", dtype_name(y.dtype()), " ", shape_str(y.shape()));
    temb = add(temb, label_emb_->forward(y));  // emb = temb(t) + label_emb(y)
  } else {
    DRIFT_CHECK(!labels.defined(), "UNet: labels given to an unconditional model (num_classes = 0)");
  }
  return temb;
}

Tensor UNet::forward_embedded(const Tensor& x, const Tensor& temb) {
  Tensor h = conv_in_->forward(x);
  std::vector<Tensor> hs = {h};
  for (auto& blk : down_blocks_) {
    switch (blk.kind) {
      case Kind::Res:
        h = static_cast<ResBlock&>(*blk.m).forward(h, temb);
        hs.push_back(h);
        break;
      case Kind::Attn:
        h = blk.m->forward(h);
        hs.back() = h;  // the stored skip is the post-attention tensor
        break;
      default:  // Downsample
        h = blk.m->forward(h);
        hs.push_back(h);
        break;
    }
  }
  h = mid_res1_->forward(h, temb);
  h = mid_attn_->forward(h);
  h = mid_res2_->forward(h, temb);
  for (auto& blk : up_blocks_) {
    if (blk.kind == Kind::Res) {
      h = static_cast<ResBlock&>(*blk.m).forward(cat({h, hs.back()}, 1), temb);
      hs.pop_back();
    } else {  // AttnBlock or Upsample
      h = blk.m->forward(h);
    }
  }
  return conv_out_->forward(norm_out_->forward_silu(h));
}

}  // namespace drift::nn
