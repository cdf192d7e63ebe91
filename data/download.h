#pragma once
// The per-user data folder and downloading the standard data sets into it,
// like torchvision's download=True:
//
//   drift data get mnist            (tools/cmd_data.cpp) calls
//   download_dataset(dataset_source("mnist"), data_home() + "/mnist", {});
//
// Each file is fetched with libcurl into "<file>.part", resumed with an HTTP
// range request when the connection breaks (within one call, and across calls:
// a .part left by an earlier run is continued), then checked against the
// official MD5 and only then renamed to its final name. A file whose checksum
// disagrees is deleted and reported; nothing half-written keeps the final name.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace drift {

// $DRIFT_DATA, else $XDG_DATA_HOME/drift, else $HOME/.local/share/drift.
std::string data_home();

struct RemoteFile {
  std::string name;   // file name, appended to a mirror's base URL
  std::string md5;    // lower-case hex of the official file
  int64_t size = 0;   // bytes (0: unknown); shown in the progress line only
};

struct DataSetSource {
  std::string name;                  // "mnist", "fashion-mnist", "cifar10"
  std::vector<std::string> mirrors;  // base URLs ending in '/', tried in order
  std::vector<RemoteFile> files;
  std::string load_path;             // what the loaders read, relative to the folder ("" = the folder)
};

// The official sources of "mnist", "fashion-mnist" and "cifar10"; throws
// listing the known names for any other.
const DataSetSource& dataset_source(const std::string& name);
std::vector<std::string> dataset_names();

// Where the CLI reads a data set from: data_home()/<name> (+ load_path) when it
// is there; for Fashion-MNIST also Debian's dataset-fashion-mnist package
// (/usr/share/datasets/fashion-mnist). Throws saying how to get it otherwise
// (`drift data get <name>`, or --data-path).
std::string find_dataset(const std::string& name);

// Progress of one file: bytes on disk so far (including a resumed part) and
// the expected total (0 if unknown).
using DownloadProgress = std::function<void(const std::string& file, int64_t done, int64_t total)>;

struct DownloadOptions {
  int attempts = 5;               // per file and mirror: tries (each resumes where the last stopped)
  long connect_timeout_s = 30;
  long low_speed_timeout_s = 60;  // give up an attempt after this long below 1 byte/s
  DownloadProgress progress;      // may be empty
};

// Downloads every file of `src` into `folder` (created if needed), skipping
// files already there with the right checksum. Returns the load path
// (folder + load_path). Throws naming the file and URL on failure.
std::string download_dataset(const DataSetSource& src, const std::string& folder, const DownloadOptions& opt = {});

// One file: `url` -> `dest` via `dest`.part, checked against `md5`.
void download_file(const std::string& url, const std::string& dest, const std::string& md5,
                   const DownloadOptions& opt = {}, int64_t size_hint = 0);

// Lower-case hex MD5 of a file's bytes; throws naming the file if unreadable.
std::string md5_file(const std::string& path);

}  // namespace drift
