#pragma once
// A per-op profiler in the dispatch layer (tensor/backend.cpp): with the
// environment variable DRIFT_PROFILE set, every kernel call is timed and a
// table (calls, total ms, share, per op) is printed to stderr when the
// program exits. DRIFT_PROFILE=shapes splits each op by its first input's
// shape, which tells e.g. which convolution is slow.
//
//   DRIFT_PROFILE=1 build/bench/bench_unet --config cifar --steps 3 --sample-runs 0
//
// Wall-clock time around the kernel; on CUDA the device is synchronised
// before and after each kernel while profiling (so times are real, and the
// program runs slower). Frontend work (shape checks, allocation, autograd
// bookkeeping) is not inside any op: compare the table's total with the
// program's own wall time to see it.
#include <string>

#include "tensor/backend.h"

namespace drift::profiler {

enum class Mode { Off, Ops, Shapes };

// Read once from DRIFT_PROFILE: unset/""/"0" = Off, "shapes" = Shapes, anything else = Ops.
Mode mode();

// Records one kernel call of `seconds` (called by dispatch()).
void record(OpKind op, Device device, const KernelArgs& args, double seconds);

// The table so far, as printed at exit ("" when nothing was recorded).
std::string report();

// Forgets everything recorded so far (e.g. after warm-up).
void reset();

}  // namespace drift::profiler
