// The formulation on the command line: `drift train --process edm|flow`
// (the presets mnist-edm / mnist-flow set the same keys) records the process
// in the checkpoint; `drift sample` then uses the process's default sampler
// (heun on Karras sigmas for edm, flow-heun for flow) or any registry sampler
// that fits, refuses the ones that don't, and `drift eval` runs; a ddpm
// schedule rescaled to zero terminal SNR. On tiny training runs of a few steps.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "cli_run.h"
#include "tools/run_config.h"
#include "tools/sample_args.h"

namespace fs = std::filesystem;
using namespace drift;
using namespace drift_test;

namespace {

class CliProcess : public CliFolderTest {
 protected:
  // A 3-step run of the tiny preset with `keys` (flags) changed.
  std::string train(const std::string& out, const std::string& keys) {
    Result r = run("train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
                   (dir / out).string() + " --steps 3 --batch-size 4 --sample-every 3 --sample-count 4" +
                   " --sample-steps 3 --checkpoint-every 3 --log-every 1 --quiet " + keys);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(fs::exists(dir / out / "samples/step_0000003.png")) << r.output;
    return (dir / out / "checkpoint.safetensors").string();
  }
  Result sample(const std::string& ckpt, const std::string& flags) {
    return run("sample -c " + ckpt + " --n 3 --steps 4 --quiet -o " + (dir / "s.png").string() + " " + flags);
  }
};

}  // namespace

TEST(CliProcessPresets, EdmAndFlowPresetsChangeOnlyTheFormulation) {
  using cli::TrainConfig;
  const TrainConfig base = TrainConfig::preset_config("mnist");
  for (const char* name : {"mnist-edm", "mnist-flow"}) {
    TrainConfig c = TrainConfig::preset_config(name);
    EXPECT_NO_THROW(c.validate()) << name;
    // Same architecture and training budget as mnist.
    EXPECT_EQ(c.model.unet.to_json(), base.model.unet.to_json()) << name;
    EXPECT_EQ(c.steps, base.steps);
    EXPECT_EQ(c.batch_size, base.batch_size);
    EXPECT_EQ(c.optim.lr, base.optim.lr);
    EXPECT_EQ(c.class_conditional, base.class_conditional);
  }
  const TrainConfig edm = TrainConfig::preset_config("mnist-edm"), flow = TrainConfig::preset_config("mnist-flow");
  EXPECT_EQ(base.model.process, diffusion::ProcessKind::DDPM);
  EXPECT_EQ(base.model.prediction, diffusion::Prediction::Eps);
  EXPECT_EQ(edm.model.process, diffusion::ProcessKind::EDM);
  EXPECT_EQ(edm.optim.time_sampling, diffusion::TimeSampling::LogNormal);
  EXPECT_EQ(edm.optim.loss_weighting, diffusion::LossWeighting::EDM);
  EXPECT_EQ(flow.model.process, diffusion::ProcessKind::Flow);
  EXPECT_EQ(flow.model.prediction, diffusion::Prediction::Flow);
  EXPECT_EQ(flow.optim.time_sampling, diffusion::TimeSampling::LogitNormal);
  const TrainConfig cpu = TrainConfig::preset_config("mnist-cpu"), cpu_edm = TrainConfig::preset_config("mnist-cpu-edm");
  EXPECT_EQ(cpu_edm.model.unet.to_json(), cpu.model.unet.to_json());
  EXPECT_EQ(cpu_edm.steps, cpu.steps);
  EXPECT_EQ(cpu_edm.model.process, diffusion::ProcessKind::EDM);
  EXPECT_EQ(TrainConfig::preset_config("mnist-cpu-flow").model.process, diffusion::ProcessKind::Flow);
}

TEST_F(CliProcess, EdmRunSamplesWithHeunByDefaultAndWithRegistrySamplers) {
  const std::string ckpt =
      train("edm", "--process edm --prediction x0 --time-sampling log-normal --loss-weighting edm --sigma-data 0.6");
  EXPECT_NE(read_all((dir / "edm/config.json").string()).find("\"process\": \"edm\""), std::string::npos);
  Result d = sample(ckpt, "");
  ASSERT_EQ(d.status, 0) << d.output;
  EXPECT_NE(d.output.find(", heun, "), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("7 model evaluations"), std::string::npos) << d.output;  // Heun: 2 per step, the last 1
  for (const char* s : {"euler", "euler-ancestral", "dpm++2m-sde", "ddim", "dpm++2m --spacing karras", "ode"}) {
    Result r = sample(ckpt, std::string("--sampler ") + s);
    EXPECT_EQ(r.status, 0) << s << ": " << r.output;
  }
  for (const char* s : {"ddpm", "flow-euler"}) {
    Result r = sample(ckpt, std::string("--sampler ") + s);
    EXPECT_NE(r.status, 0) << s;
    EXPECT_NE(r.output.find("edm"), std::string::npos) << s << ": " << r.output;
  }
  Result e = run("eval -c " + ckpt + " --n 4 --batch 2 --steps 3 --classifier-steps 3");
  EXPECT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("heun, 3 steps, 5 model evaluations"), std::string::npos) << e.output;
  // The run resumes in its formulation.
  Result r = run("train --out " + (dir / "edm").string() + " --resume --steps 4 --quiet");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("process edm"), std::string::npos) << r.output;
}

TEST_F(CliProcess, FlowRunSamplesWithFlowHeunByDefaultAndRefusesOtherSamplers) {
  const std::string ckpt =
      train("flow", "--process flow --prediction flow --time-sampling logit-normal --class-conditional");
  Result d = sample(ckpt, "");
  ASSERT_EQ(d.status, 0) << d.output;
  EXPECT_NE(d.output.find(", flow-heun, "), std::string::npos) << d.output;
  Result g = sample(ckpt, "--labels 1 --guidance 3");  // classifier-free guidance: two evaluations each
  ASSERT_EQ(g.status, 0) << g.output;
  EXPECT_NE(g.output.find("14 model evaluations"), std::string::npos) << g.output;
  for (const char* s : {"flow-euler", "flow-rk45", "flow-heun --clip none"}) {
    Result r = sample(ckpt, std::string("--sampler ") + s);
    EXPECT_EQ(r.status, 0) << s << ": " << r.output;
  }
  for (const char* s : {"ddim", "heun", "ddpm", "sde"}) {
    Result r = sample(ckpt, std::string("--sampler ") + s);
    EXPECT_NE(r.status, 0) << s;
    EXPECT_NE(r.output.find("flow-heun"), std::string::npos) << s << ": " << r.output;  // says what fits
  }
  const std::string input = (dir / "data/dark/0.png").string();
  Result i = run("img2img -c " + ckpt + " -i " + input + " --strength 0.5 --steps 4 --n 2 -o " +
                 (dir / "i.png").string());
  EXPECT_EQ(i.status, 0) << i.output;
  Result e = run("eval -c " + ckpt + " --n 4 --batch 2 --steps 3 --classifier-steps 3 --sampler flow-euler");
  EXPECT_EQ(e.status, 0) << e.output;
}

TEST_F(CliProcess, MismatchedSettingsAreRefusedBeforeTraining) {
  auto bad = [&](const std::string& keys, const std::string& must) {
    Result r = run("train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
                   (dir / "bad").string() + " --steps 1 --quiet " + keys);
    EXPECT_NE(r.status, 0) << keys;
    EXPECT_NE(r.output.find(must), std::string::npos) << keys << ": " << r.output;
    EXPECT_FALSE(fs::exists(dir / "bad/checkpoint.safetensors")) << keys;
  };
  bad("--process flow", "'prediction'");
  bad("--process edm --prediction eps", "'prediction'");
  bad("--time-sampling log-normal", "'time_sampling'");
  bad("--process vp", "--process");
}

TEST_F(CliProcess, ZeroTerminalSnrScheduleTrainsAndSamples) {
  const std::string ckpt = train("zsnr", "--zero-terminal-snr --prediction v");
  EXPECT_NE(read_all((dir / "zsnr/config.json").string()).find("\"zero_terminal_snr\": true"), std::string::npos);
  cli::LoadedModel m = cli::load_trained_model(ckpt);
  EXPECT_EQ(m.process.alpha(m.process.t_max()), 0.0);  // x_{T-1} is pure noise
  EXPECT_GT(m.process.alpha(m.process.t_max() - 1), 0.0);
  // Samples are finite with the samplers that fit (the Karras ones given a finite top).
  for (const char* s : {"ddim", "ddpm", "dpm++2m", "heun", "dpm++2m-sde", "sde", "ode"}) {
    cli::SampleArgs args;
    args.sampler = s;
    args.steps = 5;
    if (std::string(s) == "heun" || std::string(s) == "dpm++2m-sde") args.sigma_max = 20;
    Generator gen(1);
    cli::SamplerSettings st = args.settings(m.process);
    Tensor x = cli::run_sampler(m.denoiser, m.process, m.sample_shape(2), gen, st, {}).x;
    for (float v : ops::to_vector_f32(x)) ASSERT_TRUE(std::isfinite(v)) << s;
  }
  Result d = sample(ckpt, "");
  EXPECT_EQ(d.status, 0) << d.output;
  Result k = sample(ckpt, "--sampler heun");
  EXPECT_NE(k.status, 0);
  EXPECT_NE(k.output.find("--sigma-max"), std::string::npos) << k.output;
  EXPECT_EQ(sample(ckpt, "--sampler heun --sigma-max 20").status, 0);
  Result l = sample(ckpt, "--sampler dpm --spacing logsnr");
  EXPECT_NE(l.status, 0);
  EXPECT_NE(l.output.find("trailing"), std::string::npos) << l.output;
  // eps cannot be turned into x0 where alpha = 0.
  Result eps = run("train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
                   (dir / "bad").string() + " --steps 1 --quiet --zero-terminal-snr");
  EXPECT_NE(eps.status, 0);
  EXPECT_NE(eps.output.find("'zero_terminal_snr'"), std::string::npos) << eps.output;
}
