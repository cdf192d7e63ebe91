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

// The most bytes one data file (or one archive member) may decompress to:
// the largest file drift reads is 47 MB (MNIST train images), so 1 GiB is
// far above any real data set and stops a gzip bomb (1 GiB of zeros fits in
// 1 MB of gzip) before it takes the machine's memory.
constexpr size_t kMaxDataFileBytes = size_t(1) << 30;

// The whole decompressed contents of a plain or .gz file. Throws naming the
// file if it is missing, corrupt, or decompresses to more than max_bytes.
std::vector<uint8_t> read_file_maybe_gz(const std::string& path, size_t max_bytes = kMaxDataFileBytes);

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
