#pragma once
// Collective communication between the processes of a data-parallel run
// (see docs/DISTRIBUTED.md). One interface, three implementations:
//   single  one process (no MPI, or run without mpirun): every collective is the identity;
//   mpi     Open MPI collectives on CPU tensors (CUDA tensors are staged through the host);
//   nccl    NCCL collectives on CUDA tensors (ncclUniqueId broadcast over MPI, as llm.c does).
// Every rank must call the same collectives in the same order with tensors of
// the same shape and dtype (the MPI rule); tensors are contiguous.
#include <cstdint>
#include <memory>
#include <string>

#include "tensor/tensor.h"

namespace drift::dist {

enum class ReduceOp { Sum, Mean };

// A collective in flight. wait() blocks until it is done (and throws if it
// failed); test() returns whether it is done, moving it forward meanwhile.
class Work {
 public:
  virtual ~Work() = default;
  virtual bool test() = 0;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const char* name() const = 0;  // "single", "mpi" or "nccl"

  // t <- sum (or mean) over ranks of t, in place; started now, finished by
  // the returned Work's wait(). t must stay alive and untouched until then.
  // Mean is for floating-point tensors only.
  virtual std::unique_ptr<Work> all_reduce_async(Tensor& t, ReduceOp op) = 0;
  void all_reduce(Tensor& t, ReduceOp op) { all_reduce_async(t, op)->wait(); }
  // t <- rank root's t on every rank.
  virtual void broadcast(Tensor& t, int root) = 0;
  // [n, ...] from every rank -> [size * n, ...] in rank order, on every rank.
  virtual Tensor all_gather(const Tensor& t) = 0;
  virtual void barrier() = 0;
};

// The communicator of one process alone.
std::unique_ptr<Communicator> make_single();

// ---------------------------------------------------------------- the process's runtime

// Starts MPI when the program was launched by mpirun (and drift was built
// with MPI); otherwise the run is a single process. Idempotent. Also:
//   * MPI errors return instead of aborting (so they become drift::Error
//     naming the rank and the call);
//   * unless OMP_NUM_THREADS is set, OpenMP threads = cores / processes on this node;
//   * with CUDA, rank -> device: local rank modulo the number of GPUs.
void init(int* argc, char*** argv);
// Ends MPI (after init; no-op otherwise).
void finalize();
bool mpi_available();  // built with MPI
bool launched_by_mpirun();
// MPI is running (init under mpirun), even with one process: then a CUDA run
// uses NCCL, so `mpirun -np 1` on one GPU exercises the NCCL path.
bool mpi_started();

// The communicator over all processes (a single-process one before init or without MPI).
Communicator& world();
int rank();
int world_size();
bool is_root();  // rank 0: the only process that writes files or prints progress
// Rank among the processes of this machine, and their number.
int local_rank();
int local_size();

// The communicator for tensors on `device`: NCCL for CUDA tensors when built
// with NCCL and running on GPUs, else the world communicator (MPI).
Communicator& for_device(Device device);

// Ends every process of the job after an error on this one: prints `message`
// with this rank, then MPI_Abort (the others are stopped by mpirun with the
// rank named). Single process: nothing (the caller returns its exit code).
void abort_job(const std::string& message, int code);

// Throws on every rank unless all ranks pass the same 64-bit value
// (e.g. a hash of the parameters); the message names `what` and the ranks that differ.
void check_same(uint64_t value, const std::string& what);
// FNV-1a hash of the bytes of the tensors (copied to the host).
uint64_t hash_tensors(const std::vector<Tensor>& ts);

}  // namespace drift::dist
