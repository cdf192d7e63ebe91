#pragma once
// Shared between the communicator implementations (not part of the interface).
#include <chrono>
#include <memory>

#include "dist/comm.h"

namespace drift::dist::detail {

// Seconds a collective may wait for the other ranks before the job is ended
// (DRIFT_DIST_TIMEOUT, default 600): a rank that hangs, or dies without
// mpirun noticing, cannot make the others wait forever.
double timeout_seconds();

// Checks a tensor handed to a collective: defined, contiguous, at most 2^31-1 elements.
void check_tensor(const Tensor& t, const char* call);

// x <- x / n for a floating-point tensor (CPU or CUDA).
void divide_(Tensor& t, int n);

#ifdef DRIFT_HAVE_MPI
std::unique_ptr<Communicator> make_mpi_world();  // dist/mpi_comm.cpp
#endif
#ifdef DRIFT_HAVE_NCCL
std::unique_ptr<Communicator> make_nccl(Communicator& mpi, int local_rank);  // dist/nccl_comm.cpp
#endif

}  // namespace drift::dist::detail
