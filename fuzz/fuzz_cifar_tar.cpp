// Fuzzes the CIFAR-10 archive reader (load_cifar10 on a .tar path, through
// read_tar_members): tar headers (checksums, octal sizes, names, types),
// member data, the end-of-archive blocks, and gzip when the input is
// compressed (zlib reads plain files through too). Property: a split that
// loads has the record layout of parse_cifar10_batch.
#include "data/cifar.h"
#include "fuzz/fuzz_common.h"

using namespace drift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::input_file(data, size, "cifar.tar");
  for (Split split : {Split::Test, Split::Train}) {
    Dataset d;
    try {
      d = load_cifar10(path, split);
    } catch (const Error&) {
      continue;
    }
    FUZZ_CHECK(d.channels == 3 && d.images.size() == static_cast<size_t>(d.size()) * 3072);
    for (int64_t l : d.labels) FUZZ_CHECK(l >= 0 && l < 10);
  }
  return 0;
}
