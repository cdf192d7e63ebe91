#include "diffusion/toy.h"

namespace drift::diffusion {

MlpDenoiser::MlpDenoiser(const MlpConfig& cfg) : nn::Module("MlpDenoiser"), cfg_(cfg) {
  DRIFT_CHECK(cfg.dim >= 1 && cfg.hidden >= 1 && cfg.layers >= 1 && cfg.time_dim >= 2 && cfg.time_dim % 2 == 0,
              "MlpDenoiser: expected positive sizes and an even time_dim, got dim ", cfg.dim, ", hidden ", cfg.hidden,
              ", layers ", cfg.layers, ", time_dim ", cfg.time_dim);
  Generator init(cfg.seed);
  layers_ = register_module("layers", std::make_shared<nn::ModuleList>());
  int64_t in = cfg.dim + cfg.time_dim;
  for (int64_t i = 0; i < cfg.layers; ++i) {
    layers_->append(std::make_shared<nn::Linear>(in, cfg.hidden, init));
    in = cfg.hidden;
  }
  out_ = register_module("out", std::make_shared<nn::Linear>(cfg.hidden, cfg.dim, init));
  if (cfg.num_classes > 0)  // one extra row: "no label"
    label_emb_ = register_module("label_emb", std::make_shared<nn::Embedding>(cfg.num_classes + 1, cfg.hidden, init));
}

Tensor MlpDenoiser::predict(const Tensor& x, const Tensor& t, const Tensor& labels) {
  DRIFT_CHECK(x.dim() == 2 && x.size(1) == cfg_.dim, "MlpDenoiser: expected x [N, ", cfg_.dim, "], got ",
              shape_str(x.shape()));
  Tensor tt = cfg_.time_scale == 1.0 ? t : ops::mul(t, cfg_.time_scale);
  Tensor temb = drift::to(nn::timestep_embedding(tt, cfg_.time_dim), x.dtype());  // [N, time_dim]
  Tensor h = cat({x, temb}, 1);
  Tensor lab;
  if (label_emb_ && labels.defined()) {
    // kNullLabel -> the null class num_classes
    Tensor is_null = ops::eq(labels, ops::full({}, double(kNullLabel), DType::Int64, labels.device()));
    lab = ops::where(is_null, ops::full_like(labels, double(cfg_.num_classes)), labels);
  } else if (label_emb_) {
    lab = ops::full({x.size(0)}, double(cfg_.num_classes), DType::Int64, x.device());
  } else {
    DRIFT_CHECK(!labels.defined(), "MlpDenoiser: labels given to an unconditional model (num_classes = 0)");
  }
  for (size_t i = 0; i < layers_->size(); ++i) {
    h = static_cast<nn::Linear&>(*layers_->at(i)).forward(h);
    if (i == 0 && label_emb_) h = add(h, label_emb_->forward(lab));  // class conditioning after the first layer
    h = silu(h);
  }
  return out_->forward(h);
}

}  // namespace drift::diffusion
