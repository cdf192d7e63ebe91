#pragma once
// Running the `drift` program (built next to the tests) from a test, and
// the tiny image-folder data set the CLI tests train on.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "data/image.h"

namespace drift_test {

namespace fs = std::filesystem;

inline std::string drift_exe() {
  fs::path self = fs::read_symlink("/proc/self/exe");
  fs::path exe = self.parent_path().parent_path() / "drift";  // build/tests/x -> build/drift
  return fs::exists(exe) ? exe.string() : "";
}

struct Result {
  int status;
  std::string output;
};

// Runs a shell command line with one OpenMP thread, stdout and stderr
// together; with limit_s > 0 under `timeout`, so that a hang fails the test
// (status 124) instead of blocking it.
inline Result run_shell(const std::string& cmd, int limit_s = 0) {
  // One thread: these problems are tiny, and on a busy machine OpenMP
  // barriers between two threads would cost more than the work.
  std::string full = "OMP_NUM_THREADS=1 ";
  if (limit_s > 0) full += "timeout " + std::to_string(limit_s) + " ";
  full += cmd + " 2>&1";
  Result r{-1, ""};
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  r.status = ::pclose(p);
  return r;
}

// `env`: extra VAR=value settings for this run (may be empty).
inline Result run_env(const std::string& env, const std::string& args) {
  return run_shell(env + " " + drift_exe() + " " + args);
}
inline Result run(const std::string& args) { return run_env("", args); }

inline std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Two classes of 8x8 grey images, dark squares and bright squares, in dir/data/{dark,bright}.
inline void write_two_class_folder(const fs::path& dir) {
  fs::create_directories(dir / "data" / "dark");
  fs::create_directories(dir / "data" / "bright");
  for (int i = 0; i < 8; ++i) {
    drift::Image a(8, 8, 1, static_cast<uint8_t>(20 + i)), b(8, 8, 1, static_cast<uint8_t>(220 - i));
    drift::write_png((dir / "data" / "dark" / (std::to_string(i) + ".png")).string(), a);
    drift::write_png((dir / "data" / "bright" / (std::to_string(i) + ".png")).string(), b);
  }
}

// A test with its own temporary folder `dir` holding the two-class data set
// (dir/data); skips when the drift program is not built next to the tests.
class CliFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (drift_exe().empty()) GTEST_SKIP() << "the drift program is not built next to the tests";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir = fs::temp_directory_path() /
          (std::string("drift_") + info->test_suite_name() + "_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir);
    write_two_class_folder(dir);
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  fs::path dir;
};

}  // namespace drift_test
