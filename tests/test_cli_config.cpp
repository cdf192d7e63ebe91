// The `drift train` configuration from the outside: the docs table is the
// program's own, every field has a flag with its default in --help, bad
// values in a config file or on the command line are errors naming the key
// or flag (and the file), and a failed --resume leaves the run folder as it was.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_run.h"
#include "data/image.h"
#include "nn/safetensors.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace drift;
using namespace drift_test;
using drift::test::expect_contains;

namespace {

class CliConfig : public CliFolderTest {
 protected:
  std::string train_args(const std::string& out, int steps) const {
    return "train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
           (dir / out).string() + " --steps " + std::to_string(steps) +
           " --batch-size 4 --sample-every 0 --checkpoint-every 1 --quiet";
  }
  // Runs `drift train --config FILE` with `json` in FILE; expects a failure.
  std::string bad_config(const std::string& json) const {
    const std::string cfg = (dir / "bad.json").string();
    std::ofstream(cfg) << json;
    Result r = run(train_args("bad", 1) + " --config " + cfg);
    EXPECT_NE(r.status, 0) << json;
    EXPECT_FALSE(fs::exists(dir / "bad")) << "a refused config must not create the run folder";
    return r.output;
  }
};

}  // namespace

TEST(CliConfigDocs, TheTableInDocsIsTheProgramsOwn) {
  if (drift_exe().empty()) GTEST_SKIP() << "the drift program is not built next to the tests";
  Result r = run("train --config-markdown");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string docs = read_all(std::string(DRIFT_TEST_DATA) + "/../../docs/CLI.md");
  const std::string begin = "<!-- begin: drift train --config-markdown -->\n", end = "<!-- end: drift train --config-markdown -->";
  const size_t a = docs.find(begin), b = docs.find(end);
  ASSERT_NE(a, std::string::npos) << "docs/CLI.md lacks the generated table's markers";
  ASSERT_NE(b, std::string::npos);
  EXPECT_EQ(docs.substr(a + begin.size(), b - a - begin.size()), r.output)
      << "docs/CLI.md is out of date: paste the output of `drift train --config-markdown` between the markers";
  // Every preset and field is there, including the ones that had no flag before.
  expect_contains(r.output, {"`tiny`", "`cifar10`", "`--warmup-steps`", "`--random-flip`", "`--min-snr-gamma`",
                        "`--sample-steps`", "`--unet.base-channels`", "`constant`, `linear`, `cosine`"});
}

TEST(CliConfigDocs, HelpShowsEveryFlagWithItsDefault) {
  if (drift_exe().empty()) GTEST_SKIP() << "the drift program is not built next to the tests";
  Result r = run("train --help");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_contains(r.output, {"--warmup-steps INT=500", "--random-flip=false", "--min-snr-gamma FLOAT=5",
                        "--sample-steps INT=50", "--lr-decay constant|linear|cosine=constant",
                        "--unet.channel-mult INT,...=1,2,2"});
}

TEST_F(CliConfig, BadConfigValuesNameTheFileAndKey) {
  expect_contains(bad_config(R"({"batch_size": 1.5})"), {"bad.json", "'batch_size'", "expected an integer", "1.5"});
  expect_contains(bad_config(R"({"seed": -1})"), {"bad.json", "'seed'", "non-negative integer"});
  expect_contains(bad_config(R"({"steps": 1e30})"), {"bad.json", "'steps'", "1e+30"});
  expect_contains(bad_config(R"({"lr_decay": "cosin"})"), {"bad.json", "'lr_decay'", "'cosin'", "cosine"});
  expect_contains(bad_config(R"({"warmup": 10})"), {"bad.json", "unknown key 'warmup'", "warmup_steps"});
  std::string mults = "[1";
  for (int i = 0; i < 64; ++i) mults += ",1";
  expect_contains(bad_config(R"({"unet": {"channel_mult": )" + mults + "]}}"), {"bad.json", "'unet.channel_mult'", "65"});
  expect_contains(bad_config(R"({"unet": {"base_channels": 4611686018427387904}})"),
             {"bad.json", "'unet.base_channels'", "in [1, 4096]"});
  expect_contains(bad_config(R"({"unet": )" + std::string(5000, '[') + std::string(5000, ']') + "}"),
             {"bad.json", "deeper than"});
  expect_contains(bad_config(R"({"preset": "huge"})"), {"unknown preset 'huge'", "tiny"});
}

TEST_F(CliConfig, FlagValuesAreParsedStrictly) {
  for (auto [flag, value, piece] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--batch-size", "1.5", "expected an integer"},
           {"--seed", "-1", "non-negative integer"},
           {"--steps", "1e30", "1e+30"},
           {"--steps", "3abc", "'3abc'"},
           {"--unet.channel-mult", "1,2,x", "item 2"},
           {"--random-flip=maybe", "", "true or false"}}) {
    Result r = run(train_args("f", 1) + " " + flag + (value.empty() ? "" : " " + value));
    EXPECT_NE(r.status, 0) << flag << " " << value;
    expect_contains(r.output, {flag.substr(0, flag.find('=')), piece});
  }
  EXPECT_FALSE(fs::exists(dir / "f"));
}

TEST_F(CliConfig, FlagsReachTheConfigUnderTheirKeys) {
  Result r = run(train_args("ok", 1) + " --warmup-steps 7 --random-flip --min-snr-gamma 2.5 --sample-steps 3 "
                 "--lr-decay linear --unet.base-channels 8 --unet.channel-mult 1,1");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string saved = read_all((dir / "ok/config.json").string());
  expect_contains(saved, {"\"warmup_steps\": 7", "\"random_flip\": true", "\"min_snr_gamma\": 2.5",
                     "\"sample_steps\": 3", "\"lr_decay\": \"linear\"", "\"base_channels\": 8"});
}

TEST_F(CliConfig, FailedResumeLeavesTheRunFolderAsItWas) {
  ASSERT_EQ(run(train_args("run", 1)).status, 0);
  const fs::path ckpt = dir / "run/checkpoint.safetensors";
  const std::string config_before = read_all((dir / "run/config.json").string());
  // A checkpoint whose config is fine but whose weights are gone: refused by
  // the checkpoint check, which must come before config.json is rewritten
  // (here it would record the new --steps).
  nn::SafetensorsContents c = nn::load_safetensors(ckpt.string());
  nn::save_safetensors(ckpt.string(), {}, c.metadata);
  Result r = run("train --out " + (dir / "run").string() + " --resume --steps 5 --quiet");
  EXPECT_NE(r.status, 0) << r.output;
  expect_contains(r.output, {"checkpoint.safetensors"});
  EXPECT_EQ(read_all((dir / "run/config.json").string()), config_before);

  // Only the run's length and bookkeeping may change on resume.
  Result lr = run("train --out " + (dir / "run").string() + " --resume --lr 0.1 --quiet");
  EXPECT_NE(lr.status, 0);
  expect_contains(lr.output, {"--lr", "cannot change"});
}

TEST_F(CliConfig, ResumeOnDataThatNoLongerFitsTheModelIsRefused) {
  ASSERT_EQ(run(train_args("run", 1)).status, 0);
  const std::string config_before = read_all((dir / "run/config.json").string());
  // The data set's images become 16x16; the checkpoint's U-Net was built for 8x8.
  for (const char* cls : {"dark", "bright"})
    for (int i = 0; i < 8; ++i)
      write_png((dir / "data" / cls / (std::to_string(i) + ".png")).string(), Image(16, 16, 1, 100));
  Result r = run("train --out " + (dir / "run").string() + " --resume --steps 3 --quiet");
  EXPECT_NE(r.status, 0) << r.output;
  expect_contains(r.output, {"--resume", "16x16", "8x8", "unet.image_size"});
  EXPECT_EQ(read_all((dir / "run/config.json").string()), config_before);
}

TEST_F(CliConfig, SampleCountsAndLabelsAreParsedStrictly) {
  ASSERT_EQ(run(train_args("cond", 1) + " --class-conditional").status, 0);
  const std::string ckpt = (dir / "cond/checkpoint.safetensors").string();
  const std::string out = " -o " + (dir / "s.png").string();
  for (const char* bad : {"--n -1", "--n 1.5", "--seed -1", "--steps 0", "--eta -1", "--frames 0"}) {
    Result r = run("sample -c " + ckpt + " --n 2 --steps 1 " + bad + out);
    EXPECT_NE(r.status, 0) << bad;
    expect_contains(r.output, {std::string(bad).substr(0, std::string(bad).find(' '))});
  }
  Result labels = run("sample -c " + ckpt + " --n 2 --steps 1 --labels 3abc" + out);
  EXPECT_NE(labels.status, 0);
  expect_contains(labels.output, {"--labels", "'3abc'"});
  Result range = run("sample -c " + ckpt + " --n 2 --steps 1 --labels 0,2" + out);
  EXPECT_NE(range.status, 0);
  expect_contains(range.output, {"--labels", "label 2"});
  EXPECT_FALSE(fs::exists(dir / "s.png"));
  Result ok = run("sample -c " + ckpt + " --n 2 --steps 1 --labels 1,0" + out);
  EXPECT_EQ(ok.status, 0) << ok.output;
}
