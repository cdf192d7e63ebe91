// The Trainer on real training: a small MLP learns the 2-D mixture (loss
// falls, samples land on the modes with the right weights), classifier-free
// guidance works after label-dropout training, and the Trainer's pieces
// (warm-up, clipping, EMA, Min-SNR weighting, the U-Net adapter) behave.
#include <gtest/gtest.h>

#include <cmath>

#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/samplers.h"
#include "diffusion/toy.h"
#include "diffusion/trainer.h"

using namespace drift;
using namespace drift::diffusion;

namespace {

// Fraction of samples within 3 standard deviations (per coordinate) of the mode they are assigned to.
double on_modes(const GaussianMixture& mix, const Tensor& x) {
  std::vector<int64_t> a = mix.assign(x);
  std::vector<double> v = ops::to_vector_f64(x);
  double ok = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    bool in = true;
    for (int64_t j = 0; j < mix.dim(); ++j)
      in = in && std::abs(v[i * mix.dim() + j] - mix.means[a[i]][j]) < 3 * std::sqrt(mix.variances[a[i]][j]);
    ok += in;
  }
  return ok / double(a.size());
}

}  // namespace

TEST(DiffusionTrainer, MlpLearnsTheMixtureAndGuidanceWorks) {
  GaussianMixture mix = demo_mixture_2d();  // classes {0, 1, 0, 1}
  DiscreteSchedule sch = DiscreteSchedule::linear();
  MlpConfig mc;
  mc.num_classes = 2;
  mc.seed = 1;
  MlpDenoiser model(mc);
  TrainerConfig tc;
  tc.lr = 3e-3;
  tc.warmup_steps = 50;
  tc.total_steps = 1200;
  tc.lr_decay = nn::LRDecay::Cosine;
  tc.ema_decay = 0.99;
  tc.label_dropout = 0.2;
  tc.seed = 2;
  Trainer trainer(model, model, sch, tc);
  Generator data(3);
  auto sample_quality = [&](const Tensor& labels, double scale) {
    nn::EMAScope ema(*trainer.ema());
    Generator g(4);
    DdimOptions d;
    d.steps = 50;
    d.spacing = Spacing::Linspace;
    d.common.guidance.labels = labels;
    d.common.guidance.scale = scale;
    return ddim_sample(model, sch, {2000, 2}, g, d).x;
  };
  const double before = on_modes(mix, sample_quality(Tensor(), 1.0));
  double first = 0, last = 0;
  for (int64_t s = 0; s < 1200; ++s) {
    GaussianMixture::Draw b = mix.sample(256, data);
    std::vector<int64_t> lab(b.component.size());
    for (size_t i = 0; i < lab.size(); ++i) lab[i] = mix.class_of(b.component[i]);
    TrainStats st = trainer.step(b.x, ops::from_vector(lab, {256}));
    ASSERT_TRUE(std::isfinite(st.loss));
    if (s < 100) first += st.loss / 100;
    if (s >= 1100) last += st.loss / 100;
    if (s == 0) {
      EXPECT_NEAR(st.lr, 3e-3 / 50, 1e-12);  // warm-up starts at lr / warmup_steps
    }
  }
  EXPECT_EQ(trainer.step_count(), 1200);
  Tensor x = sample_quality(Tensor(), 1.0);
  ModeStats st = mode_stats(mix, x);
  const double after = on_modes(mix, x);
  std::printf("loss %.4f -> %.4f; samples on a mode: %.3f before training, %.3f after; weights", first, last, before,
              after);
  for (double w : st.weights) std::printf(" %.3f", w);
  std::printf("\n");
  EXPECT_LT(last, 0.8 * first);
  EXPECT_GT(after, 0.85);
  EXPECT_GT(after, before + 0.3);
  for (int64_t k = 0; k < mix.components(); ++k) EXPECT_NEAR(st.weights[k], mix.weights[k], 0.08) << "mode " << k;
  // Classifier-free guidance on the learned model: class 1 = modes 1 and 3.
  ModeStats c1 = mode_stats(mix, sample_quality(ops::full({2000}, 1.0, DType::Int64), 3.0));
  std::printf("guided class 1 (scale 3): weights %.3f %.3f %.3f %.3f\n", c1.weights[0], c1.weights[1], c1.weights[2],
              c1.weights[3]);
  EXPECT_GT(c1.weights[1] + c1.weights[3], 0.9);
}

TEST(DiffusionTrainer, LossWeightingAndTargets) {
  GaussianMixture mix = demo_mixture_2d();
  SDE vp = SDE::vp();
  Generator data(1);
  Tensor x0 = mix.sample(128, data).x;
  for (Prediction p : {Prediction::Eps, Prediction::X0, Prediction::V}) {
    // The oracle is the exact minimiser of the regression loss: its loss is
    // below that of a zero predictor.
    OracleDenoiser oracle(mix, vp, p);
    MlpConfig mc;
    mc.target = p;
    mc.time_scale = 1000;
    MlpDenoiser net(mc);
    for (LossWeighting w : {LossWeighting::Simple, LossWeighting::MinSNR}) {
      TrainerConfig tc;
      tc.loss_weighting = w;
      tc.seed = 7;
      Trainer t_oracle(oracle, net, vp, tc), t_net(net, net, vp, tc);
      const double lo = ops::item(t_oracle.loss(x0));
      const double ln = ops::item(t_net.loss(x0));
      EXPECT_TRUE(std::isfinite(lo) && std::isfinite(ln));
      EXPECT_LT(lo, ln) << prediction_name(p);
    }
  }
}

TEST(DiffusionTrainer, ClippingEmaAndChecks) {
  GaussianMixture mix = demo_mixture_2d();
  DiscreteSchedule sch = DiscreteSchedule::linear();
  MlpDenoiser model(MlpConfig{});
  TrainerConfig tc;
  tc.grad_clip = 1e-3;  // everything gets clipped
  tc.warmup_steps = 0;
  tc.ema_decay = 0.5;
  Trainer trainer(model, model, sch, tc);
  Generator data(1);
  Tensor before = ops::clone(model.parameters()[0]);
  TrainStats st = trainer.step(mix.sample(64, data).x);
  EXPECT_GT(st.grad_norm, 1e-3);
  EXPECT_EQ(st.step, 1);
  EXPECT_GT(ops::max_abs_diff(before, model.parameters()[0]), 0.0);
  // Labels to an unconditional model, and training with EMA weights swapped in, are errors.
  EXPECT_THROW(trainer.step(mix.sample(64, data).x, ops::zeros({64}, DType::Int64)), Error);
  trainer.ema()->swap();
  EXPECT_THROW(trainer.step(mix.sample(64, data).x), Error);
  trainer.ema()->swap();
  TrainerConfig bad;
  bad.label_dropout = 1.0;
  EXPECT_THROW(Trainer(model, model, sch, bad), Error);
}

TEST(DiffusionTrainer, PosthocEmaProfilesFollowTheOptimizerSteps) {
  GaussianMixture mix = demo_mixture_2d();
  DiscreteSchedule sch = DiscreteSchedule::linear();
  MlpDenoiser model(MlpConfig{});
  TrainerConfig tc;
  tc.warmup_steps = 0;
  tc.posthoc_ema_every = 10;
  tc.posthoc_ema_sigma_rel_b = 0.2;
  Trainer trainer(model, model, sch, tc);
  ASSERT_EQ(trainer.power_emas().size(), 2u);
  EXPECT_EQ(trainer.power_emas()[1]->sigma_rel(), 0.2);
  // The same profiles tracked by hand from the weights after each step.
  nn::PowerEma a(model, 0.05), b(model, 0.2);
  Generator data(1);
  for (int64_t t = 1; t <= 5; ++t) {
    trainer.step(mix.sample(32, data).x);
    a.update(t);
    b.update(t);
  }
  for (int k = 0; k < 2; ++k) {
    const nn::PowerEma& mine = k == 0 ? a : b;
    for (size_t i = 0; i < mine.shadow().size(); ++i)
      EXPECT_EQ(ops::max_abs_diff(mine.shadow()[i].second, trainer.power_emas()[k]->shadow()[i].second), 0.0);
  }
  TrainerConfig off;
  EXPECT_TRUE(Trainer(model, model, sch, off).power_emas().empty());  // off by default
  TrainerConfig same = tc;
  same.posthoc_ema_sigma_rel_b = same.posthoc_ema_sigma_rel_a;
  EXPECT_THROW(Trainer(model, model, sch, same), Error);
}

TEST(DiffusionTrainer, UNetAdapter) {
  nn::UNetConfig uc = nn::UNetConfig::tiny();
  uc.num_classes = 3;
  uc.image_size = 8;
  uc.attention_resolutions = {};
  uc.dropout = 0;  // deterministic forward for the comparison below
  nn::UNet unet(uc);
  UNetDenoiser den(unet, Prediction::V);
  Generator g(0);
  Tensor x = ops::randn({2, uc.in_channels, 8, 8}, g);
  Tensor t = ops::from_vector(std::vector<float>{10.0f, 500.0f}, {2});
  Tensor y = den.predict(x, t, ops::from_vector(std::vector<int64_t>{kNullLabel, 2}, {2}));
  EXPECT_EQ(y.shape(), x.shape());
  // kNullLabel is the U-Net's null class num_classes.
  Tensor y_null = unet.forward(x, t, ops::from_vector(std::vector<int64_t>{3, 2}, {2}));
  EXPECT_LT(ops::max_abs_diff(y, y_null), 1e-6);
  DiscreteSchedule sch = DiscreteSchedule::linear();
  TrainerConfig tc;
  tc.warmup_steps = 0;
  Trainer trainer(den, unet, sch, tc);
  TrainStats st = trainer.step(ops::randn({2, uc.in_channels, 8, 8}, g), ops::from_vector(std::vector<int64_t>{0, 1}, {2}));
  EXPECT_TRUE(std::isfinite(st.loss));
}
