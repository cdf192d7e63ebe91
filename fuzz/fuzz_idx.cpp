// Fuzzes read_idx (data/idx.cpp) through read_file_maybe_gz: plain and
// gzip-compressed IDX files (magic number, dimensions, truncation, gzip
// errors). Property: a file that loads holds exactly product(dims) bytes.
#include "data/idx.h"
#include "fuzz/fuzz_common.h"

using namespace drift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::input_file(data, size, "in-idx3-ubyte.gz");
  IdxArray a;
  try {
    a = read_idx(path, 0);
  } catch (const Error&) {
    return 0;
  }
  uint64_t n = 1;
  for (int64_t d : a.dims) {
    FUZZ_CHECK(d >= 0);
    n *= static_cast<uint64_t>(d);
  }
  FUZZ_CHECK(!a.dims.empty() && a.data.size() == n);
  return 0;
}
