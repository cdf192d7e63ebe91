#pragma once
// Error checks for MPI and NCCL calls: a failure becomes a drift::Error
// naming the call, the library's error string, this process's rank and file:line.
//   DRIFT_MPI_CHECK(MPI_Bcast(buf, n, MPI_BYTE, 0, comm));
//   DRIFT_NCCL_CHECK(ncclAllReduce(...));
#include "tensor/error.h"

namespace drift::dist {
int rank();  // dist/comm.h
}

#define DRIFT_MPI_CHECK(call)                                                                         \
  do {                                                                                                \
    int drift_mpi_rc_ = (call);                                                                       \
    if (drift_mpi_rc_ != MPI_SUCCESS) {                                                               \
      char drift_mpi_msg_[MPI_MAX_ERROR_STRING];                                                      \
      int drift_mpi_len_ = 0;                                                                         \
      MPI_Error_string(drift_mpi_rc_, drift_mpi_msg_, &drift_mpi_len_);                               \
      throw ::drift::Error(::drift::str("rank ", ::drift::dist::rank(), ": MPI call '", #call,        \
                                        "' failed: ", std::string(drift_mpi_msg_, drift_mpi_len_),    \
                                        " [", __FILE__, ":", __LINE__, "]"));                         \
    }                                                                                                 \
  } while (0)

#define DRIFT_NCCL_CHECK(call)                                                                        \
  do {                                                                                                \
    ncclResult_t drift_nccl_rc_ = (call);                                                             \
    if (drift_nccl_rc_ != ncclSuccess)                                                                \
      throw ::drift::Error(::drift::str("rank ", ::drift::dist::rank(), ": NCCL call '", #call,       \
                                        "' failed: ", ncclGetErrorString(drift_nccl_rc_), " [",       \
                                        __FILE__, ":", __LINE__, "]"));                               \
  } while (0)
