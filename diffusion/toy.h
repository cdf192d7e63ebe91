#pragma once
// A small MLP denoiser for low-dimensional toy data (2-D mixtures and the
// like): the smallest network the Trainer and every sampler can be tried
// with in seconds. Input: x [N, D], the sinusoidal embedding of the time and,
// if class-conditional, a label embedding (label num_classes = no label).
#include <memory>

#include "diffusion/denoiser.h"
#include "nn/layers.h"

namespace drift::diffusion {

struct MlpConfig {
  int64_t dim = 2;          // data dimension D
  int64_t hidden = 128;
  int64_t layers = 3;       // hidden layers
  int64_t time_dim = 32;    // sinusoidal time-embedding size
  double time_scale = 1.0;  // the network sees t * time_scale (e.g. 1000 for t in [0, 1])
  int64_t num_classes = 0;  // 0: unconditional
  Prediction target = Prediction::Eps;
  uint64_t seed = 0;
};

class MlpDenoiser : public nn::Module, public Denoiser {
 public:
  explicit MlpDenoiser(const MlpConfig& cfg);
  Tensor predict(const Tensor& x, const Tensor& t, const Tensor& labels) override;
  Prediction target() const override { return cfg_.target; }
  const MlpConfig& config() const { return cfg_; }

 private:
  MlpConfig cfg_;
  std::shared_ptr<nn::ModuleList> layers_;
  std::shared_ptr<nn::Linear> out_;
  std::shared_ptr<nn::Embedding> label_emb_;
};

}  // namespace drift::diffusion
