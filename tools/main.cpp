// drift: train diffusion models and sample from them.
//   drift train --preset mnist --out runs/mnist
//   drift sample --checkpoint runs/mnist/checkpoint.safetensors --sampler ddim --steps 50
//   drift img2img / inpaint / eval ...      (drift <command> --help for each)
#include <cstdio>

#include "tensor/error.h"
#include "tools/cli.h"
#include "tools/model_io.h"

int main(int argc, char** argv) {
  CLI::App app{"drift: train diffusion models and sample from them (see docs/CLI.md)", "drift"};
  app.set_version_flag("--version", std::string("drift ") + drift::cli::kVersion);
  app.require_subcommand(1);
  app.fallthrough();
  drift::cli::add_train_command(app);
  drift::cli::add_sample_command(app);
  drift::cli::add_edit_commands(app);
  drift::cli::add_eval_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const drift::Error& e) {
    std::fprintf(stderr, "\ndrift: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\ndrift: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
