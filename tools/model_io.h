#pragma once
// Pieces the subcommands share: the U-Net as a diffusion::Denoiser, loading a
// trained model from a checkpoint, time conversion for the SDE samplers, and
// the terminal progress bar.
#include <chrono>
#include <memory>
#include <string>

#include "diffusion/denoiser.h"
#include "diffusion/model_config.h"
#include "diffusion/schedule.h"
#include "diffusion/sde.h"
#include "diffusion/trainer.h"
#include "nn/unet.h"
#include "tools/run_config.h"

namespace drift::cli {

constexpr const char* kVersion = "0.1.0";

// The U-Net as a Denoiser in the discrete schedule's time units (labels:
// kNullLabel -> the net's null class), from the diffusion module.
using diffusion::UNetDenoiser;

// Lets a model trained on a DiscreteSchedule (any VP process) run under a continuous VP SDE
// (reverse SDE, probability-flow ODE, predictor-corrector samplers): SDE time
// s maps to the discrete time t with the same alpha (hence the same noise
// level), alpha_disc(t) = alpha_sde(s), found by bisection; then the inner
// denoiser is called at t.
class SdeTimeDenoiser : public diffusion::Denoiser {
 public:
  SdeTimeDenoiser(diffusion::Denoiser& inner, const diffusion::Process& schedule, const diffusion::SDE& sde)
      : inner_(inner), schedule_(schedule), sde_(sde) {}
  Tensor predict(const Tensor& x, const Tensor& t, const Tensor& labels) override;
  diffusion::Prediction target() const override { return inner_.target(); }
  double discrete_time(double s) const;

 private:
  diffusion::Denoiser& inner_;
  const diffusion::Process& schedule_;
  const diffusion::SDE& sde_;
};

// A trained model from a `drift train` checkpoint (or final model file): the
// library's diffusion::LoadedModel (U-Net, schedule, denoiser, config = the
// model part) plus the run's whole configuration (data set, ...).
struct LoadedModel : diffusion::LoadedModel {
  explicit LoadedModel(diffusion::LoadedModel m) : diffusion::LoadedModel(std::move(m)) {}
  TrainConfig run;
};
// use_ema: load the "ema.*" weights when the file has them (else "model.*").
LoadedModel load_trained_model(const std::string& checkpoint, bool use_ema = true);

// A one-line progress bar on stderr: [=====>    ] 120/5000 loss 0.0345 3.2 it/s ETA 25:12
class ProgressBar {
 public:
  ProgressBar(int64_t total, int64_t start = 0, bool enabled = true);
  // Redraws at most ~10 times a second (and always on the last step).
  void update(int64_t done, const std::string& extra = "");
  void finish();
  double rate() const;  // steps per second since the start

 private:
  int64_t total_, start_;
  bool enabled_;
  std::chrono::steady_clock::time_point t0_, last_draw_;
  int64_t done_ = 0;
  bool drawn_ = false;
};

std::string format_duration(double seconds);  // "1:02:03" or "02:03"
// printf-formats a number, but a NaN as plain "nan" (glibc prints "-nan").
std::string format_number(double v, const char* fmt = "%.4f");

// Checks, before any work, that a file can be written at `path`: its folder
// exists and is writable. `flag` names the option in the message ("-o").
void check_output_path(const std::string& path, const std::string& flag);

// Creates a folder (and its parents); throws naming it on failure.
void make_dirs(const std::string& path);
std::string read_text_file(const std::string& path);

}  // namespace drift::cli
