#pragma once
// Shared by the fuzz harnesses (fuzz_<name>.cpp). Each harness defines
// LLVMFuzzerTestOneInput and checks one rule: a parser given any bytes either
// returns a well-formed result or throws drift::Error. Any other exception
// (uncaught: libFuzzer reports it), a crash, a sanitizer report or a failed
// FUZZ_CHECK is a bug. The same harness runs under libFuzzer (DRIFT_FUZZ
// build) and over the stored corpus as the test "fuzz.<name>" (replay_main.cpp).
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace drift::fuzz {

// Stops the run with a message when a property of a successful parse fails.
#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

// The parsers take paths, so the input is written to a file of this process,
// "<dir>/drift_fuzz_<pid>_<name>", removed when the process exits. The
// folder is /dev/shm where it exists (memory: no disk I/O, fsync is free),
// else the temporary folder.
inline std::string input_file(const uint8_t* data, size_t size, const std::string& name) {
  static const std::string dir = [] {
    std::error_code ec;
    if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) return std::string("/dev/shm");
    return std::filesystem::temp_directory_path().string();
  }();
  static std::vector<std::string>* written = [] {
    std::atexit([] {
      for (const std::string& p : *written) std::remove(p.c_str());
    });
    return new std::vector<std::string>;  // never freed: used until exit
  }();
  const std::string path = dir + "/drift_fuzz_" + std::to_string(::getpid()) + "_" + name;
  if (std::find(written->begin(), written->end(), path) == written->end()) written->push_back(path);
  FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  FUZZ_CHECK(size == 0 || std::fwrite(data, 1, size, f) == size);
  FUZZ_CHECK(std::fclose(f) == 0);
  return path;
}

}  // namespace drift::fuzz
