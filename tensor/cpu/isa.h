#pragma once
// CPU instruction-set levels and runtime dispatch.
//
// One build runs on any x86-64 CPU: the kernels for each level live in
// tensor/cpu/avx2/*.cpp (compiled with -mavx2 -mfma) and tensor/cpu/avx512/*.cpp
// (-mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma); the portable code in
// tensor/cpu/*.cpp is the reference and the fallback (non-x86 builds have
// only it). A kernel reads active_isa() once per call and picks its path.
//
// active_isa() is the best level the CPU supports (cpuid), unless the
// environment variable DRIFT_CPU_ISA=avx512|avx2|generic asks for a lower one
// (so that every path can be tested on an AVX-512 machine). An unknown value,
// or a level the CPU lacks, is an error naming the variable.
#include <vector>

namespace drift::cpu {

enum class CpuIsa { Generic = 0, Avx2 = 1, Avx512 = 2 };  // Avx2: AVX2+FMA; Avx512: AVX-512F/DQ/BW/VL

CpuIsa detected_isa();                 // best level this CPU supports
CpuIsa active_isa();                   // the level kernels use now
void set_active_isa(CpuIsa isa);       // for tests/benches; throws drift::Error if the CPU lacks it
std::vector<CpuIsa> supported_isas();  // every level <= detected_isa(), ascending
const char* isa_name(CpuIsa isa);      // "generic", "avx2", "avx512"

// Parses "generic" | "avx2" | "avx512" (as DRIFT_CPU_ISA does); throws drift::Error
// naming `what` for anything else.
CpuIsa parse_isa(const char* text, const char* what);

}  // namespace drift::cpu

// The namespace that code shared between levels is compiled into: CMake sets
// DRIFT_ISA_NS=avx2 / avx512 for the files in tensor/cpu/avx2 and tensor/cpu/avx512,
// so each level's copy of a shared inline function or template has its own name
// (the linker can never pick an AVX-512 copy for the portable code).
#ifndef DRIFT_ISA_NS
#define DRIFT_ISA_NS generic
#endif

// Whether the ISA-specific kernel files are compiled into this build (x86-64 only).
#if defined(__x86_64__) || defined(_M_X64)
#define DRIFT_X86_KERNELS 1
#endif
