#pragma once
// The DDPM-style U-Net (Ho et al. 2020, downsized), block for block the
// PyTorch reference /work/shared/bench/torch_unet_reference.py: same
// modules, same parameter names (down.0.norm1.weight, mid.1.qkv.weight, ...),
// same forward. Optional class conditioning adds a label embedding to the
// time embedding; label index num_classes means "no label" (the null class
// used for classifier-free guidance, Ho & Salimans 2022).
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace drift::nn {

struct UNetConfig {
  int64_t in_channels = 1;
  int64_t image_size = 28;
  int64_t base_channels = 32;
  std::vector<int64_t> channel_mult = {1, 2, 2};
  int64_t num_res_blocks = 2;
  std::vector<int64_t> attention_resolutions = {7};  // spatial sizes that get self-attention
  double dropout = 0.1;
  int64_t groups = 8;                 // GroupNorm groups
  int64_t num_classes = 0;            // 0: unconditional
  int64_t attention_heads = 1;
  uint64_t seed = 0;                  // initialisation and dropout generators

  // The reference's presets (parameter counts 176,849 / 1,623,169 / 8,952,067).
  static UNetConfig tiny();
  static UNetConfig mnist();
  static UNetConfig cifar();
  static UNetConfig preset(const std::string& name);  // "tiny", "mnist" or "cifar"

  std::string to_json() const;
  static UNetConfig from_json(const std::string& json);  // missing keys keep their defaults
};

class UNet : public Module {
 public:
  explicit UNet(const UNetConfig& cfg);

  // x [B, C, H, W] float32; t [B] int64 or float (timesteps); labels int64
  // [B] in [0, num_classes] (num_classes = no label), optional: an undefined
  // tensor means "no label" for a class-conditional model.
  // Returns [B, C, H, W] (the predicted noise for an eps-model).
  Tensor forward(const Tensor& x, const Tensor& t, const Tensor& labels = Tensor());
  Tensor forward(const Tensor& x) override;  // throws: a U-Net needs t

  const UNetConfig& config() const { return cfg_; }
  // The generator the Dropout layers draw from (part of a run's RNG state).
  Generator& dropout_generator() { return *dropout_gen_; }
  std::vector<std::pair<std::string, Generator*>> generators() override { return {{"dropout", dropout_gen_.get()}}; }

 private:
  enum class Kind { Res, Attn, Down, Up };
  struct Block {
    Kind kind;
    std::shared_ptr<Module> m;
  };

  UNetConfig cfg_;
  std::shared_ptr<Generator> dropout_gen_;
  std::shared_ptr<Sequential> temb_;
  std::shared_ptr<Embedding> label_emb_;  // null when unconditional
  std::shared_ptr<Conv2d> conv_in_, conv_out_;
  std::shared_ptr<ModuleList> down_, mid_, up_;
  std::vector<Block> down_blocks_, up_blocks_;
  std::shared_ptr<ResBlock> mid_res1_, mid_res2_;
  std::shared_ptr<AttnBlock> mid_attn_;
  std::shared_ptr<GroupNorm> norm_out_;
};

}  // namespace drift::nn
