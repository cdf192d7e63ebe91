// drift-test-ops: the op-test registry (tests/op_cases.h) outside ctest.
//
//   build/drift-test-ops value   [-o OP]   every case vs its float64 reference, each CPU variant
//   build/drift-test-ops backend [-o OP]   CUDA (each kernel variant) vs the CPU
//   build/drift-test-ops grad    [-o OP]   gradcheck (CPU, and CUDA when present), CUDA vs CPU gradients
//   build/drift-test-ops perf    [-o OP] [-d cpu|cuda] [-t float32|float64] [--min-time S]
//   build/drift-test-ops list               the ops and functions with their case counts, the CPU variants
//
// OP is an OpKind name (Conv2d) or a function name (conv2d); case-insensitive.
// Exit status 1 if any check fails.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "tensor/backend.h"
#include "tests/op_harness.h"

using namespace drift;
using namespace drift::optest;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool selected(const OpCase& c, const std::string& filter) {
  if (filter.empty()) return true;
  return lower(c.op) == lower(filter) || lower(c.op.substr(0, c.op.find('('))) == lower(filter);
}

int usage() {
  std::fprintf(stderr,
               "usage: drift-test-ops value|backend|grad|perf|list [-o OP] [-d cpu|cuda] [-t float32|float64] "
               "[--min-time S]\n");
  return 2;
}

int report(const Check& r, int& failures) {
  if (!r.ok) {
    ++failures;
    std::printf("FAIL %s\n", r.message.c_str());
  }
  return r.ok ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  std::string filter, device = "cpu", dtype = "float32";
  double min_time = 0.3;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    if (a == "-o") filter = argv[++i];
    else if (a == "-d") device = argv[++i];
    else if (a == "-t") dtype = argv[++i];
    else if (a == "--min-time") min_time = std::atof(argv[++i]);
    else return usage();
  }
  const bool have_cuda = backend_available(Device::CUDA);
  int failures = 0, passed = 0, matched = 0;
  try {
    if (mode == "list") {
      std::map<std::string, int> count;
      for (const OpCase& c : all_cases()) ++count[c.op];
      for (const auto& [op, n] : count) std::printf("%-55s %d\n", op.c_str(), n);
      std::printf("cpu variants:");
      for (const Variant& v : cpu_variants()) std::printf(" %s", v.name.c_str());
      std::printf("\n");
      return 0;
    }
    if (mode == "perf") {
      const Device d = device == "cuda" ? Device::CUDA : Device::CPU;
      const DType dt = dtype == "float64" ? DType::Float64 : DType::Float32;
      std::printf("%-22s %-58s %12s %10s %10s\n", "op", "case", "us/call", "GB/s", "GFLOP/s");
      for (const OpCase& c : all_cases()) {
        if (!selected(c, filter) || !has_dtype(c, dt)) continue;
        ++matched;
        Perf p = measure(c, dt, d, min_time);
        std::printf("%-22s %-58s %12.1f %10s %10s\n", c.op.substr(0, 22).c_str(), c.what.substr(0, 58).c_str(),
                    p.seconds * 1e6, c.bytes > 0 ? std::to_string(p.gbps).substr(0, 7).c_str() : "-",
                    c.flops > 0 ? std::to_string(p.gflops).substr(0, 7).c_str() : "-");
      }
      std::printf("(%s, %s)\n", device_name(d), dtype_name(dt));
    } else if (mode == "value") {
      for (const OpCase& c : all_cases()) {
        if (!selected(c, filter) || !c.ref || c.perf_only) continue;
        ++matched;
        for (const Variant& v : cpu_variants())
          for (DType dt : c.dtypes) passed += report(under(v, [&] { return check_value(c, dt); }), failures);
      }
    } else if (mode == "backend") {
      if (!have_cuda) std::printf("no CUDA device: nothing to compare\n");
      for (const OpCase& c : all_cases()) {
        if (!have_cuda || !selected(c, filter) || c.grad || c.perf_only) continue;
        ++matched;
        for (const Variant& v : backend_variants(Device::CUDA))
          for (DType dt : c.dtypes)
            passed += report(under(v, [&] { return check_backend(c, dt, Device::CUDA); }), failures);
      }
    } else if (mode == "grad") {
      for (const OpCase& c : all_cases()) {
        if (!selected(c, filter) || !c.grad) continue;
        ++matched;
        passed += report(check_grad(c, Device::CPU), failures);
        if (!have_cuda) continue;
        passed += report(check_grad(c, Device::CUDA), failures);
        for (DType dt : c.dtypes) passed += report(check_grad_backend(c, dt, Device::CUDA), failures);
      }
    } else {
      return usage();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "drift-test-ops: %s\n", e.what());
    return 1;
  }
  if (matched == 0 && !(mode == "backend" && !have_cuda)) {
    std::fprintf(stderr, "drift-test-ops: no case matches '%s' in mode %s\n", filter.c_str(), mode.c_str());
    return 1;
  }
  if (mode != "perf") std::printf("%s: %d cases, %d checks passed, %d failed\n", mode.c_str(), matched, passed, failures);
  return failures ? 1 : 0;
}
