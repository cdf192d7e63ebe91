#include "tensor/profiler.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "tensor/cpu/isa.h"

namespace drift::profiler {

namespace {

struct Entry {
  int64_t calls = 0;
  double seconds = 0;
};

struct State {
  std::mutex mu;
  std::map<std::string, Entry> entries;  // key: "Op", "Op [cuda]", with shapes "Op [a shape] x [b shape]"
  ~State() {
    // Printed when the program exits (static destruction).
    std::string r = report_locked();
    if (!r.empty()) std::fputs(r.c_str(), stderr);
  }
  std::string report_locked() {
    if (entries.empty()) return "";
    std::vector<std::pair<std::string, Entry>> rows(entries.begin(), entries.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0;
    for (const auto& r : rows) total += r.second.seconds;
    std::ostringstream os;
    char line[512];
    std::snprintf(line, sizeof line,
                  "\ndrift profile (DRIFT_PROFILE): %.1f ms in kernels, CPU kernels: %s\n%10s %12s %7s  %s\n",
                  total * 1e3, cpu::isa_name(cpu::active_isa()), "calls", "total ms", "share", "op");
    os << line;
    for (const auto& r : rows) {
      std::snprintf(line, sizeof line, "%10lld %12.2f %6.1f%%  %s\n", static_cast<long long>(r.second.calls),
                    r.second.seconds * 1e3, total > 0 ? 100.0 * r.second.seconds / total : 0.0, r.first.c_str());
      os << line;
    }
    return os.str();
  }
};

State& state() {
  static State s;
  return s;
}

std::string key_of(OpKind op, Device device, const KernelArgs& args) {
  std::string k = op_name(op);
  if (device != Device::CPU) k += std::string(" [") + device_name(device) + "]";
  if (mode() == Mode::Shapes) {
    const Tensor* t = args.in[0] ? args.in[0] : args.out[0];
    if (t) k += " " + shape_str(t->shape());
    if (args.in[1]) k += " x " + shape_str(args.in[1]->shape());
  }
  return k;
}

}  // namespace

Mode mode() {
  static const Mode m = [] {
    const char* v = std::getenv("DRIFT_PROFILE");
    if (!v || !*v || std::strcmp(v, "0") == 0) return Mode::Off;
    if (std::strcmp(v, "shapes") == 0) return Mode::Shapes;
    return Mode::Ops;
  }();
  return m;
}

void record(OpKind op, Device device, const KernelArgs& args, double seconds) {
  State& s = state();
  const std::string k = key_of(op, device, args);
  std::lock_guard<std::mutex> lock(s.mu);
  Entry& e = s.entries[k];
  e.calls += 1;
  e.seconds += seconds;
}

std::string report() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.report_locked();
}

void reset() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.entries.clear();
}

}  // namespace drift::profiler
