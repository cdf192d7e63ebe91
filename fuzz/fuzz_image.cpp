// Fuzzes decode_image (data/image_decode.cpp): PNG through libpng, JPEG
// through libjpeg-turbo, the pixel limit checked from the header, channel
// conversion, and the refusal of other formats. The input's length picks the
// channel count asked for (0..4). Property: a decoded image has a positive
// size within the limit and exactly width x height x channels bytes.
#include "data/image.h"
#include "fuzz/fuzz_common.h"

using namespace drift;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int channels = static_cast<int>(size % 5);
  const uint64_t max_pixels = uint64_t{1} << 20;  // smaller than the default: keeps each run fast
  Image img;
  try {
    img = decode_image(data, size, "fuzz-input", channels, max_pixels);
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(img.width > 0 && img.height > 0);
  FUZZ_CHECK(static_cast<uint64_t>(img.width) * static_cast<uint64_t>(img.height) <= max_pixels);
  FUZZ_CHECK(channels == 0 ? img.channels >= 1 && img.channels <= 4 : img.channels == channels);
  FUZZ_CHECK(img.pixels.size() == static_cast<size_t>(img.width) * img.height * img.channels);
  return 0;
}
