// drift train: trains a U-Net denoiser on MNIST, Fashion-MNIST, CIFAR-10 or
// an image folder, in the formulation of the config key `process`.
//
// Each step of a ddpm run (Ho et al. 2020, algorithm 1):
//   x_0 ~ data, t ~ U{0..T-1}, eps ~ N(0, I)
//   x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps          (DDPM eq. 4)
//   loss = || net(x_t, t, y) - target ||^2,  target = eps, x_0 or v
// edm: x = x_0 + sigma eps with ln sigma ~ N(p_mean, p_std^2), the loss on
// the preconditioned D(x, sigma) weighted by lambda(sigma) (Karras et al.
// 2022, table 1); flow: x_t = (1 - t) x_0 + t eps, t logit-normal, target
// eps - x_0 (Esser et al. 2024). Then AdamW, gradient clipping, EMA of the
// weights: diffusion::Trainer.
//
// The run folder holds config.json, loss.csv (step, loss, lr), loss.png,
// samples/step_NNNNNNN.png and checkpoint.safetensors (model, EMA, optimizer,
// step, every random stream, the data loader's position and, for fp16, the
// loss scaler), written atomically, so --resume continues exactly as if never
// stopped (fp16 steps skipped for non-finite gradients are counted and printed); with
// posthoc_ema_every > 0 also ema_snapshots/ (EDM2 post-hoc EMA, `drift ema`).
//
// Under mpirun (docs/DISTRIBUTED.md) every process trains on its rows of the
// global batch (--batch-size), gradients are averaged over processes, and
// only rank 0 writes the run folder and prints.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "autograd/functions.h"
#include "data/image.h"
#include "data/loader.h"
#include "diffusion/trainer.h"
#include "dist/comm.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "tools/cli.h"
#include "tools/config_flags.h"
#include "tools/loss_log.h"
#include "tools/model_io.h"
#include "tools/sampling.h"

namespace drift::cli {

namespace {

struct TrainArgs {
  std::string preset = "mnist";
  std::string config_file;
  std::string out;
  bool resume = false;
  bool quiet = false;
  bool stop_on_divergence = false;  // a run behaviour, like --quiet: not a config key
  bool markdown = false;
  ConfigFlags flags;  // one per field of TrainConfig, applied over preset and file
};

// The trainer's settings: the configured ones plus the length and its seed.
diffusion::TrainerConfig trainer_config(const TrainConfig& c) {
  diffusion::TrainerConfig t = c.optim;
  t.sigma_data = c.model.sigma_data;  // the edm loss weighting's
  t.total_steps = c.steps;
  t.seed = c.seed + 1;  // times, noise and label dropout; the data order uses c.seed
  return t;
}

void sample_grid(nn::UNet& net, nn::EMA* ema, const TrainConfig& c, diffusion::Formulation& f,
                 const std::string& path) {
  if (ema) ema->swap();  // sample with the averaged weights
  // Sampled where the model lives (the noise is drawn there too).
  const Device device = net.parameters().at(0).device();
  net.eval();
  Generator gen(c.seed + 1000003);  // the same noise every time: grids are comparable across steps
  SamplerSettings st;  // the CLI's defaults: x0 clipped to the pixel range
  st.name = default_sampler(*f.process);
  st.steps = c.sample_steps;
  diffusion::SampleOptions common;
  common.device = device;
  if (c.class_conditional) {
    std::vector<int64_t> labels(static_cast<size_t>(c.sample_count));
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i) % c.model.unet.num_classes;
    common.guidance.labels = ops::from_vector(labels, {c.sample_count}, device);
  }
  const Shape shape = {c.sample_count, c.model.unet.in_channels, c.model.unet.image_size, c.model.unet.image_size};
  diffusion::SampleResult r = run_sampler(f.denoiser(), *f.process, shape, gen, st, common);
  save_grid(path, ops::clamp(ops::to(r.x, Device::CPU), -1.0, 1.0),
            static_cast<int>(std::ceil(std::sqrt(static_cast<double>(c.sample_count)))));
  net.train();
  if (ema) ema->swap();
}

// The flags that may change when a run resumes: its length and bookkeeping.
const char* const kResumable[] = {"steps", "sample_every", "checkpoint_every", "log_every"};

void run_train(const TrainArgs& args) {
  if (args.markdown) {
    std::printf("%s", config_markdown().c_str());
    return;
  }
  // 1. Configuration: defaults < preset < JSON file < flags; on resume, the checkpoint's.
  const std::string out = args.out.empty() ? "runs/" + args.preset : args.out;
  const std::string ckpt_path = out + "/checkpoint.safetensors";
  TrainConfig c;
  if (args.resume) {
    DRIFT_CHECK(args.config_file.empty(), "--resume: the configuration comes from the checkpoint; --config "
                "cannot change it");
    for (const std::string& path : args.flags.given()) {
      bool ok = false;
      for (const char* k : kResumable) ok |= path == k;
      DRIFT_CHECK(ok, "--resume: ", config::flag_name(path), " cannot change when a run resumes (the configuration "
                  "comes from the checkpoint; only --steps, --sample-every, --checkpoint-every and --log-every may)");
    }
    nn::SafetensorsContents saved = nn::load_safetensors(ckpt_path);
    auto it = saved.metadata.find("config");
    DRIFT_CHECK(it != saved.metadata.end(), "--resume: '", ckpt_path, "' has no config metadata");
    c = TrainConfig::from_json(it->second, ckpt_path);
  } else {
    c = TrainConfig::preset_config(args.preset);
    if (!args.config_file.empty()) c.apply_json(read_text_file(args.config_file), args.config_file);
  }
  apply_config_flags(c, args.flags);

  // 2. Data: the model's input shape and class count follow the data set
  // (on resume they must agree with the checkpoint's model).
  Dataset data = load_dataset(c.data, c.data_path, Split::Train);
  if (c.max_images > 0) data = take(data, c.max_images);
  DRIFT_CHECK(data.height == data.width, "drift train: expected square images, got ", data.height, "x", data.width);
  nn::UNetConfig& u = c.model.unet;
  const int64_t classes = c.class_conditional ? data.num_classes : 0;
  if (args.resume) {
    DRIFT_CHECK(u.in_channels == data.channels && u.image_size == data.height && u.num_classes == classes,
                "--resume: the data set ", data.source, " has ", data.channels, "-channel ", data.height, "x",
                data.width, " images and ", classes, " classes, but the model in '", ckpt_path, "' was built for ",
                u.in_channels, "-channel ", u.image_size, "x", u.image_size, " images and ", u.num_classes,
                " classes (config unet.in_channels, unet.image_size, unet.num_classes)");
  }
  u.in_channels = data.channels;
  u.image_size = data.height;
  u.num_classes = classes;
  u.seed = c.seed;
  c.validate();
  const Device device = c.device;
  const bool root = dist::is_root();  // the only process that writes or prints
  // Temporary checkpoints of killed runs (checkpoint.safetensors.tmp.<pid>).
  if (root) {
    if (const int stale = remove_stale_temporaries(ckpt_path))
      std::printf("removed %d unfinished checkpoint file(s) of an interrupted run\n", stale);
  }
  const int world = dist::world_size();
  DRIFT_CHECK(c.batch_size % world == 0, "drift train: the batch of ", c.batch_size,
              " images is split over the processes, but ", world, " processes do not divide it",
              args.resume ? "; the batch is the checkpoint's: resume with a number of processes that divides it"
                          : "; choose --batch-size as a multiple of the number of processes");

  // 3. Model and the trainer (AdamW, LR schedule, clipping, EMA, its random stream).
  nn::UNet net(c.model.unet);
  net.to(device);
  net.train();
  diffusion::Formulation formulation(c.model, net);  // process, U-Net as a Denoiser, EDM preconditioning
  diffusion::Trainer trainer(formulation.denoiser(), net, *formulation.process, trainer_config(c));

  LoaderOptions lopt;
  lopt.batch_size = c.batch_size;
  lopt.seed = c.seed;
  lopt.flip = c.random_flip ? Flip::RandomHorizontal : Flip::None;
  lopt.shard_rank = dist::rank();  // this process's rows of every batch
  lopt.shard_count = world;
  const int64_t n_images = data.size();
  const std::string data_source = data.source;
  const int64_t data_c = data.channels, data_h = data.height, data_w = data.width;
  DataLoader loader(std::move(data), lopt);
  // The loader's position travels in the checkpoint as a generator state:
  // seed = data seed, offset = epoch * N + position.
  Generator data_gen(c.seed, 0);

  nn::TrainingState state;
  state.model = &net;
  state.optimizer = &trainer.optimizer();
  state.ema = trainer.ema();
  state.power_emas = trainer.power_emas();  // the post-hoc EMA's profiles (empty when off)
  state.grad_scaler = trainer.grad_scaler();  // fp16 loss scaling (null otherwise)
  state.generators = {{"noise", &trainer.generator()}, {"data", &data_gen}};
  state.config_json = c.to_json();
  if (args.resume) {
    nn::load_checkpoint(ckpt_path, state);  // checks the whole file before changing anything
    state.config_json = c.to_json();  // keep a possibly extended step count
    LoaderState ls;
    ls.seed = data_gen.seed;
    ls.epoch = static_cast<int64_t>(data_gen.offset / static_cast<uint64_t>(n_images));
    ls.position = static_cast<int64_t>(data_gen.offset % static_cast<uint64_t>(n_images));
    loader.set_state(ls);
    if (root) std::printf("resumed from %s at step %lld (epoch %lld, position %lld)\n", ckpt_path.c_str(),
                static_cast<long long>(state.step), static_cast<long long>(ls.epoch),
                static_cast<long long>(ls.position));
  }
  if (world > 1 || dist::mpi_started()) {
    // Data-parallel: rank 0's weights everywhere (checked), gradients averaged in buckets.
    // (Also with one process under mpirun, so that one GPU can run the NCCL path.)
    dist::Communicator& comm = dist::for_device(device);
    trainer.set_data_parallel(comm);
    if (root)
      std::printf("data-parallel: %d processes (%s), %lld images each per step; %.2f MiB of gradients "
                  "all-reduced per step in %lld buckets\n",
                  world, comm.name(), static_cast<long long>(c.batch_size / world),
                  static_cast<double>(trainer.reducer()->stats().bytes) / (1 << 20),
                  static_cast<long long>(trainer.reducer()->stats().buckets));
  }

  // The run folder's config.json is written only now, after a resumed checkpoint was checked.
  const std::string snapshot_dir = out + "/ema_snapshots";  // post-hoc EMA snapshots (nn/posthoc_ema.h)
  if (root) {
    make_dirs(out);
    make_dirs(out + "/samples");
    // A fresh run replaces an earlier run's snapshots as it replaces its checkpoint (a
    // reconstruction must never mix two runs); a resumed run keeps and continues them.
    if (!args.resume)
      if (const int old = nn::remove_ema_snapshots(snapshot_dir))
        std::printf("removed %d post-hoc EMA snapshot(s) of an earlier run from %s\n", old, snapshot_dir.c_str());
    std::ofstream f(out + "/config.json");
    f << c.to_json() << "\n";
    DRIFT_CHECK(f.good(), "cannot write '", out, "/config.json'");
    std::printf("drift train: %s (%lld images %lldx%lldx%lld), %lld steps of %lld, output in %s\n",
                data_source.c_str(), static_cast<long long>(n_images), static_cast<long long>(data_c),
                static_cast<long long>(data_h), static_cast<long long>(data_w), static_cast<long long>(c.steps),
                static_cast<long long>(c.batch_size), out.c_str());
    const std::string process =
        c.model.process == diffusion::ProcessKind::DDPM
            ? str("ddpm, ", config::enum_name(c.model.schedule), " schedule T=", c.model.timesteps)
        : c.model.process == diffusion::ProcessKind::EDM
            ? str("edm, sigma in [", c.model.sigma_min, ", ", c.model.sigma_max, "], sigma_data ", c.model.sigma_data)
            : std::string("flow");
    std::printf("model: U-Net with %lld parameters, process %s, predicts %s, %s times, AdamW lr %.3g\n",
                static_cast<long long>(net.num_parameters()), process.c_str(), config::enum_name(c.model.prediction),
                config::enum_name(c.optim.time_sampling), c.optim.lr);
    if (c.optim.posthoc_ema_every > 0)
      std::printf("post-hoc EMA: profiles sigma_rel %.4g and %.4g (gamma %.2f, %.2f), snapshots every %lld steps "
                  "in %s (drift ema --run %s --sigma-rel X)\n",
                  state.power_emas[0]->sigma_rel(), state.power_emas[1]->sigma_rel(), state.power_emas[0]->gamma(),
                  state.power_emas[1]->gamma(), static_cast<long long>(c.optim.posthoc_ema_every), snapshot_dir.c_str(),
                  out.c_str());
  }

  // 4. The loop: one Trainer step per batch (DDPM algorithm 1, see diffusion/trainer.h).
  std::unique_ptr<LossLog> log;  // rank 0 writes
  if (root) log = std::make_unique<LossLog>(out, state.step);
  auto save = [&] {
    if (log) log->flush();  // every step up to the checkpoint's is on disk before the checkpoint
    trainer.check_replicas(str("at step ", state.step));  // every rank must hold the same state
    LoaderState ls = loader.state();
    data_gen = Generator(ls.seed, static_cast<uint64_t>(ls.epoch * n_images + ls.position));
    if (root) nn::save_checkpoint(ckpt_path, state);  // atomic: temporary file + rename
  };

  ProgressBar bar(c.steps, state.step, !args.quiet && root);
  DivergenceWatch divergence;
  double comm_wait = 0;
  int64_t skipped_session = 0;  // fp16 steps skipped in this session
  double running = 0;
  int64_t running_n = 0;
  while (state.step < c.steps) {
    Batch b = loader.next();  // the next batch is already being prepared in the background
    Tensor x0 = device == Device::CPU ? b.images : ops::to(b.images, device);
    Tensor labels;
    if (c.class_conditional) labels = device == Device::CPU ? b.labels : ops::to(b.labels, device);
    diffusion::TrainStats st = trainer.step(x0, labels);
    state.step = st.step;

    DRIFT_CHECK(std::isfinite(st.loss), "drift train: the loss became ", st.loss, " at step ", state.step,
                " (try a lower --lr or --grad-clip)");
    if (st.skipped) {  // fp16: non-finite gradients, no update, the step count stays; the scale was halved
      ++skipped_session;
      continue;
    }
    if (trainer.reducer()) comm_wait += trainer.reducer()->stats().wait_seconds;
    if (log) log->add(state.step, st.loss, st.lr);
    const std::string warning = divergence.add(state.step, st.loss);
    if (!warning.empty()) {
      if (args.stop_on_divergence) throw Error(str("drift train: ", warning, "; stopped (--stop-on-divergence)"));
      if (root) std::fprintf(stderr, "\nwarning: %s\n", warning.c_str());
    }
    running += st.loss;
    ++running_n;
    char extra[96];
    if (const nn::GradScaler* gs = trainer.grad_scaler())
      std::snprintf(extra, sizeof(extra), "loss %.4f, loss scale %g, %lld skipped", running / static_cast<double>(running_n),
                    gs->scale(), static_cast<long long>(gs->skipped_steps()));
    else
      std::snprintf(extra, sizeof(extra), "loss %.4f", running / static_cast<double>(running_n));
    bar.update(state.step, extra);
    if (state.step % c.log_every == 0 || state.step == c.steps) {
      if (log) log->flush_and_plot();
      running = 0;
      running_n = 0;
    }
    if (root && c.sample_every > 0 && (state.step % c.sample_every == 0 || state.step == c.steps)) {
      char name[64];
      std::snprintf(name, sizeof(name), "/samples/step_%07lld.png", static_cast<long long>(state.step));
      sample_grid(net, trainer.ema(), c, formulation, out + name);
    }
    // Post-hoc EMA snapshots go before the checkpoint of the same step: a run killed between
    // the two resumes from an earlier checkpoint and writes the same snapshot again.
    const int64_t every = c.optim.posthoc_ema_every;
    if (root && every > 0 && (state.step % every == 0 || state.step == c.steps))
      for (nn::PowerEma* pe : state.power_emas) nn::save_ema_snapshot(snapshot_dir, *pe, state.step, state.config_json);
    if ((c.checkpoint_every > 0 && state.step % c.checkpoint_every == 0) || state.step == c.steps) save();
  }
  bar.finish();
  if (!root) return;
  log->flush_and_plot();
  if (world > 1)
    std::printf("communication: rank 0 waited %.3f s in all for gradient all-reduces after backward\n", comm_wait);
  std::printf("done: %lld steps (%.2f it/s this session); checkpoint %s, loss curve %s/loss.png\n",
              static_cast<long long>(state.step), bar.rate(), ckpt_path.c_str(), out.c_str());
  if (const nn::GradScaler* gs = trainer.grad_scaler())
    std::printf("fp16 loss scaling: %lld step(s) skipped for non-finite gradients (%lld this session), "
                "loss scale now %g\n",
                static_cast<long long>(gs->skipped_steps()), static_cast<long long>(skipped_session), gs->scale());
  if (divergence.diverged())
    std::printf("warning: the loss diverged during this run (see above); the samples are likely noise\n");
}

}  // namespace

namespace {

std::string preset_names() {
  std::string s;
  for (const TrainPreset& p : train_presets()) s += str(s.empty() ? "" : ", ", p.name);
  return s;
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train a diffusion model (U-Net; DDPM, EDM or flow matching)");
  cmd->footer(
      "A preset changes some defaults; --config FILE.json overrides any setting, flags override both "
      "(docs/CLI.md lists them all).\nExamples:\n  drift train --preset mnist --out runs/mnist\n  drift train --preset cifar10 "
      "--class-conditional --steps 100000\n  drift train --preset mnist-edm   # EDM; mnist-flow: flow matching\n"
      "  drift train --out runs/mnist --resume        # continue exactly");
  cmd->add_option("--preset", args->preset, "a starting point: " + preset_names() + " (see --config-markdown)")
      ->capture_default_str();
  cmd->add_option("--config", args->config_file, "JSON file overriding preset fields (keys as in config.json)");
  cmd->add_option("--out", args->out, "run folder (default runs/<preset>)");
  cmd->add_flag("--resume", args->resume, "continue from <out>/checkpoint.safetensors exactly where it stopped");
  cmd->add_flag("--quiet", args->quiet, "no progress bar");
  cmd->add_flag("--stop-on-divergence", args->stop_on_divergence,
                "stop with an error when the loss grows a hundredfold (else only a warning)");
  cmd->add_flag("--config-markdown", args->markdown, "print the presets and settings as markdown tables and exit");
  add_config_flags(cmd, TrainConfig::preset_config("mnist"), args->flags,
                   "Settings (defaults of the mnist preset; each is also a config.json key)");
  cmd->callback([args] { run_train(*args); });
}

}  // namespace drift::cli
