#pragma once
// IDX files (the MNIST / Fashion-MNIST format, http://yann.lecun.com/exdb/mnist/):
//   magic = 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 sizes, then
//   the data row-major. Only type 0x08 (unsigned byte) is used by these sets.
// Files may be plain or gzip-compressed (read through zlib's gzread, which
// handles both).
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace drift {

// The whole decompressed contents of a plain or .gz file. Throws naming the
// file if it is missing or corrupt.
std::vector<uint8_t> read_file_maybe_gz(const std::string& path);

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;  // product(dims) bytes
};

// Reads an unsigned-byte IDX file. `expected_ndim` (0 = any) is checked
// against the magic number. Errors name the file: missing file, wrong magic
// number, truncated data.
IdxArray read_idx(const std::string& path, int expected_ndim = 0);

// Images [N, H, W] + labels [N] -> a 1-channel Dataset with 10 classes.
// Throws if the counts disagree (naming both files).
Dataset load_idx(const std::string& images_path, const std::string& labels_path);

// MNIST-layout folder: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
// Finds the plain or .gz file; throws naming the folder and the file it
// looked for when neither exists.
Dataset load_mnist(const std::string& dir, Split split);

}  // namespace drift
