#include "diffusion/trainer.h"

#include <algorithm>
#include <cmath>

#include "diffusion/forward.h"
#include "diffusion/schedule.h"
#include "nn/layers.h"
#include "tensor/random_rows.h"
#include "diffusion/sigma_process.h"

namespace drift::diffusion {

Tensor UNetDenoiser::predict(const Tensor& x, const Tensor& t, const Tensor& labels) {
  Tensor tt = time_scale_ == 1.0 ? t : ops::mul(t, time_scale_);
  Tensor y;
  if (labels.defined()) {
    const int64_t null_class = unet_.config().num_classes;
    DRIFT_CHECK(null_class > 0, "UNetDenoiser: labels given to an unconditional U-Net (num_classes = 0)");
    // kNullLabel (-1) -> the U-Net's null class index num_classes.
    Tensor is_null = ops::eq(labels, ops::full({}, double(kNullLabel), DType::Int64, labels.device()));
    y = ops::where(is_null, ops::full_like(labels, double(null_class)), labels);
  }
  if (precision == nn::Precision::FP32) return run_unet(x, tt, y);  // (a caller's autocast stays on)
  nn::Autocast autocast(precision);
  return run_unet(x, tt, y);
}

Tensor UNetDenoiser::run_unet(const Tensor& x, const Tensor& t, const Tensor& labels) {
  if (cuda_graphs && x.device() == Device::CUDA && !grad_enabled() && !unet_.is_training()) {
    if (!graphs_) graphs_ = std::make_shared<nn::UNetGraphs>(unet_);
    return graphs_->forward(x, t, labels);
  }
  return unet_.forward(x, t, labels);
}

Trainer::Trainer(Denoiser& model, nn::Module& module, const Process& process, TrainerConfig cfg)
    : model_(model), module_(module), process_(process), cfg_(cfg), gen_(cfg.seed, 0) {
  DRIFT_CHECK(cfg_.lr > 0, "Trainer: expected lr > 0, got ", cfg_.lr);
  DRIFT_CHECK(cfg_.label_dropout >= 0 && cfg_.label_dropout < 1, "Trainer: expected label_dropout in [0, 1), got ",
              cfg_.label_dropout);
  nn::AdamOptions ao;
  ao.lr = cfg_.lr;
  ao.weight_decay = cfg_.weight_decay;
  optimizer_ = std::make_unique<nn::AdamW>(module_.named_parameters(), ao);
  if (cfg_.ema_decay > 0) ema_ = std::make_unique<nn::EMA>(module_, cfg_.ema_decay);
  if (cfg_.posthoc_ema_every > 0) {
    DRIFT_CHECK(cfg_.posthoc_ema_sigma_rel_a != cfg_.posthoc_ema_sigma_rel_b,
                "Trainer: the post-hoc EMA's two profiles must differ (posthoc_ema_sigma_rel_a = "
                "posthoc_ema_sigma_rel_b = ", cfg_.posthoc_ema_sigma_rel_a, ")");
    for (double s : {cfg_.posthoc_ema_sigma_rel_a, cfg_.posthoc_ema_sigma_rel_b})
      power_emas_.push_back(std::make_unique<nn::PowerEma>(module_, s));
  }
  if (cfg_.precision == nn::Precision::FP16) scaler_ = std::make_unique<nn::GradScaler>();
  schedule_.base_lr = cfg_.lr;
  schedule_.warmup_steps = cfg_.warmup_steps;
  schedule_.total_steps = cfg_.total_steps;
  schedule_.decay = cfg_.total_steps > 0 ? cfg_.lr_decay : nn::LRDecay::Constant;
}

Tensor Trainer::loss(const Tensor& x0, const Tensor& labels_in) {
  DRIFT_CHECK(x0.dim() >= 2, "Trainer: expected a batch x0 [N, ...], got ", shape_str(x0.shape()));
  const int64_t N = x0.size(0);
  // Data-parallel: this rank's rows of every draw over the global batch (tensor/random_rows.h).
  ops::RowShard rows;
  if (comm_ != nullptr) rows = {comm_->rank() * N, comm_->size() * N};
  Tensor t = sample_times(N, x0.dtype(), x0.device(), rows);
  Tensor eps = ops::randn_rows(x0.shape(), rows, gen_, x0.dtype(), x0.device());
  Coefs c = coefs_for(process_, t, x0.dim(), x0.dtype());
  Tensor xt = q_sample(x0, eps, c.alpha, c.sigma);  // x_t = alpha_t x0 + sigma_t eps   (DDPM eq. 4)
  // Label dropout: with probability p the model sees "no label" (classifier-free guidance training).
  Tensor labels = labels_in;
  if (labels.defined() && cfg_.label_dropout > 0) {
    DRIFT_CHECK(labels.dim() == 1 && labels.size(0) == N, "Trainer: expected labels [", N, "], got ",
                shape_str(labels.shape()));
    Tensor drop = ops::lt(ops::uniform_rows({N}, 0.0, 1.0, rows, gen_, DType::Float64, labels.device()),
                          ops::full({}, cfg_.label_dropout, DType::Float64, labels.device()));
    labels = ops::where(ops::to(drop, DType::Int64), ops::full_like(labels, double(kNullLabel)), labels);
  }
  Tensor pred = model_.predict(xt, t, labels);
  Tensor target = target_from(model_.target(), eps, x0, c.alpha, c.sigma);
  DRIFT_CHECK(pred.shape() == target.shape(), "Trainer: the model returned ", shape_str(pred.shape()),
              ", expected ", shape_str(target.shape()));
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < x0.dim(); ++d) dims.push_back(d);
  Tensor per_sample = mean(square(sub(pred, target)), dims);  // ||pred - target||^2 / D  [N]
  if (cfg_.loss_weighting == LossWeighting::Simple) return mean(per_sample);
  std::vector<double> tv = ops::to_vector_f64(t), w(tv.size());
  if (cfg_.loss_weighting == LossWeighting::EDM) {
    for (size_t i = 0; i < tv.size(); ++i) {
      const double a = process_.alpha(tv[i]), sg = process_.sigma(tv[i]), sv = sg / a, sd = cfg_.sigma_data;
      const double lambda = (sv * sv + sd * sd) / (sv * sd * sv * sd);  // on the x0 error   (EDM eq. 8)
      // the same weight for the model's target: x0 error = k * target error with
      // eps: k = sigma / alpha;  v: k = sigma / (alpha^2 + sigma^2);  flow: k = sigma / (alpha + sigma)
      double k = 1.0;
      switch (model_.target()) {
        case Prediction::Eps: k = sv; break;
        case Prediction::X0: k = 1.0; break;
        case Prediction::V: k = sg / (a * a + sg * sg); break;
        case Prediction::Flow: k = sg / (a + sg); break;
      }
      w[i] = lambda * k * k;
    }
    Tensor wt = ops::to(ops::from_vector(w, {N}, x0.device()), x0.dtype());
    return mean(mul(per_sample, wt));
  }
  // Min-SNR-gamma weights (Hang et al. 2023, eq. 8 and table 1).
  for (size_t i = 0; i < tv.size(); ++i) {
    const double snr = std::max(process_.snr(tv[i]), 1e-12);
    const double clipped = std::min(snr, cfg_.min_snr_gamma);
    switch (model_.target()) {
      case Prediction::Eps: w[i] = clipped / snr; break;
      case Prediction::X0: w[i] = clipped; break;
      case Prediction::V: w[i] = clipped / (snr + 1.0); break;
      case Prediction::Flow: {  // u - u* = (eps - eps*) (alpha + sigma) / alpha
        const double a = process_.alpha(tv[i]), sg = process_.sigma(tv[i]);
        w[i] = clipped / snr * a * a / ((a + sg) * (a + sg));
        break;
      }
    }
  }
  Tensor wt = ops::to(ops::from_vector(w, {N}, x0.device()), x0.dtype());
  return mean(mul(per_sample, wt));
}

void Trainer::set_data_parallel(dist::Communicator& comm, int64_t bucket_bytes) {
  comm_ = &comm;
  nn::set_batch_split(module_, comm.rank(), comm.size());  // dropout masks: this rank's rows
  NoGradGuard no_grad;
  for (Tensor& p : module_.parameters()) comm.broadcast(p, 0);  // rank 0's initial weights everywhere
  if (ema_)
    for (const auto& [name, t] : ema_->shadow()) {
      Tensor shadow = t;
      comm.broadcast(shadow, 0);
    }
  for (nn::PowerEma* pe : power_emas())
    for (const auto& [name, t] : pe->shadow()) {
      Tensor shadow = t;
      comm.broadcast(shadow, 0);
    }
  reducer_ = std::make_unique<dist::GradReducer>(comm, module_.parameters(), bucket_bytes);
  check_replicas("after the broadcast from rank 0");
}

void Trainer::check_replicas(const std::string& when) {
  if (comm_ == nullptr || comm_->size() == 1) return;
  std::vector<Tensor> all = module_.parameters();
  if (ema_)
    for (const auto& [name, t] : ema_->shadow()) all.push_back(t);
  for (nn::PowerEma* pe : power_emas())
    for (const auto& [name, t] : pe->shadow()) all.push_back(t);
  for (const auto& [name, t] : optimizer_->state_tensors()) all.push_back(t);
  all.push_back(ops::from_vector(std::vector<int64_t>{static_cast<int64_t>(gen_.seed),
                                                      static_cast<int64_t>(gen_.offset), step_count()},
                                 {3}));
  dist::check_same(dist::hash_tensors(all), "the model, EMA, optimizer state or noise stream (" + when + ")");
}

std::vector<nn::PowerEma*> Trainer::power_emas() {
  std::vector<nn::PowerEma*> out;
  for (auto& pe : power_emas_) out.push_back(pe.get());
  return out;
}

Tensor Trainer::sample_times(int64_t N, DType dtype, Device device, const ops::RowShard& rows) {
  switch (cfg_.time_sampling) {
    case TimeSampling::Uniform:
      // integer steps in [0, T) (DDPM algorithm 1) or t in [t_min, t_max] (Song et al. 2021, eq. 7)
      if (process_.discrete_steps() > 0)
        return ops::to(ops::randint_rows(0, process_.discrete_steps(), {N}, rows, gen_, device), dtype);
      return ops::uniform_rows({N}, process_.t_min(), process_.t_max(), rows, gen_, dtype, device);
    case TimeSampling::LogNormal: {
      DRIFT_CHECK(process_.discrete_steps() == 0, "Trainer: log-normal sigma sampling needs a continuous-time process, got ",
                  process_.name());
      // ln sigma ~ N(P_mean, P_std^2)  (EDM table 1), t = t(sigma) (clamped to [t_min, t_max])
      std::vector<double> n = ops::to_vector_f64(ops::randn_rows({N}, rows, gen_, DType::Float64, Device::CPU));
      for (double& v : n) v = process_.time_for_sigma_ve(std::exp(cfg_.p_mean + cfg_.p_std * v));
      return ops::to(ops::to(ops::from_vector(n, {N}), device), dtype);
    }
    case TimeSampling::LogitNormal: {
      DRIFT_CHECK(process_.discrete_steps() == 0, "Trainer: logit-normal time sampling needs a continuous-time process, got ",
                  process_.name());
      // t = sigmoid(n), n ~ N(m, s^2)   (Esser et al. 2024, eq. 19), scaled to [t_min, t_max]
      std::vector<double> n = ops::to_vector_f64(ops::randn_rows({N}, rows, gen_, DType::Float64, Device::CPU));
      const double lo = process_.t_min(), hi = process_.t_max();
      for (double& v : n) v = lo + (hi - lo) / (1.0 + std::exp(-(cfg_.logit_mean + cfg_.logit_std * v)));
      return ops::to(ops::to(ops::from_vector(n, {N}), device), dtype);
    }
  }
  return Tensor();
}

Tensor EdmDenoiser::predict(const Tensor& x, const Tensor& t, const Tensor& labels) {
  // Per-sample coefficients [N, 1, ...]: x~ = x / alpha, sigma = sigma / alpha.
  std::vector<double> tv = ops::to_vector_f64(t);
  const size_t n = tv.size();
  std::vector<double> in(n), skip(n), out(n), noise(n);
  for (size_t i = 0; i < n; ++i) {
    const double a = process_.alpha(tv[i]);
    EdmPrecond p = edm_precond(process_.sigma(tv[i]) / a, sigma_data_);
    in[i] = p.c_in / a;  // c_in x~ = c_in / alpha x
    skip[i] = p.c_skip / a;
    out[i] = p.c_out;
    noise[i] = p.c_noise;
  }
  Shape bs(static_cast<size_t>(x.dim()), 1);
  bs[0] = static_cast<int64_t>(n);
  auto col = [&](const std::vector<double>& v) { return ops::to(ops::from_vector(v, bs, x.device()), x.dtype()); };
  Tensor tn = ops::to(ops::from_vector(noise, {static_cast<int64_t>(n)}, x.device()), t.dtype());
  Tensor F = net_.predict(mul(x, col(in)), tn, labels);
  return add(mul(x, col(skip)), mul(F, col(out)));  // D = c_skip x~ + c_out F(c_in x~, c_noise)
}

TrainStats Trainer::step(const Tensor& x0, const Tensor& labels) {
  DRIFT_CHECK(!ema_ || !ema_->swapped(), "Trainer::step: the EMA weights are swapped in; swap back before training");
  TrainStats s;
  schedule_.apply(*optimizer_, optimizer_->step_count());  // warm-up, then decay
  optimizer_->zero_grad();
  Tensor l;
  {
    nn::Autocast autocast(cfg_.precision);  // GEMMs/convs in 16 bits when asked (nn/autocast.h)
    l = loss(x0, labels);
  }
  const Tensor root = scaler_ ? scaler_->scale_loss(l) : l;  // fp16: loss x scale, so small gradients survive
  if (reducer_) {
    // Each rank's loss is the mean over its rows; the mean of the ranks'
    // gradients is the gradient of the global mean (equal rows per rank).
    reducer_->begin();
    backward(root, Tensor(), false, [this](const AutogradMeta* leaf) { reducer_->ready(leaf); });
    reducer_->finish();
    Tensor lg = ops::reshape(ops::to(l.detach(), DType::Float64), {1});
    comm_->all_reduce(lg, dist::ReduceOp::Mean);
    s.loss = ops::item(lg);
  } else {
    backward(root);
    s.loss = ops::item(l);
  }
  // Clipping below sees the averaged gradients: its norm is the global one.
  std::vector<Tensor> params = module_.parameters();
  if (scaler_) {
    s.loss_scale = scaler_->scale();
    scaler_->unscale(params);
  }
  if (cfg_.grad_clip > 0) {
    s.grad_norm = nn::clip_grad_norm(params, cfg_.grad_clip);
  } else {
    s.grad_norm = nn::clip_grad_norm(params, 1e300);  // only measures
  }
  if (scaler_) {
    const bool found_inf = !std::isfinite(s.grad_norm);
    scaler_->update(found_inf);
    if (found_inf) {  // skip the update; the step counter does not advance
      s.skipped = true;
      s.lr = optimizer_->lr();
      s.step = optimizer_->step_count();
      return s;
    }
  }
  optimizer_->step();
  if (ema_) ema_->update(optimizer_->step_count());  // decay warms up with the step count
  for (auto& pe : power_emas_) pe->update(optimizer_->step_count());  // beta_t = (1 - 1/t)^(gamma+1)
  s.lr = optimizer_->lr();
  s.step = optimizer_->step_count();
  return s;
}

}  // namespace drift::diffusion
