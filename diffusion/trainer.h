#pragma once
// Training a denoiser: uniform random t, noise, the regression loss on the
// chosen target (eps, x0 or v), backward, gradient clipping, an optimizer step
// with learning-rate warm-up, an EMA of the weights and, when asked, the post-hoc
// EMA's power-function profiles (EDM2). Class-conditional
// training drops labels at random so that classifier-free guidance works
// (Ho & Salimans 2021).
#include <cstdint>
#include <memory>

#include "diffusion/denoiser.h"
#include "dist/reducer.h"
#include "nn/autocast.h"
#include "nn/config.h"
#include "nn/optim.h"
#include "nn/posthoc_ema.h"
#include "nn/unet.h"
#include "nn/unet_graph.h"

namespace drift::diffusion {

// Plugs an nn::UNet into the Denoiser interface. The network sees
// t * time_scale (1 for integer DDPM steps; e.g. 1000 for an SDE's t in [0, 1])
// and maps kNullLabel to its null class (num_classes).
class UNetDenoiser : public Denoiser {
 public:
  UNetDenoiser(nn::UNet& unet, Prediction target, double time_scale = 1.0)
      : unet_(unet), target_(target), time_scale_(time_scale) {}
  Tensor predict(const Tensor& x, const Tensor& t, const Tensor& labels) override;
  Prediction target() const override { return target_; }
  nn::UNet& unet() { return unet_; }
  // Sampling in mixed precision (nn/autocast.h): the U-Net's GEMMs and
  // convolutions in 16 bits, its output float32. (Training sets it through
  // TrainerConfig::precision instead.)
  nn::Precision precision = nn::Precision::FP32;
  // Sampling through CUDA graphs (nn/unet_graph.h): used on a CUDA device with
  // grad mode off and the U-Net in eval mode; default DRIFT_CUDA_GRAPHS=1.
  bool cuda_graphs = nn::cuda_graphs_from_env();
  const nn::UNetGraphs* graphs() const { return graphs_.get(); }

 private:
  Tensor run_unet(const Tensor& x, const Tensor& t, const Tensor& labels);
  nn::UNet& unet_;
  Prediction target_;
  double time_scale_;
  std::shared_ptr<nn::UNetGraphs> graphs_;  // created on first use
};

// EDM's preconditioned denoiser (Karras et al. 2022, table 1 and sec. 5): wraps a
// network F (any Denoiser; its own prediction is ignored) into the x0 predictor
//   D(x~, sigma) = c_skip x~ + c_out F(c_in x~, c_noise),   x~ = x_t / alpha, sigma = sigma / alpha
// (edm_precond in sigma_process.h). F sees the time c_noise = ln(sigma) / 4
// (times its own time_scale, e.g. 250 for a UNetDenoiser).
class EdmDenoiser : public Denoiser {
 public:
  EdmDenoiser(Denoiser& network, const Process& process, double sigma_data = 0.5)
      : net_(network), process_(process), sigma_data_(sigma_data) {}
  Tensor predict(const Tensor& x, const Tensor& t, const Tensor& labels) override;
  Prediction target() const override { return Prediction::X0; }

 private:
  Denoiser& net_;
  const Process& process_;
  double sigma_data_;
};

// How the per-sample squared errors are weighted.
enum class LossWeighting {
  Simple,  // mean ||pred - target||^2 (DDPM's L_simple for eps; the same plain MSE for x0, v)
  MinSNR,  // Min-SNR-gamma (Hang et al. 2023): the eps-equivalent weight min(SNR, gamma) / SNR,
           // expressed for the target: eps: min(SNR, g)/SNR, x0: min(SNR, g), v: min(SNR, g)/(SNR + 1)
  EDM,     // EDM (Karras et al. 2022, eq. 8 and table 1): lambda(sigma) = (sigma^2 + sigma_d^2) / (sigma sigma_d)^2
           // on the x0 error, sigma = sigma / alpha; with EdmDenoiser the loss of F is then unit-weighted
};

// How training times are drawn.
enum class TimeSampling {
  Uniform,      // integer steps uniform in [0, T) (DDPM alg. 1), or t ~ U[t_min, t_max]
  LogNormal,    // EDM: ln sigma ~ N(p_mean, p_std^2) (-1.2, 1.2), t = time_for_sigma_ve(sigma)   (EDM table 1)
  LogitNormal,  // SD3 (Esser et al. 2024, eq. 19): t = t_min + (t_max - t_min) sigmoid(n), n ~ N(m, s^2) (0, 1)
};
DRIFT_CONFIG_ENUM(LossWeighting, {LossWeighting::Simple, "simple"}, {LossWeighting::MinSNR, "min-snr"},
                  {LossWeighting::MinSNR, "min_snr"}, {LossWeighting::EDM, "edm"})
DRIFT_CONFIG_ENUM(TimeSampling, {TimeSampling::Uniform, "uniform"}, {TimeSampling::LogNormal, "log-normal"},
                  {TimeSampling::LogitNormal, "logit-normal"})

// The optimisation settings (a field table, nn/config.h): AdamW with linear
// warm-up, then the chosen decay (nn::LRSchedule), clipping, EMA, the post-hoc
// EMA's two power-function profiles (nn/posthoc_ema.h), label dropout.
#define DRIFT_TRAINER_FIELDS(X)                                                                           \
  X(LossWeighting, loss_weighting, LossWeighting::Simple, config::any(),                                  \
    "per-sample loss weights: simple (plain MSE), min-snr (Min-SNR-gamma, Hang et al. 2023) or edm")           \
  X(double, min_snr_gamma, 5.0, config::in(1e-3, 1e6), "gamma of the min-snr weighting")                 \
  X(TimeSampling, time_sampling, TimeSampling::Uniform, config::any(),                                    \
    "training times: uniform, log-normal (EDM sigma) or logit-normal (flow matching, SD3)")               \
  X(double, p_mean, -1.2, config::in(-20, 20), "log-normal: mean of ln sigma (EDM)")                      \
  X(double, p_std, 1.2, config::in(1e-6, 20), "log-normal: std of ln sigma (EDM)")                        \
  X(double, logit_mean, 0.0, config::in(-20, 20), "logit-normal: mean of logit t")                        \
  X(double, logit_std, 1.0, config::in(1e-6, 20), "logit-normal: std of logit t")                         \
  X(double, lr, 2e-4, config::in(1e-12, 10), "peak learning rate (AdamW)")                               \
  X(double, weight_decay, 0.0, config::in(0, 10), "AdamW weight decay")                                  \
  X(int64_t, warmup_steps, 500, config::in(0, 1e12), "linear learning-rate warm-up steps")               \
  X(nn::LRDecay, lr_decay, nn::LRDecay::Constant, config::any(), "learning-rate decay after the warm-up") \
  X(double, grad_clip, 1.0, config::in(0, 1e12), "clip the global gradient norm to this (0: off)")       \
  X(double, ema_decay, 0.999, config::in(0, 1), "decay of the weights' moving average (0: no EMA)")      \
  X(int64_t, posthoc_ema_every, 0, config::in(0, 1e12),                                                   \
    "post-hoc EMA (EDM2): steps between snapshots of the two tracked profiles (0: off)")                  \
  X(double, posthoc_ema_sigma_rel_a, 0.05, config::in(1e-4, 0.2886),                                      \
    "post-hoc EMA: relative width sigma_rel of the first tracked power-function profile")               \
  X(double, posthoc_ema_sigma_rel_b, 0.10, config::in(1e-4, 0.2886),                                      \
    "post-hoc EMA: relative width of the second profile (must differ from the first)")                  \
  X(double, label_dropout, 0.1, config::in(0, 0.99),                                                      \
    "probability of replacing a label by the null label (classifier-free guidance training)")             \
  X(nn::Precision, precision, nn::Precision::FP32, config::any(),                                          \
    "mixed precision (nn/autocast.h): fp32, bf16 or fp16 (GEMMs/convs in 16 bits, fp16 with loss scaling)")

struct TrainerConfig {
  DRIFT_CONFIG_FIELDS(DRIFT_TRAINER_FIELDS)
  // Set by the caller, not configured:
  double sigma_data = 0.5;  // data standard deviation of the edm weighting (a model key: ModelConfig::sigma_data)
  int64_t total_steps = 0;  // for LR decay; 0: constant after warm-up
  uint64_t seed = 0;        // times, noise and label dropout
};

// One training step's numbers.
struct TrainStats {
  int64_t step = 0;       // steps done after this one
  double loss = 0;
  double grad_norm = 0;   // before clipping
  double lr = 0;
  bool skipped = false;   // fp16: non-finite gradients, no update (loss scale halved)
  double loss_scale = 1;  // fp16: the loss scale used for this step
};

class Trainer {
 public:
  // `model` computes the prediction from the parameters of `module` (for a
  // U-Net: UNetDenoiser over that U-Net). Times follow `process`'s units and
  // cfg.time_sampling: uniform (integer steps in [0, T) for a DiscreteSchedule,
  // [t_min, t_max] otherwise), log-normal in sigma (EDM) or logit-normal (flow matching).
  Trainer(Denoiser& model, nn::Module& module, const Process& process, TrainerConfig cfg = {});

  // The loss on a batch x0 [N, ...] (labels int64 [N] or undefined), with
  // graph, for the current parameters; draws t, eps and label dropout from
  // the trainer's generator.
  Tensor loss(const Tensor& x0, const Tensor& labels = Tensor());
  // loss, backward, clip, LR schedule, optimizer step, EMA update.
  TrainStats step(const Tensor& x0, const Tensor& labels = Tensor());
  // N training times drawn as cfg.time_sampling says (this rank's rows of the global batch).
  Tensor sample_times(int64_t n, DType dtype, Device device, const ops::RowShard& rows = {});

  // Data-parallel training over `comm`'s processes (docs/DISTRIBUTED.md).
  // From now on the batches given to step() and loss() are this rank's rows,
  // [rank * n, (rank + 1) * n), of a global batch of size() * n rows; the
  // times, noise and label dropout drawn are exactly those rows of the
  // single-process draws; gradients are averaged over ranks in buckets of
  // `bucket_bytes` while backward runs; the loss reported is the global mean.
  // Every rank must call this, and step(), together. The parameters are
  // broadcast from rank 0 now (and checked equal with check_replicas).
  void set_data_parallel(dist::Communicator& comm, int64_t bucket_bytes = 4 << 20);
  // Throws on every rank unless all ranks hold the same parameters, EMA
  // weights, optimizer state and random stream (compared by hash); `when` goes into the message.
  void check_replicas(const std::string& when);
  const dist::GradReducer* reducer() const { return reducer_.get(); }

  int64_t step_count() const { return optimizer_->step_count(); }
  nn::Optimizer& optimizer() { return *optimizer_; }
  nn::EMA* ema() { return ema_.get(); }  // null when disabled
  // The post-hoc EMA's tracked profiles (sigma_rel_a, sigma_rel_b), updated
  // after every optimizer step; empty unless posthoc_ema_every > 0. The
  // caller writes their snapshots (nn::save_ema_snapshot) and checkpoints them.
  std::vector<nn::PowerEma*> power_emas();
  Generator& generator() { return gen_; }
  nn::GradScaler* grad_scaler() { return scaler_.get(); }  // null unless precision is fp16
  const TrainerConfig& config() const { return cfg_; }
  const nn::LRSchedule& lr_schedule() const { return schedule_; }

 private:
  Denoiser& model_;
  nn::Module& module_;
  const Process& process_;
  TrainerConfig cfg_;
  Generator gen_;
  std::unique_ptr<nn::AdamW> optimizer_;
  std::unique_ptr<nn::EMA> ema_;
  std::vector<std::unique_ptr<nn::PowerEma>> power_emas_;
  std::unique_ptr<nn::GradScaler> scaler_;  // fp16 only
  nn::LRSchedule schedule_;
  dist::Communicator* comm_ = nullptr;  // data-parallel when set
  std::unique_ptr<dist::GradReducer> reducer_;
};

}  // namespace drift::diffusion
