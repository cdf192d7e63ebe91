// End-to-end runs of the `drift` program (built next to the tests) on a tiny
// image-folder data set: training outputs, exact resumption, sampling,
// editing and error messages. Skips when the program has not been built.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_run.h"
#include "data/image.h"

namespace fs = std::filesystem;
using namespace drift;
using namespace drift_test;

namespace {

// Two classes of 8x8 grey images: dark squares and bright squares.
class CliTool : public CliFolderTest {
 protected:
  std::string train_args(const std::string& out, int steps) const {
    return "train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
           (dir / out).string() + " --steps " + std::to_string(steps) +
           " --batch-size 4 --sample-every 2 --sample-count 4 --checkpoint-every 2 --log-every 1 --quiet";
  }
};

}  // namespace

TEST(CliBasics, VersionAndHelp) {
  if (drift_exe().empty()) GTEST_SKIP() << "the drift program is not built next to the tests";
  Result v = run("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.output.find("drift 0."), std::string::npos) << v.output;
  EXPECT_NE(v.output.find("CPU kernels: "), std::string::npos) << v.output;
  Result bad = run_env("DRIFT_CPU_ISA=sse9", "--version");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("DRIFT_CPU_ISA"), std::string::npos) << bad.output;
  Result generic = run_env("DRIFT_CPU_ISA=generic", "--version");
  EXPECT_NE(generic.output.find("CPU kernels: generic"), std::string::npos) << generic.output;
  Result h = run("--help");
  for (const char* sub : {"train", "sample", "img2img", "inpaint", "eval"})
    EXPECT_NE(h.output.find(sub), std::string::npos) << "help lacks " << sub;
  Result none = run("");
  EXPECT_NE(none.status, 0);
}

TEST_F(CliTool, TrainWritesLogPlotSamplesAndCheckpoint) {
  Result r = run(train_args("run", 4));
  ASSERT_EQ(r.status, 0) << r.output;
  const fs::path run_dir = dir / "run";
  for (const char* f : {"config.json", "loss.csv", "loss.png", "checkpoint.safetensors", "samples/step_0000004.png"})
    EXPECT_TRUE(fs::exists(run_dir / f)) << f;
  std::string csv = read_all((run_dir / "loss.csv").string());
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5) << csv;  // header + 4 steps
  EXPECT_EQ(csv.rfind("step,loss,lr", 0), 0u);
  Image grid = read_image((run_dir / "samples/step_0000004.png").string());
  EXPECT_EQ(grid.width, 2 * (8 + 2) + 2);  // 4 samples of 8x8 in a 2x2 grid
  // No temporary file is left: checkpoints are written as checkpoint.safetensors.tmp.<pid>
  // and renamed, the loss log is rewritten through loss.csv.tmp.
  for (const auto& e : fs::directory_iterator(run_dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST_F(CliTool, ResumeReproducesAnUninterruptedRunExactly) {
  ASSERT_EQ(run(train_args("full", 4)).status, 0);
  ASSERT_EQ(run(train_args("split", 2)).status, 0);
  Result r = run("train --out " + (dir / "split").string() + " --resume --steps 4 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resumed"), std::string::npos) << r.output;
  // Same weights, EMA, optimizer state, random streams and data position: the same bytes.
  EXPECT_EQ(read_all((dir / "full/checkpoint.safetensors").string()),
            read_all((dir / "split/checkpoint.safetensors").string()));
  EXPECT_EQ(read_all((dir / "full/loss.csv").string()), read_all((dir / "split/loss.csv").string()));
}

TEST_F(CliTool, SampleEditAndErrors) {
  ASSERT_EQ(run(train_args("run", 2)).status, 0);
  const std::string ckpt = (dir / "run/checkpoint.safetensors").string();
  Result s = run("sample -c " + ckpt + " --n 4 --steps 3 -o " + (dir / "s.png").string() + " --trajectory " +
                 (dir / "t.png").string() + " --frames 3");
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_EQ(read_image((dir / "t.png").string()).width, 3 * (8 + 2) + 2);  // one column per frame
  for (const char* sampler : {"ddpm --steps 1", "dpm --steps 3", "ode --solver euler --steps 3"}) {
    Result o = run("sample -c " + ckpt + " --n 2 --sampler " + sampler + " -o " + (dir / "o.png").string());
    EXPECT_EQ(o.status, 0) << sampler << ": " << o.output;
  }
  const std::string input = (dir / "data/dark/0.png").string();
  Result i = run("img2img -c " + ckpt + " -i " + input + " --strength 0.5 --steps 4 --n 2 -o " +
                 (dir / "i.png").string());
  EXPECT_EQ(i.status, 0) << i.output;
  Result p = run("inpaint -c " + ckpt + " -i " + input + " --box 0,0,4,8 --steps 4 --n 2 -o " +
                 (dir / "p.png").string());
  EXPECT_EQ(p.status, 0) << p.output;
  EXPECT_EQ(read_image((dir / "p.png").string()).width, 4 * (8 + 2) + 2);  // input, masked, 2 results

  Result bad_label = run("sample -c " + ckpt + " --labels 1 -o " + (dir / "x.png").string());
  EXPECT_NE(bad_label.status, 0);
  EXPECT_NE(bad_label.output.find("unconditional"), std::string::npos) << bad_label.output;
  Result missing = run("sample -c " + (dir / "nope.safetensors").string());
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find("nope.safetensors"), std::string::npos) << missing.output;
}

TEST_F(CliTool, ConfigFileAndBadInputs) {
  const std::string cfg = (dir / "cfg.json").string();
  std::ofstream(cfg) << R"({"preset": "tiny", "prediction": "v", "unet": {"base_channels": 8}})";
  Result ok = run(train_args("cfg", 1) + " --config " + cfg);
  ASSERT_EQ(ok.status, 0) << ok.output;
  std::string saved = read_all((dir / "cfg/config.json").string());
  EXPECT_NE(saved.find("\"prediction\": \"v\""), std::string::npos) << saved;
  EXPECT_NE(saved.find("\"base_channels\": 8"), std::string::npos) << saved;

  std::ofstream(cfg) << R"({"learning_rate": 1})";
  Result bad = run(train_args("bad", 1) + " --config " + cfg);
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("unknown key 'learning_rate'"), std::string::npos) << bad.output;

  Result no_data = run("train --preset tiny --data mnist --data-path " + (dir / "nowhere").string() + " --out " +
                       (dir / "x").string() + " --quiet");
  EXPECT_NE(no_data.status, 0);
  EXPECT_NE(no_data.output.find((dir / "nowhere").string()), std::string::npos) << no_data.output;
}

TEST_F(CliTool, EvalTrainsCachesClassifierAndReportsDistance) {
  ASSERT_EQ(run(train_args("run", 2)).status, 0);
  const std::string ckpt = (dir / "run/checkpoint.safetensors").string();
  const std::string args = "eval -c " + ckpt + " --n 6 --batch 3 --steps 2 --classifier-steps 5";
  Result first = run(args);
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("classifier: training"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("Fréchet classifier distance"), std::string::npos) << first.output;
  EXPECT_TRUE(fs::exists(dir / "run/eval_classifier.safetensors"));
  Result second = run(args);
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("classifier: loaded"), std::string::npos) << second.output;
}
