// Training checkpoints: N steps straight equal N/2 steps, save, load into a
// fresh model / optimizer / EMA / generator, N/2 steps -- bitwise on the CPU,
// with dropout active and gradient clipping; the fp16 loss scaler's state travels
// with it. Mismatched checkpoints change nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "nn/unet.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;
using namespace drift::nn;

namespace {

std::string temp_path(const std::string& name) {
  return testing::TempDir() + "drift_ckpt_" + std::to_string(::getpid()) + "_" + name;
}

// Everything a small training run holds.
struct TrainRun {
  UNet net;
  AdamW opt;
  EMA ema;
  Generator rng;  // data and noise
  GradScaler scaler{1024.0, 5};  // fp16 loss scaling state (not used by train_step)
  int64_t step = 0;
  TrainRun(uint64_t model_seed, uint64_t rng_seed)
      : net(config(model_seed)), opt(net.named_parameters(), AdamOptions{1e-3, 0.9, 0.999, 1e-8, 0.01}),
        ema(net, 0.9), rng(rng_seed) {
    net.train();
  }
  static UNetConfig config(uint64_t seed) {
    UNetConfig c = UNetConfig::tiny();
    c.seed = seed;
    c.num_classes = 3;
    return c;
  }
  // One denoising step: x_t = 0.8 x0 + 0.6 eps; loss = |eps_theta(x_t, t, y) - eps|^2.
  void train_step() {
    Tensor x0 = ops::randn({2, 1, 8, 8}, rng);
    Tensor t = ops::randint(0, 1000, {2}, rng);
    Tensor y = ops::randint(0, 4, {2}, rng);  // 3 = the null class
    Tensor eps = ops::randn({2, 1, 8, 8}, rng);
    Tensor xt = ops::add(ops::mul(x0, 0.8), ops::mul(eps, 0.6));
    opt.zero_grad();
    Tensor loss = mse_loss(net.forward(xt, t, y), eps);
    backward(loss);
    clip_grad_norm(net.parameters(), 1.0);
    opt.step();
    ema.update();
    ++step;
  }
  TrainingState state() {
    TrainingState s;
    s.model = &net;
    s.optimizer = &opt;
    s.ema = &ema;
    s.grad_scaler = &scaler;
    s.step = step;
    s.generators = {{"data", &rng}};
    s.config_json = net.config().to_json();
    return s;
  }
};

void expect_bitwise_equal(const NamedTensors& a, const NamedTensors& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first) << what;
    EXPECT_EQ(ops::to_vector_f32(a[i].second), ops::to_vector_f32(b[i].second)) << what << " " << a[i].first;
  }
}
}  // namespace

TEST(Checkpoint, ResumeIsBitwiseIdentical) {
  const int N = 4;
  TrainRun straight(1, 100);
  for (int i = 0; i < N; ++i) straight.train_step();

  const std::string path = temp_path("resume.safetensors");
  {
    TrainRun first(1, 100);
    for (int i = 0; i < N / 2; ++i) first.train_step();
    first.scaler.update(true);  // a skipped step: scale 512
    first.scaler.update(false);
    first.scaler.update(false);  // two good steps in a row
    save_checkpoint(path, first.state());
  }
  TrainRun resumed(77, 555);  // different seeds: everything must come from the file
  TrainingState s = resumed.state();
  s.config_json = "";
  load_checkpoint(path, s);
  EXPECT_EQ(s.step, N / 2);
  EXPECT_EQ(s.config_json, TrainRun::config(1).to_json());
  resumed.step = s.step;
  EXPECT_EQ(resumed.opt.step_count(), N / 2);
  EXPECT_EQ(resumed.scaler.scale(), 512.0);
  EXPECT_EQ(resumed.scaler.good_steps(), 2);
  EXPECT_EQ(resumed.scaler.skipped_steps(), 1);
  for (int i = 0; i < N / 2; ++i) resumed.train_step();

  expect_bitwise_equal(straight.net.state_dict(), resumed.net.state_dict(), "model");
  expect_bitwise_equal(straight.ema.shadow(), resumed.ema.shadow(), "ema");
  expect_bitwise_equal(straight.opt.state_tensors(), resumed.opt.state_tensors(), "optimizer");
  EXPECT_EQ(straight.rng.offset, resumed.rng.offset);
  EXPECT_EQ(straight.net.dropout_generator().seed, resumed.net.dropout_generator().seed);
  EXPECT_EQ(straight.net.dropout_generator().offset, resumed.net.dropout_generator().offset);
  std::remove(path.c_str());
}

TEST(Checkpoint, MismatchChangesNothing) {
  const std::string path = temp_path("mismatch.safetensors");
  TrainRun a(1, 100);
  a.train_step();
  save_checkpoint(path, a.state());

  // A model of another shape: the error names the file and the tensor; nothing is loaded.
  UNetConfig wide = TrainRun::config(2);
  wide.base_channels = 32;
  UNet other(wide);
  AdamW opt(other.named_parameters(), AdamOptions{});
  Generator rng(9);
  TrainingState s;
  s.model = &other;
  s.optimizer = &opt;
  s.generators = {{"data", &rng}};
  const std::vector<float> before = ops::to_vector_f32(other.state_dict()[0].second);
  expect_error([&] { load_checkpoint(path, s); }, {path, "temb.0.weight"});
  EXPECT_EQ(ops::to_vector_f32(other.state_dict()[0].second), before);
  EXPECT_EQ(rng.offset, 0u);
  EXPECT_EQ(opt.step_count(), 0);

  // The right model but a generator the file does not have.
  TrainRun b(3, 4);
  TrainingState sb = b.state();
  Generator extra(1);
  sb.generators.emplace_back("augment", &extra);
  expect_error([&] { load_checkpoint(path, sb); }, {path, "rng.augment"});
  EXPECT_EQ(b.opt.step_count(), 0);

  // EMA weights in the file but no EMA to load them into.
  TrainRun c(3, 4);
  TrainingState sc = c.state();
  sc.ema = nullptr;
  expect_error([&] { load_checkpoint(path, sc); }, {"EMA"});

  // Loss-scaler state in the file but no scaler to load it into (an fp16 run resumed as fp32).
  TrainRun e(3, 4);
  TrainingState se = e.state();
  se.grad_scaler = nullptr;
  expect_error([&] { load_checkpoint(path, se); }, {path, "grad_scaler.scale", "GradScaler"});
  EXPECT_EQ(e.opt.step_count(), 0);

  // A plain safetensors file is not a checkpoint.
  save_safetensors(path, {{"x", ops::ones({1})}});
  expect_error([&] { load_checkpoint(path, sb); }, {path, "format"});
  std::remove(path.c_str());
}

// Every part of a checkpoint is checked before anything is applied: a file
// whose model and EMA fit but whose metadata is corrupt leaves the model,
// EMA, optimizer and generators bitwise unchanged, with a drift::Error that
// names the file and the entry (before: a raw json type_error after the model
// had been overwritten).
TEST(Checkpoint, CorruptMetadataChangesNothing) {
  const std::string path = temp_path("meta_src.safetensors"), bad = temp_path("meta_bad.safetensors");
  {
    TrainRun a(1, 100);
    a.train_step();
    save_checkpoint(path, a.state());
  }
  const SafetensorsContents good = load_safetensors(path);
  struct Case {
    std::string key, value;
    std::vector<std::string> pieces;
  };
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  std::vector<Case> cases = {
      {"optimizer", R"({"type":"AdamW","lr":"x","step":1})", {"'lr'", "\"x\""}},
      {"optimizer", R"({"type":"AdamW","lr":0.001,"step":-3})", {"'step'", "-3"}},
      {"optimizer", R"({"type":"AdamW","lr":0.001,"step":1.5})", {"'step'"}},
      {"optimizer", R"({"type":[1],"lr":0.001,"step":1})", {"[1]", "optimizer"}},
      {"optimizer", "{\"type\":" + deep + "}", {"optimizer state", "deeper"}},
      {"optimizer", "not json", {"optimizer state", "not valid JSON"}},
      {"step", "12abc", {"step", "'12abc'"}},
      {"step", "-1", {"step", "'-1'"}},
      {"step", "99999999999999999999", {"step"}},
      {"step", "", {"step"}},
      {"rng.data", "1 2 3", {"rng.data"}},
      {"rng.data", "-1 2", {"rng.data"}},
      {"rng.model.dropout", "x", {"rng.model.dropout"}},
      {"grad_scaler.scale", "0", {"grad_scaler.scale", "'0'"}},
      {"grad_scaler.scale", "-2", {"grad_scaler.scale", "'-2'"}},
      {"grad_scaler.scale", "inf", {"grad_scaler.scale", "'inf'"}},
      {"grad_scaler.scale", "nan", {"grad_scaler.scale"}},
      {"grad_scaler.scale", "1e400", {"grad_scaler.scale"}},
      {"grad_scaler.scale", "64x", {"grad_scaler.scale", "'64x'"}},
      {"grad_scaler.good_steps", "5", {"grad_scaler.good_steps", "[0, 5)", "'5'"}},
      {"grad_scaler.good_steps", "-1", {"grad_scaler.good_steps"}},
      {"grad_scaler.skipped_steps", "1.5", {"grad_scaler.skipped_steps", "'1.5'"}},
      {"grad_scaler.skipped_steps", "<erase>", {}},  // a missing entry
      {"config", "<erase>", {}},  // a missing entry
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key + " = " + c.value.substr(0, 60));
    Metadata meta = good.metadata;
    const bool erase = c.value == "<erase>";
    if (erase) meta.erase(c.key);
    else meta[c.key] = c.value;
    save_safetensors(bad, good.tensors, meta);

    TrainRun b(3, 4);
    b.train_step();
    const NamedTensors model = b.net.state_dict(), ema = b.ema.shadow(), opt = b.opt.state_tensors();
    std::vector<NamedTensors> copies;
    for (const NamedTensors* nt : {&model, &ema, &opt}) {
      NamedTensors cl;
      for (const auto& [n, t] : *nt) cl.emplace_back(n, ops::clone(t));
      copies.push_back(cl);
    }
    const Generator rng = b.rng, dropout = b.net.dropout_generator();
    TrainingState s = b.state();
    std::vector<std::string> pieces = c.pieces;
    pieces.push_back(bad);
    if (erase) pieces.push_back("'" + c.key + "'");
    b.scaler.update(true);  // scale 512, 1 skipped
    b.scaler.update(false);
    expect_error([&] { load_checkpoint(bad, s); }, pieces);
    EXPECT_EQ(b.scaler.scale(), 512.0);
    EXPECT_EQ(b.scaler.good_steps(), 1);
    EXPECT_EQ(b.scaler.skipped_steps(), 1);
    expect_bitwise_equal(b.net.state_dict(), copies[0], "model");
    expect_bitwise_equal(b.ema.shadow(), copies[1], "ema");
    expect_bitwise_equal(b.opt.state_tensors(), copies[2], "optimizer");
    EXPECT_EQ(b.opt.step_count(), 1);
    EXPECT_EQ(b.rng.seed, rng.seed);
    EXPECT_EQ(b.rng.offset, rng.offset);
    EXPECT_EQ(b.net.dropout_generator().offset, dropout.offset);
    EXPECT_EQ(s.step, 1);
  }
  // An extra tensor that belongs to no part.
  NamedTensors extra = good.tensors;
  extra.emplace_back("stray", ops::ones({1}));
  save_safetensors(bad, extra, good.metadata);
  TrainRun d(3, 4);
  TrainingState sd = d.state();
  expect_error([&] { load_checkpoint(bad, sd); }, {bad, "'stray'"});
  std::remove(path.c_str());
  std::remove(bad.c_str());
}
