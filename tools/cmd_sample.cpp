// drift sample: draws images from a trained model with any sampler of the
// diffusion module and writes them as a PNG grid (and optionally a
// trajectory strip showing the samples emerge from noise).
#include <chrono>
#include <cmath>
#include <cstdio>

#include "data/image.h"
#include "dist/comm.h"
#include "tools/cli.h"
#include "tools/sample_args.h"

namespace drift::cli {

namespace {

struct SampleCmdArgs {
  SampleArgs s;
  std::string out = "samples.png";
  int nrow = 0;
  std::string trajectory;
  int64_t frames = 10;
};

void run_sample(const SampleCmdArgs& a) {
  check_output_path(a.out, "--out");
  if (!a.trajectory.empty()) check_output_path(a.trajectory, "--trajectory");
  LoadedModel m = load_trained_model(a.s.checkpoint, !a.s.no_ema);
  const diffusion::ModelConfig& c = m.config;
  const diffusion::Process& process = m.process;
  diffusion::Denoiser& den = m.denoiser;
  SamplerSettings st = a.s.settings(process);
  diffusion::SampleOptions common;
  common.device = a.s.to_device(m);
  common.guidance.labels = a.s.label_tensor(m, a.s.n);
  if (common.guidance.labels.defined()) common.guidance.labels = ops::to(common.guidance.labels, common.device);
  common.guidance.scale = a.s.guidance;
  const Shape shape = {a.s.n, c.unet.in_channels, c.unet.image_size, c.unet.image_size};
  const bool root = dist::is_root();  // under mpirun: the samples are split over the processes, rank 0 writes
  if (root) std::printf("drift sample: %s (step %lld, %s weights), %s, %lld steps, %lld images, guidance %.2f\n",
              a.s.checkpoint.c_str(), static_cast<long long>(m.step), m.ema ? "EMA" : "raw",
              st.name.c_str(), static_cast<long long>(st.name == "ddpm" ? c.timesteps : st.steps),
              static_cast<long long>(a.s.n), a.s.guidance);
  const int nrow = a.nrow > 0 ? a.nrow : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(a.s.n))));
  Generator gen(a.s.seed);
  auto t0 = std::chrono::steady_clock::now();
  SamplingProgress progress(1, !a.s.quiet && root);
  common = progress.attach(common);
  if (!a.trajectory.empty()) {
    if (!root) return;  // a trajectory strip is drawn by rank 0 alone
    std::vector<Tensor> frames = sample_trajectory(den, process, shape, gen, st, common, a.frames);
    progress.finish();
    save_trajectory_strip(a.trajectory, frames);
    save_grid(a.out, ops::clamp(ops::to(frames.back(), Device::CPU), -1.0, 1.0), nrow);
    std::printf("wrote %s and trajectory %s (%zu frames)\n", a.out.c_str(), a.trajectory.c_str(), frames.size());
  } else {
    diffusion::SampleResult r = run_sampler_split(den, process, shape, gen, st, common);
    progress.finish();
    if (!root) return;
    save_grid(a.out, ops::clamp(ops::to(r.x, Device::CPU), -1.0, 1.0), nrow);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wrote %s: %lld model evaluations in %.1f s%s\n", a.out.c_str(), static_cast<long long>(r.nfe), secs,
                dist::world_size() > 1 ? str(" (split over ", dist::world_size(), " processes)").c_str() : "");
  }
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto a = std::make_shared<SampleCmdArgs>();
  CLI::App* cmd = app.add_subcommand("sample", "Generate images from a trained model");
  cmd->footer(
      "Examples:\n  drift sample -c runs/mnist/checkpoint.safetensors --sampler ddim --steps 50 --n 64\n"
      "  drift sample -c runs/cifar/checkpoint.safetensors --sampler dpm --steps 20 --labels 3 --guidance 3\n"
      "  drift sample -c runs/mnist/checkpoint.safetensors --trajectory strip.png --frames 10 --n 8\n"
      "  drift sample -c runs/mnist/checkpoint.safetensors --sampler dpm++2m --spacing karras --steps 20\n"
      "Samplers (--sampler):\n" + sampler_table());
  add_sampler_options(cmd, a->s);
  cmd->add_option("--out,-o", a->out, "output PNG grid")->capture_default_str();
  cmd->add_option("--nrow", a->nrow, "images per grid row (default: square)")->check(CLI::Range(0, 4096));
  cmd->add_option("--trajectory", a->trajectory, "also write a strip of intermediate samples");
  cmd->add_option("--frames", a->frames, "frames in the trajectory strip")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000}));
  cmd->callback([a] { run_sample(*a); });
}

}  // namespace drift::cli
