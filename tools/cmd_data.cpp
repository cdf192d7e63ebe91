// drift data: the per-user data folder.
//   drift data get mnist [fashion-mnist cifar10]   downloads, checks, resumes
//   drift data where                               where each data set is read from
// The folder is $DRIFT_DATA, else $XDG_DATA_HOME/drift, else
// ~/.local/share/drift (data/download.h); `drift train --data NAME` reads
// from it when no --data-path is given.
#include <chrono>
#include <cstdio>
#include <memory>

#include "data/download.h"
#include "tensor/error.h"
#include "tools/cli.h"

namespace drift::cli {

namespace {

struct DataArgs {
  std::vector<std::string> names;
  std::string dir;  // default: data_home()
  bool quiet = false;
};

// "file  12.3 / 45.6 MB  27%" on stderr, redrawn at most ~10 times a second.
DownloadProgress progress_printer() {
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  auto last_file = std::make_shared<std::string>();
  return [last, last_file](const std::string& file, int64_t done, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    const bool finished = total > 0 && done >= total;
    if (file == *last_file && !finished && now - *last < std::chrono::milliseconds(100)) return;
    *last = now;
    *last_file = file;
    const double mb = 1e-6;
    if (total > 0)
      std::fprintf(stderr, "\r  %-28s %7.1f / %.1f MB %3d%%", file.c_str(), static_cast<double>(done) * mb,
                   static_cast<double>(total) * mb, static_cast<int>(100 * done / total));
    else
      std::fprintf(stderr, "\r  %-28s %7.1f MB", file.c_str(), static_cast<double>(done) * mb);
    if (finished) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

void run_get(const DataArgs& a) {
  const std::string base = a.dir.empty() ? data_home() : a.dir;
  for (const std::string& name : a.names) {
    const DataSetSource& src = dataset_source(name);
    std::printf("drift data: %s into %s/%s\n", name.c_str(), base.c_str(), name.c_str());
    std::fflush(stdout);
    DownloadOptions opt;
    if (!a.quiet) opt.progress = progress_printer();
    const std::string path = download_dataset(src, base + "/" + name, opt);
    std::printf("%s: checksums verified, ready at %s\n", name.c_str(), path.c_str());
  }
}

void run_where() {
  std::printf("data folder: %s\n", data_home().c_str());
  for (const std::string& name : dataset_names()) {
    try {
      std::printf("  %-14s %s\n", name.c_str(), find_dataset(name).c_str());
    } catch (const Error&) {
      std::printf("  %-14s missing (drift data get %s)\n", name.c_str(), name.c_str());
    }
  }
}

}  // namespace

void add_data_command(CLI::App& app) {
  auto a = std::make_shared<DataArgs>();
  CLI::App* data = app.add_subcommand("data", "Download the standard data sets into the per-user data folder");
  data->require_subcommand(1);
  data->footer(
      "The data folder is $DRIFT_DATA, else $XDG_DATA_HOME/drift, else ~/.local/share/drift.\n"
      "Examples:\n  drift data get mnist\n  drift data get fashion-mnist cifar10\n  drift data where");
  CLI::App* get = data->add_subcommand("get", "Download data sets (official files, MD5-checked, resumable)");
  get->add_option("names", a->names, "mnist, fashion-mnist and/or cifar10")->required();
  get->add_option("--dir", a->dir, "base folder instead of the data folder");
  get->add_flag("--quiet", a->quiet, "no progress line");
  get->callback([a] { run_get(*a); });
  CLI::App* where = data->add_subcommand("where", "Show the data folder and where each data set is found");
  where->callback([] { run_where(); });
}

}  // namespace drift::cli
