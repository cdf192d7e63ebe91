#pragma once
// The DDPM-style U-Net (Ho et al. 2020, downsized), block for block the
// PyTorch reference ../shared/bench/torch_unet_reference.py (DRIFT_SHARED_DIR): same
// modules, same parameter names (down.0.norm1.weight, mid.1.qkv.weight, ...),
// same forward. Optional class conditioning adds a label embedding to the
// time embedding; label index num_classes means "no label" (the null class
// used for classifier-free guidance, Ho & Salimans 2022).
#include <memory>
#include <string>
#include <vector>

#include "nn/config.h"
#include "nn/layers.h"

namespace drift::nn {

// The U-Net's shape. Limits keep a config read from a file from asking for
// an absurd network: validate() (called by the UNet constructor, before any
// allocation) also bounds the levels and the total size.
#define DRIFT_UNET_FIELDS(X)                                                                              \
  X(int64_t, in_channels, 1, config::in(1, 64), "image channels (set from the data set)")                 \
  X(int64_t, image_size, 28, config::in(1, 4096), "image height = width (set from the data set)")         \
  X(int64_t, base_channels, 32, config::in(1, 4096), "channels of the first level (the U-Net's width)")   \
  X(std::vector<int64_t>, channel_mult, (std::vector<int64_t>{1, 2, 2}), config::list(8, 1, 64),          \
    "channels of each level as multiples of base_channels; one level per item")                            \
  X(int64_t, num_res_blocks, 2, config::in(1, 16), "residual blocks per level")                           \
  X(std::vector<int64_t>, attention_resolutions, (std::vector<int64_t>{7}), config::list(16, 1, 4096),     \
    "image sizes (of a level) that get self-attention")                                                    \
  X(double, dropout, 0.1, config::in(0, 0.99), "dropout probability in the residual blocks")              \
  X(int64_t, groups, 8, config::in(1, 4096), "GroupNorm groups (must divide every channel count)")        \
  X(int64_t, num_classes, 0, config::in(0, 100000), "classes of a conditional model (0: unconditional; set from the data set)") \
  X(int64_t, attention_heads, 1, config::in(1, 64), "heads of each self-attention block")                 \
  X(uint64_t, seed, 0, config::any(), "seed of the initialisation and dropout (set from the run's seed)")

struct UNetConfig {
  DRIFT_CONFIG_FIELDS(DRIFT_UNET_FIELDS)

  // The reference's presets (parameter counts 176,849 / 1,623,169 / 8,952,067).
  static UNetConfig tiny();
  static UNetConfig mnist();
  static UNetConfig cifar();
  static UNetConfig preset(const std::string& name);  // "tiny", "mnist" or "cifar"

  // Limits of every field, image_size divisible by 2^(levels - 1), channel
  // counts divisible by groups, and at most kMaxParameters (estimated).
  void validate() const;
  static constexpr double kMaxParameters = 2e9;
  double parameter_estimate() const;  // an upper bound on the parameter count

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
  // forward = forward_embedded(x, embed(t, labels)), in two parts so that the
  // second can be captured as a CUDA graph (nn/unet_graph.h): embed reads t on
  // the host (the sinusoidal embedding), forward_embedded touches only the device.
  Tensor embed(const Tensor& t, const Tensor& labels, int64_t batch, Device device);  // [B, 4 base]
  Tensor forward_embedded(const Tensor& x, const Tensor& temb);
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
