// A new user's trial of `drift`: kill -9 and resume (with real child
// processes), divergence, progress bars, early checks of outputs and
// options; and the loss log, the divergence watch and the removal of stale
// temporary checkpoints on their own.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/inotify.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_run.h"
#include "data/image.h"
#include "tensor/error.h"
#include "tools/loss_log.h"

namespace fs = std::filesystem;
using namespace drift;
using namespace drift_test;

namespace {

fs::path fresh_dir(const std::string& what) {
  fs::path d = fs::temp_directory_path() / ("drift_trial_" + std::to_string(::getpid()) + "_" + what);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string train_args(const fs::path& dir, const std::string& out, int steps) {
  return "train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
         (dir / out).string() + " --steps " + std::to_string(steps) +
         " --batch-size 4 --sample-every 0 --checkpoint-every 5 --log-every 1000 --quiet";
}

// Starts `drift <args>` (stdout and stderr into `log`) as a child process.
pid_t spawn(const std::string& args, const fs::path& log) {
  const std::string cmd = "OMP_NUM_THREADS=1 exec " + drift_exe() + " " + args + " > " + log.string() + " 2>&1";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits (up to ~60 s) for an event in `mask` of the inotify watch `fd` on the
// file `name`, then kills `pid` with SIGKILL at once. Returns whether the
// process died from that signal (false: it had already finished).
bool kill_on_event(int fd, uint32_t mask, const std::string& name, pid_t pid) {
  alignas(inotify_event) char buf[4096];
  bool seen = false;
  for (int polls = 0; !seen && polls < 600; ++polls) {
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    timeval tv{0, 100000};
    if (::select(fd + 1, &set, nullptr, nullptr, &tv) <= 0) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) return false;  // finished before the event
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<inotify_event*>(buf + off);
      if ((ev->mask & mask) && ev->len > 0 && name == ev->name) seen = true;
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

std::vector<std::string> temporaries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) out.push_back(e.path().filename().string());
  return out;
}

// The step column of loss.csv.
std::vector<long> logged_steps(const fs::path& csv) {
  std::ifstream f(csv);
  std::string line;
  std::vector<long> steps;
  std::getline(f, line);  // header
  while (std::getline(f, line)) steps.push_back(std::atol(line.c_str()));
  return steps;
}

class CliTrial : public ::testing::Test {
 protected:
  void SetUp() override {
    if (drift_exe().empty()) GTEST_SKIP() << "the drift program is not built next to the tests";
    dir = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    write_two_class_folder(dir);
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  fs::path dir;
};

}  // namespace

// kill -9 right after a checkpoint, and again while a checkpoint is being
// written, then resume: loss.csv has every step exactly once (the same bytes
// as an uninterrupted run), the checkpoint is the same, no temporary file is
// left, and the killed run's stdout kept its lines (line-buffered).
TEST_F(CliTrial, KillNineAndResumeKeepEveryStepOnce) {
  const int steps = 300;
  Result ref = run(train_args(dir, "ref", steps));
  ASSERT_EQ(ref.status, 0) << ref.output;

  const fs::path out = dir / "trial";
  fs::create_directories(out);
  const int fd = ::inotify_init1(IN_NONBLOCK);
  ASSERT_GE(fd, 0);
  ASSERT_GE(::inotify_add_watch(fd, out.c_str(), IN_CREATE | IN_MOVED_TO), 0);

  // 1. Killed just after the first checkpoint was renamed into place.
  pid_t p1 = spawn(train_args(dir, "trial", steps), dir / "run1.txt");
  ASSERT_TRUE(kill_on_event(fd, IN_MOVED_TO, "checkpoint.safetensors", p1)) << "run 1 was not killed";
  EXPECT_NE(read_all((dir / "run1.txt").string()).find("drift train:"), std::string::npos)
      << "the killed run's stdout lost its first line (not line-buffered)";
  // A temporary checkpoint of a process that no longer exists.
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  std::ofstream(out / ("checkpoint.safetensors.tmp." + std::to_string(gone))) << "half a checkpoint";

  // 2. Resumed, then killed while writing a checkpoint (its temporary file was just created).
  pid_t p2 = spawn("train --out " + out.string() + " --resume --quiet", dir / "run2.txt");
  ASSERT_TRUE(kill_on_event(fd, IN_CREATE, "checkpoint.safetensors.tmp." + std::to_string(p2), p2)) << "run 2 was not killed";
  ::close(fd);
  EXPECT_NE(read_all((dir / "run2.txt").string()).find("removed 1 unfinished checkpoint"), std::string::npos)
      << read_all((dir / "run2.txt").string());
  const bool cut_mid_write = fs::exists(out / ("checkpoint.safetensors.tmp." + std::to_string(p2)));

  // 3. Resumed to the end.
  Result r3 = run("train --out " + out.string() + " --resume");
  ASSERT_EQ(r3.status, 0) << r3.output;
  if (cut_mid_write) {
    EXPECT_NE(r3.output.find("removed 1 unfinished checkpoint"), std::string::npos) << r3.output;
  }

  std::vector<long> logged = logged_steps(out / "loss.csv");
  ASSERT_EQ(logged.size(), static_cast<size_t>(steps));
  for (int i = 0; i < steps; ++i) ASSERT_EQ(logged[i], i + 1) << "row " << i;
  EXPECT_EQ(read_all((out / "loss.csv").string()), read_all((dir / "ref/loss.csv").string()));
  EXPECT_EQ(read_all((out / "checkpoint.safetensors").string()),
            read_all((dir / "ref/checkpoint.safetensors").string()));
  EXPECT_TRUE(temporaries(out).empty()) << temporaries(out).front();
}

TEST_F(CliTrial, ExplodingLossWarnsOrStops) {
  const std::string exploding = " --lr 10 --grad-clip 0";  // the loss goes from 0.8 to about 1e6
  Result warn = run(train_args(dir, "lr", 60) + exploding);
  EXPECT_EQ(warn.status, 0) << warn.output;
  EXPECT_NE(warn.output.find("warning: the loss is diverging"), std::string::npos) << warn.output;
  Result stop = run(train_args(dir, "lr2", 60) + exploding + " --stop-on-divergence");
  EXPECT_NE(stop.status, 0) << stop.output;
  EXPECT_NE(stop.output.find("--stop-on-divergence"), std::string::npos) << stop.output;
  EXPECT_EQ(stop.output.find("-nan"), std::string::npos) << stop.output;
  // A healthy run does not warn.
  Result calm = run(train_args(dir, "calm", 60));
  EXPECT_EQ(calm.status, 0) << calm.output;
  EXPECT_EQ(calm.output.find("diverg"), std::string::npos) << calm.output;
}

TEST_F(CliTrial, SamplingShowsProgressAndChecksOutputsAndOptionsFirst) {
  ASSERT_EQ(run(train_args(dir, "run", 5)).status, 0);
  const std::string ckpt = (dir / "run/checkpoint.safetensors").string();
  Result s = run("sample -c " + ckpt + " --n 2 --steps 7 -o " + (dir / "s.png").string());
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_NE(s.output.find("7/7"), std::string::npos) << s.output;
  EXPECT_NE(s.output.find("ETA"), std::string::npos) << s.output;
  const std::string input = (dir / "data/dark/0.png").string();
  Result i = run("img2img -c " + ckpt + " -i " + input + " --strength 1 --steps 6 --n 2 -o " + (dir / "i.png").string());
  ASSERT_EQ(i.status, 0) << i.output;
  EXPECT_NE(i.output.find("ETA"), std::string::npos) << i.output;
  Result p = run("inpaint -c " + ckpt + " -i " + input + " --steps 5 --n 2 -o " + (dir / "p.png").string());
  ASSERT_EQ(p.status, 0) << p.output;
  EXPECT_NE(p.output.find("5/5"), std::string::npos) << p.output;
  Result q = run("sample -c " + ckpt + " --n 2 --steps 7 --quiet -o " + (dir / "q.png").string());
  EXPECT_EQ(q.output.find("ETA"), std::string::npos) << q.output;

  // A missing output folder is reported before the model is even loaded.
  Result no_dir = run("sample -c " + ckpt + " --sampler ddpm -o " + (dir / "nowhere/s.png").string());
  EXPECT_NE(no_dir.status, 0);
  EXPECT_NE(no_dir.output.find("does not exist"), std::string::npos) << no_dir.output;
  EXPECT_EQ(no_dir.output.find("drift sample:"), std::string::npos) << no_dir.output;
  Result no_dir2 = run("inpaint -c " + ckpt + " -i " + input + " -o " + (dir / "nowhere/p.png").string());
  EXPECT_NE(no_dir2.status, 0);
  EXPECT_NE(no_dir2.output.find("nowhere"), std::string::npos) << no_dir2.output;

  // Guidance needs a class-conditional model.
  Result g = run("sample -c " + ckpt + " --guidance 3 -o " + (dir / "g.png").string());
  EXPECT_NE(g.status, 0);
  EXPECT_NE(g.output.find("unconditional"), std::string::npos) << g.output;
  EXPECT_FALSE(fs::exists(dir / "g.png"));
}

TEST(LossLog, PlotsByStepAndKeepsOnlyRowsUpToTheResumedStep) {
  const fs::path dir = fresh_dir("losslog");
  {
    cli::LossLog log(dir.string(), 0);
    for (int s = 1; s <= 10; ++s) log.add(s, 1.0, 1e-3);
    for (int s = 21; s <= 30; ++s) log.add(s, 2.0, 1e-3);  // steps 11-20 missing
    log.flush();
    std::vector<PlotSeries> c = log.curves();
    ASSERT_EQ(c[0].y.size(), 30u);  // one point per step from 1 to 30
    EXPECT_EQ(c[0].x0, 1.0);
    EXPECT_EQ(c[0].dx, 1.0);
    EXPECT_EQ(c[0].y[9], 1.0);
    EXPECT_TRUE(std::isnan(c[0].y[10]));  // step 11: a gap, not the next row
    EXPECT_EQ(c[0].y[20], 2.0);           // step 21
  }
  {
    cli::LossLog resumed(dir.string(), 25);
    resumed.add(26, 3.0, 1e-3);
    resumed.flush();
  }
  std::vector<long> steps = logged_steps(dir / "loss.csv");
  std::vector<long> want;
  for (long s = 1; s <= 10; ++s) want.push_back(s);
  for (long s = 21; s <= 26; ++s) want.push_back(s);
  EXPECT_EQ(steps, want);
  EXPECT_TRUE(temporaries(dir).empty());
  fs::remove_all(dir);
}

TEST(LossLog, ManyStepsAreBinned) {
  const fs::path dir = fresh_dir("losslog_bins");
  cli::LossLog log(dir.string(), 0);
  for (int s = 1; s <= 10000; ++s) log.add(s, s <= 5000 ? 1.0 : 3.0, 1e-3);
  std::vector<PlotSeries> c = log.curves();
  EXPECT_EQ(c[0].dx, 5.0);
  ASSERT_EQ(c[0].y.size(), 2000u);
  EXPECT_EQ(c[0].x0, 3.0);  // centre of steps 1-5
  EXPECT_EQ(c[0].y[999], 1.0);
  EXPECT_EQ(c[0].y[1000], 3.0);
  fs::remove_all(dir);
}

TEST(DivergenceWatch, WarnsOnceWhenTheLossGrowsAHundredfold) {
  cli::DivergenceWatch calm(10, 100.0);
  for (int s = 1; s <= 1000; ++s) EXPECT_EQ(calm.add(s, 1.0 / std::sqrt(s) * (1 + 0.5 * (s % 3))), "");
  EXPECT_FALSE(calm.diverged());

  cli::DivergenceWatch w(10, 100.0);
  int warnings = 0;
  for (int s = 1; s <= 100; ++s) {
    const double loss = s <= 30 ? 0.9 : 0.9 * std::pow(10.0, (s - 30) / 5.0);  // x10 every 5 steps
    if (!w.add(s, loss).empty()) ++warnings;
  }
  EXPECT_EQ(warnings, 1);
  EXPECT_TRUE(w.diverged());
}

TEST(StaleTemporaries, RemovesThoseOfDeadProcessesOnly) {
  const fs::path dir = fresh_dir("stale");
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  const std::string ckpt = (dir / "checkpoint.safetensors").string();
  std::ofstream(ckpt + ".tmp." + std::to_string(gone)) << "x";
  std::ofstream(ckpt + ".tmp." + std::to_string(::getpid())) << "x";  // a live writer
  std::ofstream(ckpt) << "x";
  std::ofstream(ckpt + ".tmp.notapid") << "x";
  EXPECT_EQ(cli::remove_stale_temporaries(ckpt), 1);
  EXPECT_FALSE(fs::exists(ckpt + ".tmp." + std::to_string(gone)));
  EXPECT_TRUE(fs::exists(ckpt + ".tmp." + std::to_string(::getpid())));
  EXPECT_TRUE(fs::exists(ckpt));
  EXPECT_TRUE(fs::exists(ckpt + ".tmp.notapid"));
  fs::remove_all(dir);
}
