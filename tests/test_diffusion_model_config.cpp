// A checkpoint is self-describing: diffusion::load_model rebuilds the U-Net,
// its schedule and prediction from the file alone; a config that does not fit
// (limits, types, weights) is refused with the file and key named, before
// the U-Net is built.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include "diffusion/model_config.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "tests/test_util.h"

using namespace drift;
using drift::test::expect_error;

namespace {

std::string temp_path(const std::string& name) {
  return "/tmp/drift_model_config_" + std::to_string(::getpid()) + "_" + name + ".safetensors";
}

diffusion::ModelConfig tiny_model() {
  diffusion::ModelConfig c;
  c.unet = nn::UNetConfig::tiny();  // 8x8, attention at 4
  c.schedule = diffusion::BetaSchedule::Cosine;
  c.timesteps = 50;
  c.prediction = diffusion::Prediction::V;
  return c;
}

// A checkpoint of `net` (model + EMA) whose config metadata is `config_json`.
void write_checkpoint(const std::string& path, nn::UNet& net, const std::string& config_json) {
  nn::EMA ema(net, 0.9);
  nn::TrainingState s;
  s.model = &net;
  s.ema = &ema;
  s.step = 7;
  s.config_json = config_json;
  nn::save_checkpoint(path, s);
}

}  // namespace

TEST(ModelConfig, JsonRoundTripAndTrainingKeysIgnoredWhenAsked) {
  diffusion::ModelConfig c = tiny_model();
  diffusion::ModelConfig d = diffusion::ModelConfig::from_json(c.to_json(), "x");
  EXPECT_EQ(d.to_json(), c.to_json());
  EXPECT_NE(c.to_json().find("\"prediction\": \"v\""), std::string::npos) << c.to_json();
  EXPECT_NE(c.to_json().find("\"unet\": {"), std::string::npos) << c.to_json();
  expect_error([] { diffusion::ModelConfig::from_json(R"({"lr": 1})", "config 'a.json'"); },
             {"a.json", "unknown key 'lr'"});
  d = diffusion::ModelConfig::from_json(R"({"lr": 1, "timesteps": 20})", "x", /*ignore_unknown=*/true);
  EXPECT_EQ(d.timesteps, 20);
  EXPECT_EQ(d.make_schedule().T(), 20);
}

TEST(LoadModel, RebuildsTheModelFromTheFileAlone) {
  const std::string path = temp_path("ok");
  diffusion::ModelConfig c = tiny_model();
  nn::UNet net(c.unet);
  config::Json j = config::Json::parse(c.to_json());
  j["lr"] = 0.5;  // a training key, as drift train writes them: skipped by the library
  write_checkpoint(path, net, j.dump());

  diffusion::LoadedModel m = diffusion::load_model(path, /*use_ema=*/false);
  EXPECT_EQ(m.step, 7);
  EXPECT_FALSE(m.ema);
  EXPECT_EQ(m.config.prediction, diffusion::Prediction::V);
  EXPECT_EQ(m.process.discrete_steps(), 50);
  EXPECT_EQ(m.denoiser.target(), diffusion::Prediction::V);
  EXPECT_EQ(m.sample_shape(3), (Shape{3, 1, 8, 8}));
  EXPECT_FALSE(m.class_conditional());
  net.eval();
  Tensor x = ops::full({2, 1, 8, 8}, 0.25), t = ops::from_vector(std::vector<int64_t>{3, 40}, {2});
  EXPECT_EQ(ops::max_abs_diff(m.net->forward(x, t), net.forward(x, t)), 0.0);
  EXPECT_TRUE(diffusion::load_model(path).ema);  // the EMA weights when asked and present
  std::remove(path.c_str());
}

TEST(LoadModel, ConfigLimitsAreCheckedBeforeTheUNetIsBuilt) {
  const std::string path = temp_path("huge");
  nn::UNet net(nn::UNetConfig::tiny());
  // base_channels 2^62 would overflow (and ask for far more memory than exists).
  write_checkpoint(path, net, R"({"unet": {"base_channels": 4611686018427387904}})");
  expect_error([&] { diffusion::load_model(path); }, {path, "'unet.base_channels'", "in [1, 4096]"});
  write_checkpoint(path, net, R"({"timesteps": 1.5})");
  expect_error([&] { diffusion::load_model(path); }, {path, "'timesteps'", "expected an integer"});
  write_checkpoint(path, net, R"({"unet": {"image_size": 10, "channel_mult": [1, 2, 2]}})");
  expect_error([&] { diffusion::load_model(path); }, {path, "image_size 10", "divisible"});
  std::remove(path.c_str());
}

TEST(LoadModel, WeightsThatDoNotFitTheConfigAreAClearError) {
  const std::string path = temp_path("mismatch");
  diffusion::ModelConfig c = tiny_model();
  nn::UNet net(c.unet);
  // The config says 16x16 images: attention (at size 4) moves to another
  // level, so the weights no longer fit the U-Net the config describes.
  c.unet.image_size = 16;
  write_checkpoint(path, net, c.to_json());
  expect_error([&] { diffusion::load_model(path); },
             {path, "do not fit the U-Net that its config describes", "\"image_size\":16"});
  std::remove(path.c_str());
}

TEST(LoadModel, MetadataErrorsNameTheFile) {
  const std::string path = temp_path("meta");
  nn::UNet net(nn::UNetConfig::tiny());
  nn::save_safetensors(path, {}, {});
  expect_error([&] { diffusion::load_model(path); }, {path, "no 'config' metadata"});
  nn::NamedTensors w;
  for (auto& [n, t] : net.state_dict()) w.emplace_back("model." + n, t);
  nn::save_safetensors(path, w, {{"config", tiny_model().to_json()}, {"step", "12x"}});
  expect_error([&] { diffusion::load_model(path); }, {path, "'step'", "12x"});
  nn::save_safetensors(path, w, {{"config", std::string(1000, '[') + std::string(1000, ']')}});
  expect_error([&] { diffusion::load_model(path); }, {path, "deeper than"});
  std::remove(path.c_str());
}

TEST(LoadModel, ProcessKeyRebuildsTheFormulation) {
  const std::string path = temp_path("process");
  diffusion::ModelConfig c = tiny_model();
  nn::UNet net(c.unet);
  net.eval();
  Generator gen(5);
  Tensor x = ops::mul(ops::randn({2, 1, 8, 8}, gen), 0.7);

  // A config written before the key existed: a ddpm model (discrete schedule, the U-Net's own output).
  config::Json old = config::Json::parse(c.to_json());
  for (const char* k : {"process", "sigma_min", "sigma_max", "sigma_data"}) old.erase(k);
  write_checkpoint(path, net, old.dump());
  {
    diffusion::LoadedModel m = diffusion::load_model(path);
    EXPECT_EQ(m.config.process, diffusion::ProcessKind::DDPM);
    EXPECT_EQ(m.process.discrete_steps(), 50);
    EXPECT_EQ(m.process.name(), "discrete");
    EXPECT_EQ(m.denoiser.target(), diffusion::Prediction::V);
    Tensor t = ops::from_vector(std::vector<float>{3, 40}, {2});
    EXPECT_EQ(ops::max_abs_diff(m.denoiser.predict(x, t, Tensor()), net.forward(x, t)), 0.0);
  }

  // edm: EdmProcess with the config's range, and the preconditioned x0 denoiser
  // D = c_skip x + c_out F(c_in x, 250 ln(sigma) / 4)   (EDM table 1).
  c.process = diffusion::ProcessKind::EDM;
  c.prediction = diffusion::Prediction::X0;
  c.sigma_min = 0.01;
  c.sigma_max = 20;
  c.sigma_data = 0.6;
  write_checkpoint(path, net, c.to_json());
  {
    diffusion::LoadedModel m = diffusion::load_model(path);
    EXPECT_EQ(m.process.name(), "edm");
    EXPECT_EQ(m.process.discrete_steps(), 0);
    EXPECT_DOUBLE_EQ(m.process.t_max(), 20.0);
    EXPECT_DOUBLE_EQ(m.process.t_min(), 0.01);
    EXPECT_EQ(m.denoiser.target(), diffusion::Prediction::X0);
    const double sigma = 1.5;
    diffusion::EdmPrecond p = diffusion::edm_precond(sigma, 0.6);
    Tensor F = net.forward(ops::mul(x, p.c_in), ops::full({2}, 250.0 * p.c_noise));
    Tensor want = ops::add(ops::mul(x, p.c_skip), ops::mul(F, p.c_out));
    Tensor got = m.denoiser.predict(x, ops::full({2}, sigma), Tensor());
    EXPECT_LT(ops::max_abs_diff(got, want), 1e-4);
  }

  // flow: FlowProcess, the velocity seen at time 1000 t.
  c.process = diffusion::ProcessKind::Flow;
  c.prediction = diffusion::Prediction::Flow;
  write_checkpoint(path, net, c.to_json());
  {
    diffusion::LoadedModel m = diffusion::load_model(path);
    EXPECT_EQ(m.process.name(), "flow");
    EXPECT_DOUBLE_EQ(m.process.alpha(0.25), 0.75);
    EXPECT_EQ(m.denoiser.target(), diffusion::Prediction::Flow);
    Tensor got = m.denoiser.predict(x, ops::full({2}, 0.25), Tensor());
    EXPECT_LT(ops::max_abs_diff(got, net.forward(x, ops::full({2}, 250.0))), 1e-6);
  }

  // A prediction that does not fit the process, and a bad value, name the key.
  c.prediction = diffusion::Prediction::Eps;
  write_checkpoint(path, net, c.to_json());
  expect_error([&] { diffusion::load_model(path); }, {path, "'prediction'", "flow"});
  c.process = diffusion::ProcessKind::EDM;
  write_checkpoint(path, net, c.to_json());
  expect_error([&] { diffusion::load_model(path); }, {path, "'prediction'", "x0"});
  config::Json bad = config::Json::parse(c.to_json());
  bad["process"] = "ve";
  write_checkpoint(path, net, bad.dump());
  expect_error([&] { diffusion::load_model(path); }, {path, "'process'", "ve"});
  std::remove(path.c_str());
}
