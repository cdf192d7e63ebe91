// `--precision` on the command line: a bf16 training run and bf16/fp16
// sampling of its checkpoint work end to end; the run's config records the
// precision; a bad value is refused naming the flag. (Numerics of the 16-bit
// types: tests/test_tensor_half.cpp.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_run.h"

namespace fs = std::filesystem;
using namespace drift_test;

TEST_F(CliFolderTest, TrainAndSampleInMixedPrecision) {
  const std::string out = (dir / "bf16").string();
  Result t = run("train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " + out +
                 " --steps 2 --batch-size 4 --sample-every 0 --checkpoint-every 2 --log-every 1 --quiet"
                 " --precision bf16");
  ASSERT_EQ(t.status, 0) << t.output;
  std::ifstream cfg(out + "/config.json");
  std::stringstream text;
  text << cfg.rdbuf();
  EXPECT_NE(text.str().find("\"precision\": \"bf16\""), std::string::npos) << text.str();
  const std::string ckpt = out + "/checkpoint.safetensors";
  for (const char* p : {"bf16", "fp16"}) {
    Result s = run("sample -c " + ckpt + " --n 2 --steps 3 --precision " + std::string(p) + " -o " +
                   (dir / "s.png").string());
    EXPECT_EQ(s.status, 0) << p << ": " << s.output;
  }
  Result bad = run("sample -c " + ckpt + " --n 2 --precision fp8 -o " + (dir / "x.png").string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("--precision"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("fp8"), std::string::npos) << bad.output;
}

// An fp16 run reports its loss scaling (skipped steps, the scale) and resumes
// with the scaler's state from the checkpoint.
TEST_F(CliFolderTest, Fp16RunReportsSkippedStepsAndResumes) {
  const std::string out = (dir / "fp16").string();
  const std::string base = "train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
                           out + " --batch-size 4 --sample-every 0 --checkpoint-every 2 --log-every 1 --quiet" +
                           " --precision fp16";
  Result t = run(base + " --steps 2");
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("fp16 loss scaling:"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("skipped for non-finite gradients"), std::string::npos) << t.output;
  Result r = run("train --out " + out + " --resume --steps 3 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fp16 loss scaling:"), std::string::npos) << r.output;
}
