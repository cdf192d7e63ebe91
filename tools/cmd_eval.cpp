// drift eval: measures a trained model with a small classifier trained on the
// same data set (trained once and cached next to the checkpoint):
//   * the Fréchet classifier distance between generated and real test images,
//     computed on the classifier's penultimate features (tools/frechet.h;
//     like FID, but with drift's own classifier, so not comparable to FID);
//   * the same distance between real training and real test images, the
//     floor a perfect model would reach with this many images;
//   * for class-conditional models, the classifier's accuracy on samples
//     generated for given labels (does the model draw the class it is asked for?).
#include <cstdio>
#include <filesystem>

#include "data/loader.h"
#include "dist/comm.h"
#include "nn/safetensors.h"
#include "tools/classifier.h"
#include "tools/cli.h"
#include "tools/frechet.h"
#include "tools/sample_args.h"

namespace drift::cli {

namespace {

struct EvalArgs {
  SampleArgs s;
  std::string classifier;          // default: <checkpoint folder>/eval_classifier.safetensors
  int64_t classifier_steps = 2000;
  int64_t batch = 100;
  std::string data_path;           // override the run's data location
};

// Loads the cached evaluation classifier or trains (and caches) a new one.
std::unique_ptr<tools::Classifier> get_classifier(const EvalArgs& a, const TrainConfig& c, const Dataset& train,
                                                  const std::string& path) {
  tools::ClassifierConfig cc;
  cc.in_channels = train.channels;
  cc.image_size = train.height;
  cc.num_classes = train.num_classes;
  cc.width = 32;
  auto model = std::make_unique<tools::Classifier>(cc);
  if (std::filesystem::exists(path)) {
    nn::load_module(*model, path);  // checks every name and shape
    model->eval();
    std::printf("classifier: loaded %s\n", path.c_str());
    return model;
  }
  std::printf("classifier: training on %s for %lld steps (cached as %s)\n", data_kind_name(c.data),
              static_cast<long long>(a.classifier_steps), path.c_str());
  LoaderOptions lo;
  lo.batch_size = std::min<int64_t>(128, train.size());
  lo.seed = 1;
  lo.flip = c.random_flip ? Flip::RandomHorizontal : Flip::None;
  DataLoader loader(train, lo);
  tools::train_classifier(*model, loader, a.classifier_steps, 2e-3, Device::CPU, 500);
  nn::save_module(*model, path, {{"kind", "drift eval classifier"}});
  return model;
}

std::vector<float> features_of(tools::Classifier& model, const Tensor& images, int64_t batch) {
  Tensor f = tools::map_batches(images, batch, [&](const Tensor& x) { return model.features(x); });
  return ops::to_vector_f32(f);
}

void run_eval(const EvalArgs& a) {
  LoadedModel m = load_trained_model(a.s.checkpoint, !a.s.no_ema);
  const diffusion::ModelConfig& c = m.config;
  const TrainConfig& run = m.run;
  const std::string data_path = a.data_path.empty() ? run.data_path : a.data_path;
  Dataset train = load_dataset(run.data, data_path, Split::Train);
  Dataset test = run.data == DataKind::ImageFolder ? train : load_dataset(run.data, data_path, Split::Test);
  const int64_t n = std::min<int64_t>(a.s.n, test.size());
  DRIFT_CHECK(n >= 2, "--n must be at least 2, got ", a.s.n);
  const bool root = dist::is_root();

  // Generated images, in batches; under mpirun each batch is split over the
  // processes and gathered (the same images as one process), then rank 0 alone scores them.
  const diffusion::Process& process = m.process;
  diffusion::Denoiser& den = m.denoiser;
  SamplerSettings st = a.s.settings(process);
  Generator gen(a.s.seed);
  const Device device = a.s.to_device(m);
  Tensor all_labels = a.s.label_tensor(m, n);
  std::vector<Tensor> parts;
  DRIFT_CHECK(a.batch > 0, "--batch must be positive, got ", a.batch);
  SamplingProgress progress((n + a.batch - 1) / a.batch, !a.s.quiet && root);  // over every batch's steps
  int64_t nfe = 0;  // model evaluations per sample (both passes of guidance counted)
  for (int64_t i = 0; i < n; i += a.batch) {
    const int64_t b = std::min(a.batch, n - i);
    diffusion::SampleOptions common;
    common.device = device;
    if (all_labels.defined())
      common.guidance.labels = ops::to(ops::contiguous(ops::narrow(all_labels, 0, i, b)), device);
    common.guidance.scale = a.s.guidance;
    const Shape shape = {b, c.unet.in_channels, c.unet.image_size, c.unet.image_size};
    diffusion::SampleResult r = run_sampler_split(den, process, shape, gen, st, progress.attach(common));
    if (i == 0) nfe = r.nfe;
    Tensor x = r.x;
    parts.push_back(ops::clamp(x, -1.0, 1.0));
    progress.next_run();
  }
  progress.finish();
  Tensor fake = parts.size() == 1 ? parts[0] : ops::cat(parts, 0);
  if (!root) return;

  const std::string cls_path =
      !a.classifier.empty()
          ? a.classifier
          : (std::filesystem::path(a.s.checkpoint).parent_path() / "eval_classifier.safetensors").string();
  std::unique_ptr<tools::Classifier> cls = get_classifier(a, run, train, cls_path);
  Batch real = dataset_to_tensors(test);
  const double test_acc = tools::accuracy(*cls, real.images, real.labels);
  std::printf("classifier accuracy on real test images: %.2f%%\n", 100 * test_acc);

  const int64_t d = cls->config.hidden;
  GaussianFit f_fake = fit_gaussian(features_of(*cls, fake, a.batch), n, d);
  GaussianFit f_test = fit_gaussian(features_of(*cls, ops::narrow(real.images, 0, 0, n), a.batch), n, d);
  Batch real_train = dataset_to_tensors(train, n);
  GaussianFit f_train = fit_gaussian(features_of(*cls, real_train.images, a.batch), n, d);
  std::printf("Fréchet classifier distance (%lld samples, %s, %lld steps, %lld model evaluations): %s\n",
              static_cast<long long>(n), st.name.c_str(), static_cast<long long>(st.steps), static_cast<long long>(nfe),
              format_number(frechet_distance(f_fake, f_test)).c_str());
  std::printf("  baseline, real train vs real test images:            %s\n",
              format_number(frechet_distance(f_train, f_test)).c_str());
  if (all_labels.defined()) {
    const double acc = tools::accuracy(*cls, fake, all_labels);
    std::printf("classification accuracy of conditional samples (guidance %.2f): %.2f%%\n", a.s.guidance, 100 * acc);
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  a->s.n = 1000;
  CLI::App* cmd = app.add_subcommand(
      "eval", "Score a model: Fréchet classifier distance and accuracy of conditional samples");
  cmd->footer(
      "The evaluation classifier is trained on the run's data set the first time and cached.\n"
      "Example:\n  drift eval -c runs/mnist/checkpoint.safetensors --n 1000 --sampler ddim --steps 50");
  add_sampler_options(cmd, a->s);
  cmd->add_option("--classifier", a->classifier,
                  "evaluation classifier file (default: eval_classifier.safetensors beside the checkpoint)");
  cmd->add_option("--classifier-steps", a->classifier_steps, "training steps when the classifier is trained")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--batch", a->batch, "images per sampling batch")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--data-path", a->data_path, "where the run's data set is (default: as in the run's config)");
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace drift::cli
