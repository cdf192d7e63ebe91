// The sampler registry on the command line: `--sampler` takes every
// registered name (and the older CLI names), `--spacing karras`, the Karras
// sigma range, `--clip none|clip|dynamic` (clip by default: x0 estimates
// kept in the pixel range), a clear error for an unknown name or a sampler
// that does not fit the model's process. On a checkpoint of a tiny run.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli_run.h"
#include "diffusion/sampler.h"
#include "diffusion/sigma_process.h"
#include "tools/sample_args.h"
#include "tools/sampling.h"

namespace fs = std::filesystem;
using namespace drift;
using namespace drift_test;

namespace {

class CliSamplers : public CliFolderTest {
 protected:
  // A checkpoint after two training steps of the tiny preset.
  std::string train(const std::string& out, const std::string& extra = "") {
    Result r = run("train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
                   (dir / out).string() + " --steps 2 --batch-size 4 --sample-every 0 --checkpoint-every 2" +
                   " --log-every 1 --quiet " + extra);
    EXPECT_EQ(r.status, 0) << r.output;
    return (dir / out / "checkpoint.safetensors").string();
  }
};

}  // namespace

TEST(CliSamplerNames, HelpListsTheRegistryAndOldNamesResolve) {
  if (drift_exe().empty()) GTEST_SKIP() << "the drift program is not built next to the tests";
  Result h = run("sample --help");
  ASSERT_EQ(h.status, 0) << h.output;
  for (const diffusion::SamplerEntry& e : diffusion::sampler_registry()) {
    EXPECT_NE(h.output.find(e.name), std::string::npos) << "sample --help lacks " << e.name;
    EXPECT_NE(h.output.find(e.help), std::string::npos) << "sample --help lacks the line of " << e.name;
  }
  for (const char* flag : {"--clip", "--spacing", "--sigma-min", "--sigma-max", "--rho", "--s-churn"})
    EXPECT_NE(h.output.find(flag), std::string::npos) << flag;
  // The older names keep working.
  using cli::resolve_sampler;
  EXPECT_EQ(resolve_sampler("dpm"), "dpm++2m");
  EXPECT_EQ(resolve_sampler("dpmpp-2m"), "dpm++2m");
  EXPECT_EQ(resolve_sampler("euler-maruyama"), "sde");
  EXPECT_EQ(resolve_sampler("pf-ode"), "ode");
  EXPECT_EQ(resolve_sampler("ode", diffusion::OdeSolver::RK45), "ode-rk45");
  EXPECT_EQ(resolve_sampler("heun", diffusion::OdeSolver::RK45), "heun");  // --solver is ode's
  for (const diffusion::SamplerEntry& e : diffusion::sampler_registry()) EXPECT_EQ(resolve_sampler(e.name), e.name);
  // Which sampler fits which process, and the defaults.
  const diffusion::DiscreteSchedule ddpm = diffusion::DiscreteSchedule::linear(100);
  const diffusion::EdmProcess edm;
  const diffusion::FlowProcess flow;
  EXPECT_EQ(cli::default_sampler(ddpm), "ddim");
  EXPECT_EQ(cli::default_sampler(edm), "heun");
  EXPECT_EQ(cli::default_sampler(flow), "flow-heun");
  for (const char* ok : {"ddpm", "ddim", "heun", "euler", "dpm++2m-sde", "pc"}) EXPECT_NO_THROW(cli::check_sampler_fits(ok, ddpm)) << ok;
  for (const char* ok : {"ddim", "heun", "euler-ancestral", "dpm++2m", "ode"}) EXPECT_NO_THROW(cli::check_sampler_fits(ok, edm)) << ok;
  for (const char* ok : {"flow-euler", "flow-heun", "flow-rk45"}) EXPECT_NO_THROW(cli::check_sampler_fits(ok, flow)) << ok;
  EXPECT_THROW(cli::check_sampler_fits("flow-euler", ddpm), Error);
  EXPECT_THROW(cli::check_sampler_fits("flow-heun", edm), Error);
  EXPECT_THROW(cli::check_sampler_fits("ddpm", edm), Error);
  EXPECT_THROW(cli::check_sampler_fits("ddpm", flow), Error);
  EXPECT_THROW(cli::check_sampler_fits("heun", flow), Error);
  EXPECT_THROW(cli::check_sampler_fits("ddim", flow), Error);
  // The settings: the process's default sampler; x0 clipping on, but off for the adaptive samplers unless asked.
  cli::SampleArgs args;
  EXPECT_EQ(args.settings(ddpm).name, "ddim");
  EXPECT_EQ(args.settings(edm).name, "heun");
  EXPECT_EQ(args.settings(flow).name, "flow-heun");
  EXPECT_EQ(args.settings(ddpm).x0_clip.mode, diffusion::X0ClipMode::Clip);
  EXPECT_EQ(args.settings(flow).x0_clip.mode, diffusion::X0ClipMode::Clip);
  args.sampler = "flow-rk45";
  EXPECT_EQ(args.settings(flow).x0_clip.mode, diffusion::X0ClipMode::None);
  args.clip = "dynamic";
  EXPECT_EQ(args.settings(flow).x0_clip.mode, diffusion::X0ClipMode::Dynamic);
  EXPECT_THROW(args.settings(ddpm), Error);  // flow-rk45 on a ddpm model
}

TEST_F(CliSamplers, EveryKindOfRegistrySamplerRunsOnACheckpoint) {
  const std::string ckpt = train("run");
  const std::string png = (dir / "s.png").string();
  // The sigma samplers run a ddpm model on Karras sigmas of its noise levels; ddim and dpm++2m take --spacing karras.
  for (const char* sampler :
       {"euler", "euler-ancestral", "heun", "dpm++2m-sde", "heun --sigma-min 0.05 --sigma-max 40 --rho 5",
        "dpm++2m --spacing karras", "ddim --spacing karras", "ode-rk45", "dpm"}) {
    fs::remove(png);
    Result o = run("sample -c " + ckpt + " --n 2 --steps 4 --quiet -o " + png + " --sampler " + sampler);
    EXPECT_EQ(o.status, 0) << sampler << ": " << o.output;
    EXPECT_TRUE(fs::exists(png)) << sampler;
  }
  Result e = run("eval -c " + ckpt + " --n 4 --batch 2 --steps 3 --classifier-steps 3 --sampler euler");
  EXPECT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("euler"), std::string::npos) << e.output;
  const std::string input = (dir / "data/dark/0.png").string();
  Result i = run("img2img -c " + ckpt + " -i " + input + " --strength 0.5 --steps 4 --n 2 --sampler heun -o " +
                 (dir / "i.png").string());
  EXPECT_EQ(i.status, 0) << i.output;
  Result p = run("inpaint -c " + ckpt + " -i " + input + " --steps 4 --n 2 --sampler euler-ancestral -o " +
                 (dir / "p.png").string());
  EXPECT_EQ(p.status, 0) << p.output;

  // Errors: an unknown name lists the registry; a flow sampler on a ddpm model says why not.
  Result bad = run("sample -c " + ckpt + " --n 2 --sampler eulr -o " + png);
  EXPECT_NE(bad.status, 0);
  for (const char* must : {"eulr", "euler-ancestral", "dpm++2m-sde", "flow-heun", "ode-rk45"})
    EXPECT_NE(bad.output.find(must), std::string::npos) << must << " in: " << bad.output;
  Result flow = run("sample -c " + ckpt + " --n 2 --sampler flow-euler -o " + png);
  EXPECT_NE(flow.status, 0);
  EXPECT_NE(flow.output.find("flow-matching"), std::string::npos) << flow.output;
  Result rk = run("inpaint -c " + ckpt + " -i " + input + " --n 2 --sampler ode-rk45 -o " + png);
  EXPECT_NE(rk.status, 0);
  EXPECT_NE(rk.output.find("ode-rk45"), std::string::npos) << rk.output;
  Result clip = run("sample -c " + ckpt + " --n 2 --clip sometimes -o " + png);
  EXPECT_NE(clip.status, 0);
  EXPECT_NE(clip.output.find("--clip"), std::string::npos) << clip.output;
  Result spacing = run("sample -c " + ckpt + " --n 2 --spacing karas -o " + png);
  EXPECT_NE(spacing.status, 0);
  EXPECT_NE(spacing.output.find("karras"), std::string::npos) << spacing.output;
}

TEST_F(CliSamplers, ClipIsTheDefaultAndKeepsSamplesInThePixelRange) {
  const std::string ckpt = train("run");
  // The PNGs: the default is --clip clip; none gives other pictures.
  auto png = [&](const std::string& name, const std::string& flags) {
    const std::string path = (dir / name).string();
    Result r = run("sample -c " + ckpt + " --n 4 --steps 5 --quiet -o " + path + " " + flags);
    EXPECT_EQ(r.status, 0) << r.output;
    return read_all(path);
  };
  const std::string by_default = png("default.png", ""), clipped = png("clip.png", "--clip clip"),
                    unclipped = png("none.png", "--clip none");
  EXPECT_EQ(by_default, clipped);
  EXPECT_NE(clipped, unclipped);
  // EDM's stochastic Heun adds noise: other pictures than the deterministic one.
  EXPECT_NE(png("heun.png", "--sampler heun"), png("churn.png", "--sampler heun --s-churn 10"));

  // The samples themselves (before the PNG's clamp): inside [-1, 1] with
  // clip, outside without, for a barely trained model.
  cli::LoadedModel m = cli::load_trained_model(ckpt);
  for (const char* sampler : {"ddim", "euler", "heun", "dpm++2m-sde"}) {
    double largest[2] = {0, 0};
    for (int with_clip = 0; with_clip < 2; ++with_clip) {
      cli::SampleArgs args;
      args.sampler = sampler;
      args.steps = 5;
      args.clip = with_clip ? "clip" : "none";
      cli::SamplerSettings st = args.settings(m.process);
      Generator gen(3);
      Tensor x = cli::run_sampler(m.denoiser, m.process, m.sample_shape(8), gen, st, {}).x;
      largest[with_clip] = ops::item(ops::amax(ops::abs(x)));
    }
    EXPECT_GT(largest[0], 1.0) << sampler << ": expected the unclipped samples of a 2-step model out of range";
    EXPECT_LE(largest[1], 1.0 + 1e-5) << sampler;
  }
}
