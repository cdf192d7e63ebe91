#pragma once
// Mixed precision (Micikevicius et al. 2018, "Mixed precision training"; the
// policy of PyTorch's autocast). One place decides which ops run in 16 bits:
//   * GEMM-like layers — Linear, Conv2d and the attention products — take
//     bfloat16/float16 operands (cuBLAS/tensor cores on CUDA; on the CPU the
//     dispatcher widens them to float32, so the numerics match: operands
//     rounded to 16 bits, accumulation in float32) and hand back float32;
//   * everything else — GroupNorm, softmax, the losses, the timestep
//     embedding, the optimizer — stays float32, and the parameters (master
//     weights) and their gradients stay float32: the cast is differentiable,
//     so a gradient flows back through it and is widened again.
// Float16's narrow range needs loss scaling (GradScaler below); bfloat16
// has float32's range and does not.
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "nn/config_enum.h"

namespace drift::nn {

enum class Precision { FP32, BF16, FP16 };
DRIFT_CONFIG_ENUM(Precision, {Precision::FP32, "fp32"}, {Precision::BF16, "bf16"}, {Precision::FP16, "fp16"})
inline const char* precision_name(Precision p) { return config::enum_name(p); }
DType precision_dtype(Precision p);  // Float32, BFloat16, Float16

// Turns autocast on for the current thread while alive (nests; FP32 = off).
class Autocast {
 public:
  explicit Autocast(Precision p);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  Precision prev_;
};
Precision autocast_precision();

// The operand of a GEMM-like op: cast to the 16-bit type when autocast is on
// and t is float32 (differentiably), else t unchanged. Undefined stays undefined.
Tensor autocast_operand(const Tensor& t);
// The result of a GEMM-like op back to float32 (t unchanged if not 16-bit).
Tensor autocast_result(const Tensor& t);

// Dynamic loss scaling for float16 (Micikevicius et al. 2018, section 3.2;
// defaults as PyTorch's GradScaler): the loss is multiplied by `scale` before
// backward so small gradients do not flush to zero; gradients are divided by
// it again before clipping and the optimizer. A step whose gradients hold an
// Inf or NaN is skipped and the scale halved; after `growth_interval` good
// steps in a row the scale doubles.
class GradScaler {
 public:
  explicit GradScaler(double init_scale = 65536.0, int64_t growth_interval = 2000)
      : scale_(init_scale), growth_interval_(growth_interval) {}
  Tensor scale_loss(const Tensor& loss) const { return mul(loss, scale_); }
  // Divides every gradient by the scale.
  void unscale(const std::vector<Tensor>& params) const;
  // After a step: found_inf = the unscaled gradients were not all finite.
  void update(bool found_inf);
  double scale() const { return scale_; }
  int64_t skipped_steps() const { return skipped_; }  // steps skipped since the run began
  int64_t good_steps() const { return good_; }         // good steps in a row since the last change of scale
  int64_t growth_interval() const { return growth_interval_; }
  // From a checkpoint (nn/checkpoint.h): scale positive and finite,
  // good_steps in [0, growth_interval), skipped >= 0; else throws and changes nothing.
  void restore(double scale, int64_t good_steps, int64_t skipped);

 private:
  double scale_;
  int64_t growth_interval_;
  int64_t good_ = 0, skipped_ = 0;
};

}  // namespace drift::nn
