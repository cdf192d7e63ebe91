// `drift train` under mpirun, end to end, on a tiny image-folder data set:
// only rank 0 writes; 2 processes give the single-process run's losses and
// weights; --resume under mpirun continues bitwise, with 1 process within
// float32 rounding, and a number of processes that does not divide the batch
// is refused. Faults: a rank that throws, dies or hangs ends the job with a
// message naming a rank, in bounded time (every command runs under
// `timeout`), and the last checkpoint stays loadable. Each command starts
// mpirun itself; skipped without MPI or without the drift program.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "cli_run.h"
#include "data/image.h"
#include "nn/safetensors.h"
#include "tensor/ops.h"

namespace fs = std::filesystem;
using namespace drift;
using drift_test::drift_exe;
using drift_test::read_all;
using drift_test::Result;
using drift_test::run_shell;

namespace {

fs::path build_dir() { return fs::read_symlink("/proc/self/exe").parent_path().parent_path(); }
std::string helper_exe() { return (build_dir() / "tests" / "dist_fault_helper").string(); }
// Programs started by mpirun: Open MPI's plugins leak at exit and are unloaded
// before LeakSanitizer reports, so their leaks cannot be suppressed by name; in a
// sanitizer build those programs run without leak detection (address and UB checks stay).
std::string mpi_env() { return "env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "; }
std::string mpirun(int n) {
  return mpi_env() + std::string(DRIFT_MPIEXEC) + " -np " + std::to_string(n) + " --oversubscribe ";
}

// Runs a shell command under `timeout` (tests/cli_run.h), so that a hang fails instead of blocking.
Result run(const std::string& cmd, int limit_s = 300) { return run_shell(cmd, limit_s); }

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// (step, loss) rows of a loss.csv.
std::vector<double> losses(const fs::path& csv) {
  std::vector<double> out;
  std::istringstream in(read_all(csv));
  std::string line;
  while (std::getline(in, line)) {
    long long step;
    double loss, lr;
    if (std::sscanf(line.c_str(), "%lld,%lf,%lf", &step, &loss, &lr) == 3) out.push_back(loss);
  }
  return out;
}

// How far apart two checkpoints are, over all their float tensors (weights,
// EMA, AdamW moments): largest and root-mean-square difference, where the
// largest is, and whether they are bitwise equal; max < 0 if names or shapes differ.
struct Diff {
  double max = -1, rms = 0;
  std::string where;
  bool bitwise = false;
};
Diff compare(const fs::path& a, const fs::path& b) {
  nn::SafetensorsContents x = nn::load_safetensors(a.string()), y = nn::load_safetensors(b.string());
  Diff d;
  if (x.tensors.size() != y.tensors.size()) return d;
  d.max = 0;
  d.bitwise = true;
  double sq = 0, n = 0;
  for (size_t i = 0; i < x.tensors.size(); ++i) {
    const Tensor &s = x.tensors[i].second, &t = y.tensors[i].second;
    if (x.tensors[i].first != y.tensors[i].first || s.shape() != t.shape()) return Diff{};
    std::vector<double> u = ops::to_vector_f64(s), v = ops::to_vector_f64(t);
    for (size_t k = 0; k < u.size(); ++k) {
      const double e = std::abs(u[k] - v[k]);
      if (e > d.max) d.where = x.tensors[i].first;
      d.max = std::max(d.max, e);
      d.bitwise = d.bitwise && u[k] == v[k];
      sq += e * e;
      n += 1;
    }
  }
  d.rms = n > 0 ? std::sqrt(sq / n) : 0;
  return d;
}

class DistributedCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(DRIFT_MPIEXEC).empty()) GTEST_SKIP() << "drift was built without MPI";
    if (!fs::exists(drift_exe())) GTEST_SKIP() << "the drift program is not built";
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    dir = fs::temp_directory_path() / ("drift_dist_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    for (const char* cls : {"dark", "bright"}) fs::create_directories(dir / "data" / cls);
    // Textured images (dark and bright classes): flat ones would leave many
    // gradients at rounding level, which AdamW's normalisation blows up.
    for (int i = 0; i < 8; ++i) {
      Image a(8, 8, 1), b(8, 8, 1);
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) {
          const int v = (i * 37 + x * 11 + y * 29 + x * y * 5) % 64;
          a.at(x, y, 0) = static_cast<uint8_t>(10 + v);
          b.at(x, y, 0) = static_cast<uint8_t>(180 + v);
        }
      write_png((dir / "data" / "dark" / (std::to_string(i) + ".png")).string(), a);
      write_png((dir / "data" / "bright" / (std::to_string(i) + ".png")).string(), b);
    }
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  // drift train arguments; `out` relative to the current folder unless absolute.
  std::string train(const std::string& out, int steps, const std::string& extra = "") const {
    return drift_exe() + " train --preset tiny --data folder --data-path " + (dir / "data").string() + " --out " +
           out + " --steps " + std::to_string(steps) +
           " --batch-size 4 --sample-every 2 --sample-count 4 --checkpoint-every 2 --log-every 1 --quiet " + extra;
  }
  fs::path dir;
};

}  // namespace

// Rank 1 runs in another folder: with a relative --out it would write there
// if it wrote anything.
TEST_F(DistributedCli, OnlyRankZeroWrites) {
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  // (with post-hoc EMA snapshots: the tracked profiles are in the replica check, the files rank 0's)
  const std::string args = train("run", 2, "--posthoc-ema-every 1");
  Result r = run(mpi_env() + std::string(DRIFT_MPIEXEC) + " -np 1 --wdir " + (dir / "a").string() + " " + args +
                 " : -np 1 --wdir " + (dir / "b").string() + " " + args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "a" / "run" / "checkpoint.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "a" / "run" / "ema_snapshots" / "step_0000002_sigma_rel_0.1000.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "a" / "run" / "loss.csv"));
  EXPECT_TRUE(fs::exists(dir / "a" / "run" / "samples" / "step_0000002.png"));
  EXPECT_TRUE(fs::is_empty(dir / "b")) << "rank 1 wrote files";
  EXPECT_EQ(count(r.output, "drift train:"), 1u) << r.output;  // one header: rank 0 prints
  EXPECT_EQ(count(r.output, "data-parallel: 2 processes"), 1u) << r.output;
}

// 2 processes at 2 images each = 1 process at 4 (float32 rounding: the rms
// difference of weights, EMA and AdamW moments under 1e-5, 1% of one step of
// lr 1e-3, after 4 steps; see test_distributed_training.cpp for why not the max); resuming under mpirun is bitwise
// the uninterrupted run; resuming the 2-process checkpoint with 1 process
// keeps the global batch; 3 processes cannot split a batch of 4.
TEST_F(DistributedCli, MatchesOneProcessAndResumes) {
  const fs::path one = dir / "one", full = dir / "full", part = dir / "part", part1 = dir / "part1";
  Result r = run(train(one.string(), 4));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run(mpirun(2) + train(full.string(), 4));
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<double> l1 = losses(one / "loss.csv"), l2 = losses(full / "loss.csv");
  ASSERT_EQ(l1.size(), 4u);
  ASSERT_EQ(l2.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(l2[i], l1[i], 1e-4 * l1[i]) << "step " << i + 1;
  const Diff d12 = compare(one / "checkpoint.safetensors", full / "checkpoint.safetensors");
  EXPECT_GE(d12.max, 0);
  EXPECT_LE(d12.rms, 1e-5);
  std::printf("2 processes vs 1: difference over weights, EMA and AdamW moments: rms %.3g, max %.3g (%s)\n",
              d12.rms, d12.max, d12.where.c_str());

  r = run(mpirun(2) + train(part.string(), 2));
  ASSERT_EQ(r.status, 0) << r.output;
  fs::copy(part, part1, fs::copy_options::recursive);
  r = run(mpirun(2) + drift_exe() + " train --out " + part.string() + " --resume --steps 4 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  const Diff resumed = compare(full / "checkpoint.safetensors", part / "checkpoint.safetensors");
  EXPECT_EQ(resumed.max, 0.0);
  EXPECT_TRUE(resumed.bitwise);
  EXPECT_EQ(read_all(full / "loss.csv"), read_all(part / "loss.csv"));

  r = run(drift_exe() + " train --out " + part1.string() + " --resume --steps 4 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  const Diff resumed1 = compare(full / "checkpoint.safetensors", part1 / "checkpoint.safetensors");
  EXPECT_GE(resumed1.max, 0);
  EXPECT_LE(resumed1.rms, 1e-5);

  r = run(mpirun(3) + drift_exe() + " train --out " + part1.string() + " --resume --steps 6 --quiet");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("3 processes do not divide it"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("resume with a number of processes that divides it"), std::string::npos);
}

TEST_F(DistributedCli, ARankThatThrowsEndsTheJob) {
  Result r = run(mpirun(2) + helper_exe() + " throw", 120);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("error on rank 1 of 2: injected failure at step 3"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("finished"), std::string::npos);
  Result ok = run(mpirun(2) + helper_exe() + " none", 120);
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("finished"), std::string::npos);
}

TEST_F(DistributedCli, ARankThatDiesEndsTheJob) {
  Result r = run(mpirun(2) + helper_exe() + " kill", 120);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(WEXITSTATUS(r.status), 124) << "timed out instead of ending: " << r.output;
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("finished"), std::string::npos);
}

TEST_F(DistributedCli, ARankThatHangsEndsTheJobAfterTheTimeout) {
  Result r = run("env DRIFT_DIST_TIMEOUT=3 " + mpirun(2) + helper_exe() + " hang", 120);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(WEXITSTATUS(r.status), 124) << "timed out instead of ending: " << r.output;
  EXPECT_NE(r.output.find("error on rank 0 of 2: all_reduce did not complete within 3 s"), std::string::npos)
      << r.output;
}

// Rank 1 of a real training run is killed (SIGKILL) after the first
// checkpoint: mpirun ends the job naming the rank, and the checkpoint, written
// atomically by rank 0, still loads and samples.
TEST_F(DistributedCli, AKilledRankLeavesALoadableCheckpoint) {
  const fs::path out = dir / "run", log = dir / "log", script = dir / "kill.sh";
  std::ofstream(script) << "OMP_NUM_THREADS=1 " << mpirun(2) << train(out.string(), 100000) << " > " << log.string()
                        << " 2>&1 &\n"
                        << "m=$!\n"
                        << "for i in $(seq 1200); do [ -f " << (out / "checkpoint.safetensors").string()
                        << " ] && break; sleep 0.1; done\n"
                        // the children of this mpirun, and among them rank 1 (from its environment)
                        << "for s in /proc/[0-9]*/stat; do read -r pid comm state ppid rest < $s 2>/dev/null || continue\n"
                        << "  [ \"$ppid\" = \"$m\" ] || continue\n"
                        << "  if tr '\\0' '\\n' < /proc/$pid/environ | grep -qx OMPI_COMM_WORLD_RANK=1; then kill -9 $pid; "
                           "echo killed rank 1; fi\n"
                        << "done\n"
                        << "wait $m; echo mpirun exit status $?\n";
  Result r = run("bash " + script.string(), 300);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("killed rank 1"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("mpirun exit status 0"), std::string::npos) << r.output;
  const std::string mpi_log = read_all(log);
  EXPECT_NE(mpi_log.find("rank 1"), std::string::npos) << mpi_log;
  EXPECT_EQ(mpi_log.find("done:"), std::string::npos) << mpi_log;  // the run did not finish

  Result s = run(drift_exe() + " sample -c " + (out / "checkpoint.safetensors").string() + " --n 2 --steps 2 -o " +
                 (dir / "s.png").string());
  EXPECT_EQ(s.status, 0) << s.output;
  EXPECT_TRUE(fs::exists(dir / "s.png"));
}

// drift sample and drift eval under mpirun split the images over the
// processes (here 5 over 2: 2 + 3) and give the one-process images and scores.
TEST_F(DistributedCli, SampleAndEvalEqualOneProcess) {
  const fs::path run_dir = dir / "run", ckpt = dir / "run" / "checkpoint.safetensors";
  Result r = run(train(run_dir.string(), 2));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* sampler : {"sde", "ddim --eta 1"}) {
    const std::string args = " sample -c " + ckpt.string() + " --sampler " + sampler + " --steps 4 --n 5 --seed 3 -o ";
    r = run(drift_exe() + args + (dir / "one.png").string());
    ASSERT_EQ(r.status, 0) << r.output;
    r = run(mpirun(2) + drift_exe() + args + (dir / "two.png").string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("split over 2 processes"), std::string::npos) << r.output;
    EXPECT_EQ(read_all(dir / "one.png"), read_all(dir / "two.png")) << sampler;
  }
  const std::string eval = " eval -c " + ckpt.string() + " --data-path " + (dir / "data").string() +
                           " --classifier-steps 5 --n 6 --batch 4 --steps 3";
  Result one = run(drift_exe() + eval), two = run(mpirun(2) + drift_exe() + eval);
  ASSERT_EQ(one.status, 0) << one.output;
  ASSERT_EQ(two.status, 0) << two.output;
  auto line = [](const std::string& out) {
    const size_t at = out.find("Fréchet classifier distance");
    return at == std::string::npos ? std::string("(missing)") : out.substr(at, out.find('\n', at) - at);
  };
  EXPECT_EQ(line(one.output), line(two.output)) << two.output;
  EXPECT_NE(line(one.output), "(missing)") << one.output;

  r = run(mpirun(2) + drift_exe() + " sample -c " + ckpt.string() + " --sampler pc --steps 2 --n 4 -o " +
          (dir / "pc.png").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("cannot be split over processes"), std::string::npos) << r.output;
}
