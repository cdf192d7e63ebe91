// CPU level detection (cpuid via the compiler's __builtin_cpu_supports) and
// the DRIFT_CPU_ISA override. See isa.h.
#include "tensor/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tensor/error.h"

namespace drift::cpu {
namespace {

CpuIsa detect() {
#if defined(DRIFT_X86_KERNELS)
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
    return CpuIsa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::Avx2;
#endif
  return CpuIsa::Generic;
}

// The level from the environment, checked against the CPU (once, at first use).
CpuIsa initial_isa() {
  const CpuIsa best = detected_isa();
  const char* env = std::getenv("DRIFT_CPU_ISA");
  if (!env || !*env) return best;
  const CpuIsa want = parse_isa(env, "DRIFT_CPU_ISA");
  if (static_cast<int>(want) > static_cast<int>(best))
    throw Error(str("DRIFT_CPU_ISA=", env, ": this CPU supports at most '", isa_name(best), "'"));
  return want;
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_isa())};
  return slot;
}

}  // namespace

CpuIsa detected_isa() {
  static const CpuIsa isa = detect();
  return isa;
}

CpuIsa active_isa() { return static_cast<CpuIsa>(active_slot().load(std::memory_order_relaxed)); }

void set_active_isa(CpuIsa isa) {
  const CpuIsa best = detected_isa();
  if (static_cast<int>(isa) > static_cast<int>(best))
    throw Error(str("set_active_isa: this CPU supports at most '", isa_name(best), "', asked for '", isa_name(isa),
                    "'"));
  active_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
}

std::vector<CpuIsa> supported_isas() {
  std::vector<CpuIsa> out;
  for (int i = 0; i <= static_cast<int>(detected_isa()); ++i) out.push_back(static_cast<CpuIsa>(i));
  return out;
}

const char* isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Generic: return "generic";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Avx512: return "avx512";
  }
  return "unknown";
}

CpuIsa parse_isa(const char* text, const char* what) {
  const std::string s = text ? text : "";
  if (s == "generic") return CpuIsa::Generic;
  if (s == "avx2") return CpuIsa::Avx2;
  if (s == "avx512") return CpuIsa::Avx512;
  throw Error(str(what, "='", s, "': expected one of avx512, avx2, generic"));
}

}  // namespace drift::cpu
