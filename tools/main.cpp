// drift: train diffusion models and sample from them.
//   drift train --preset mnist --out runs/mnist
//   drift sample --checkpoint runs/mnist/checkpoint.safetensors --sampler ddim --steps 50
//   drift data get mnist                      (into the per-user data folder)
//   drift img2img / inpaint / eval ...      (drift <command> --help for each)
//   drift ema --run runs/mnist --sigma-rel 0.07 -o ema.safetensors   (post-hoc EMA)
//   mpirun -np 4 drift train ...            (data-parallel, docs/DISTRIBUTED.md)
#include <cstdio>

#include "dist/comm.h"
#include "tensor/cpu/isa.h"
#include "tensor/error.h"
#include "tools/cli.h"
#include "tools/model_io.h"

int main(int argc, char** argv) {
  // Line-buffered even into a file or pipe: a log shows every finished line at once.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"drift: train diffusion models and sample from them (see docs/CLI.md)", "drift"};
  // The version line names the CPU kernel level (tensor/cpu/isa.h); a bad
  // DRIFT_CPU_ISA is reported here, before any work starts.
  std::string version;
  try {
    version = std::string("drift ") + drift::cli::kVersion + " (CPU kernels: " +
              drift::cpu::isa_name(drift::cpu::active_isa()) + ", best on this CPU: " +
              drift::cpu::isa_name(drift::cpu::detected_isa()) + ")";
  } catch (const drift::Error& e) {
    std::fprintf(stderr, "drift: error: %s\n", e.what());
    return 1;
  }
  app.set_version_flag("--version", version);
  app.require_subcommand(1);
  app.fallthrough();
  drift::cli::add_train_command(app);
  drift::cli::add_sample_command(app);
  drift::cli::add_edit_commands(app);
  drift::cli::add_eval_command(app);
  drift::cli::add_data_command(app);
  drift::cli::add_ema_command(app);
  // Under mpirun: one process per rank. An error on any rank ends the whole
  // job (MPI_Abort) with the rank in the message, so no rank waits forever.
  auto fail = [](const char* what) {
    if (drift::dist::world_size() > 1) drift::dist::abort_job(what, 1);
    std::fprintf(stderr, "\ndrift: error: %s\n", what);
    return 1;
  };
  try {
    drift::dist::init(&argc, &argv);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = drift::dist::is_root() ? app.exit(e) : (e.get_exit_code() != 0);
    drift::dist::finalize();
    return rc;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  drift::dist::finalize();
  return 0;
}
