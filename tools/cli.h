#pragma once
// The `drift` command-line tool: one program, one subcommand per file
// (tools/cmd_<name>.cpp). Each file registers its subcommand, options and
// callback on the CLI11 application.
#include <CLI/CLI.hpp>

namespace drift::cli {

void add_train_command(CLI::App& app);    // cmd_train.cpp
void add_sample_command(CLI::App& app);   // cmd_sample.cpp
void add_edit_commands(CLI::App& app);    // cmd_edit.cpp: img2img, inpaint
void add_eval_command(CLI::App& app);     // cmd_eval.cpp
void add_data_command(CLI::App& app);     // cmd_data.cpp: data get, data where
void add_ema_command(CLI::App& app);      // cmd_ema.cpp: post-hoc EMA reconstruction

}  // namespace drift::cli
