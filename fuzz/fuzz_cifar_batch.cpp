// Fuzzes read_cifar10_batch (data/cifar.cpp): one CIFAR-10 batch file, plain
// or gzip-compressed. Property: a batch that loads has n 3x32x32 images and
// n labels in 0..9.
#include "data/cifar.h"
#include "fuzz/fuzz_common.h"

using namespace drift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::input_file(data, size, "data_batch_1.bin");
  Dataset d;
  try {
    d = read_cifar10_batch(path);
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(d.size() > 0 && d.channels == 3 && d.height == 32 && d.width == 32);
  FUZZ_CHECK(d.images.size() == static_cast<size_t>(d.size()) * 3072);
  for (int64_t l : d.labels) FUZZ_CHECK(l >= 0 && l < 10);
  return 0;
}
