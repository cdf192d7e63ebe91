// A small multi-process program for the fault tests (test_distributed_cli.cpp):
// every rank all-reduces in a loop; at step 3 rank 1 fails as told:
//   throw  an exception (the job must end with the rank in the message)
//   kill   SIGKILL, no goodbye (mpirun must end the others)
//   hang   sleeps (the others must give up after DRIFT_DIST_TIMEOUT seconds)
// and prints "finished" only if no fault was injected.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "dist/comm.h"
#include "tensor/ops.h"

using namespace drift;

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "none";
  try {
    dist::init(&argc, &argv);
    for (int step = 0; step < 8; ++step) {
      if (step == 3 && dist::rank() == 1) {
        if (std::strcmp(mode, "throw") == 0) throw Error("injected failure at step 3");
        if (std::strcmp(mode, "kill") == 0) std::raise(SIGKILL);
        if (std::strcmp(mode, "hang") == 0) std::this_thread::sleep_for(std::chrono::seconds(600));
      }
      Tensor t = ops::ones({16});
      dist::world().all_reduce(t, dist::ReduceOp::Sum);
    }
    if (dist::is_root()) std::printf("finished\n");
  } catch (const std::exception& e) {
    dist::abort_job(e.what(), 1);
    return 1;
  }
  dist::finalize();
  return 0;
}
