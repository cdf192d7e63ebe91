// Fuzzes load_safetensors (nn/safetensors.cpp): header length, JSON header
// (bounded depth and size), dtypes, shapes (checked products), offsets.
// Properties: a file that loads saves and loads back to the same tensors; the
// header-only load_safetensors_metadata agrees with the full load (a file that
// loads has readable metadata, the same).
#include <cstring>

#include "fuzz/fuzz_common.h"
#include "nn/safetensors.h"

using namespace drift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::input_file(data, size, "in.safetensors");
  nn::Metadata meta;
  bool meta_ok = true;
  try {
    meta = nn::load_safetensors_metadata(path);
  } catch (const Error&) {
    meta_ok = false;
  }
  nn::SafetensorsContents c;
  try {
    c = nn::load_safetensors(path);
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(meta_ok && meta == c.metadata);
  const std::string again = fuzz::input_file(nullptr, 0, "again.safetensors");
  nn::save_safetensors(again, c.tensors, c.metadata);  // must accept whatever load returned
  nn::SafetensorsContents d = nn::load_safetensors(again);
  FUZZ_CHECK(d.metadata == c.metadata);
  FUZZ_CHECK(d.tensors.size() == c.tensors.size());
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    const Tensor &a = c.tensors[i].second, &b = d.tensors[i].second;
    FUZZ_CHECK(d.tensors[i].first == c.tensors[i].first);
    FUZZ_CHECK(a.shape() == b.shape() && a.dtype() == b.dtype());
    const size_t nbytes = static_cast<size_t>(a.numel()) * a.element_size();
    FUZZ_CHECK(nbytes == 0 || std::memcmp(a.data_ptr(), b.data_ptr(), nbytes) == 0);
  }
  return 0;
}
