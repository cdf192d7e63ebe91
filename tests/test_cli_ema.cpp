// `drift train --posthoc-ema-every N` and `drift ema` end to end on the tiny
// image-folder data set: snapshots and the tracked profiles in the checkpoint,
// exact resumption, a reconstruction that `drift sample` reads, and bad input
// refused with nothing written. Skips when the program has not been built.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "cli_run.h"
#include "nn/safetensors.h"

namespace fs = std::filesystem;
using namespace drift;
using namespace drift_test;

namespace {

class CliEma : public CliFolderTest {
 protected:
  std::string train_args(const std::string& out, int steps, const std::string& extra = "") const {
    return "train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
           (dir / out).string() + " --steps " + std::to_string(steps) +
           " --batch-size 4 --sample-every 0 --checkpoint-every 2 --log-every 1 --quiet " + extra;
  }
  std::string snapshot(const std::string& run, int step, const char* sigma) const {
    char name[96];
    std::snprintf(name, sizeof(name), "ema_snapshots/step_%07d_sigma_rel_%s.safetensors", step, sigma);
    return (dir / run / name).string();
  }
};

}  // namespace

TEST_F(CliEma, TrainWritesSnapshotsEmaReconstructsSampleReads) {
  Result t = run(train_args("run", 4, "--posthoc-ema-every 2"));
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("post-hoc EMA: profiles sigma_rel 0.05 and 0.1"), std::string::npos) << t.output;
  for (int step : {2, 4})
    for (const char* s : {"0.0500", "0.1000"}) EXPECT_TRUE(fs::exists(snapshot("run", step, s))) << step << " " << s;
  // The tracked profiles travel in the checkpoint (for --resume).
  nn::SafetensorsContents ckpt = nn::load_safetensors((dir / "run/checkpoint.safetensors").string());
  EXPECT_TRUE(nn::find_tensor(ckpt.tensors, "phema0.conv_in.weight").defined());
  EXPECT_EQ(ckpt.metadata.at("phema1.sigma_rel"), "0.10000000000000001");

  // A width between the two, and one of them (which must come back as its snapshot).
  const std::string out = (dir / "ema.safetensors").string(), same = (dir / "same.safetensors").string();
  Result e = run("ema --run " + (dir / "run").string() + " --sigma-rel 0.07 -o " + out);
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("at step 4 from 4 snapshots"), std::string::npos) << e.output;
  ASSERT_EQ(run("ema --run " + (dir / "run").string() + " --sigma-rel 0.1 -o " + same).status, 0);
  nn::SafetensorsContents a = nn::load_safetensors(same), b = nn::load_safetensors(snapshot("run", 4, "0.1000"));
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [n, t] : b.tensors) {
    const std::vector<double> x = ops::to_vector_f64(nn::find_tensor(a.tensors, "ema." + n)), y = ops::to_vector_f64(t);
    ASSERT_EQ(x.size(), y.size()) << n;
    for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], y[i], 1e-6 * (1 + std::abs(y[i]))) << n << "[" << i << "]";
  }
  EXPECT_EQ(a.metadata.at("step"), "4");

  Result s = run("sample -c " + out + " --n 2 --steps 3 --quiet -o " + (dir / "s.png").string());
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_NE(s.output.find("step 4, EMA weights"), std::string::npos) << s.output;
  EXPECT_TRUE(fs::exists(dir / "s.png"));
  Result raw = run("sample -c " + out + " --no-ema --n 2 --steps 3 --quiet -o " + (dir / "r.png").string());
  EXPECT_NE(raw.status, 0);
  EXPECT_NE(raw.output.find("holds only averaged weights"), std::string::npos) << raw.output;

  // An earlier snapshot step uses the snapshots up to it.
  Result early = run("ema --run " + (dir / "run").string() + " --sigma-rel 0.07 --step 2 -o " + out);
  ASSERT_EQ(early.status, 0) << early.output;
  EXPECT_NE(early.output.find("at step 2 from 2 snapshots"), std::string::npos) << early.output;
}

TEST_F(CliEma, BadInputIsRefusedAndNothingIsWritten) {
  ASSERT_EQ(run(train_args("plain", 2)).status, 0);  // no snapshots
  ASSERT_EQ(run(train_args("run", 2, "--posthoc-ema-every 1")).status, 0);
  const std::string out = (dir / "out.safetensors").string();
  auto refused = [&](const std::string& args, const std::string& says) {
    Result r = run("ema " + args + " -o " + out);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << ": " << r.output;
    EXPECT_FALSE(fs::exists(out)) << args;
  };
  const std::string run_dir = (dir / "run").string();
  refused("--run " + (dir / "plain").string() + " --sigma-rel 0.1", "no post-hoc EMA snapshots");
  refused("--run " + run_dir + " --sigma-rel 0.5", "sigma_rel must be in");
  refused("--run " + run_dir + " --sigma-rel 0", "sigma_rel must be in");
  refused("--run " + run_dir + " --sigma-rel 0.1 --step 3", "no snapshot of step 3");
  refused("--run " + run_dir + " --sigma-rel 0.1 --step 0", "--step");
  Result no_dir = run("ema --run " + run_dir + " --sigma-rel 0.1 -o " + (dir / "nowhere/x.safetensors").string());
  EXPECT_NE(no_dir.status, 0);
  EXPECT_NE(no_dir.output.find("nowhere"), std::string::npos) << no_dir.output;
  // A corrupt snapshot is named.
  const std::string victim = snapshot("run", 1, "0.0500");
  fs::resize_file(victim, fs::file_size(victim) / 2);
  refused("--run " + run_dir + " --sigma-rel 0.1", victim);
  // Equal profiles cannot be reconstructed from.
  Result same = run(train_args("same", 1, "--posthoc-ema-every 1 --posthoc-ema-sigma-rel-b 0.05"));
  EXPECT_NE(same.status, 0);
  EXPECT_NE(same.output.find("must differ"), std::string::npos) << same.output;
}

TEST_F(CliEma, ResumeContinuesTheProfilesExactlyAndAFreshRunClearsOldSnapshots) {
  ASSERT_EQ(run(train_args("full", 4, "--posthoc-ema-every 2")).status, 0);
  ASSERT_EQ(run(train_args("split", 2, "--posthoc-ema-every 2")).status, 0);
  Result r = run("train --out " + (dir / "split").string() + " --resume --steps 4 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"0.0500", "0.1000"})
    EXPECT_EQ(read_all(snapshot("full", 4, s)), read_all(snapshot("split", 4, s))) << s;
  EXPECT_EQ(read_all((dir / "full/checkpoint.safetensors").string()),
            read_all((dir / "split/checkpoint.safetensors").string()));

  // Starting afresh in the same folder: the 4-step run's snapshots go.
  Result fresh = run(train_args("full", 2, "--posthoc-ema-every 2"));
  ASSERT_EQ(fresh.status, 0) << fresh.output;
  EXPECT_NE(fresh.output.find("removed 4 post-hoc EMA snapshot(s)"), std::string::npos) << fresh.output;
  EXPECT_FALSE(fs::exists(snapshot("full", 4, "0.0500")));
  EXPECT_TRUE(fs::exists(snapshot("full", 2, "0.0500")));
}
