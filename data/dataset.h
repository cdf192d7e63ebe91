#pragma once
// An image classification data set held in memory as 8-bit pixels, the form
// every reader in data/ produces and the DataLoader consumes.
#include <cstdint>
#include <string>
#include <vector>

namespace drift {

// Which half of a data set with a fixed train/test split.
enum class Split { Train, Test };

struct Dataset {
  int64_t channels = 0, height = 0, width = 0;
  // size() images, each channels x height x width bytes, channel-first (CHW).
  std::vector<uint8_t> images;
  std::vector<int64_t> labels;           // one per image, in [0, num_classes)
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // may be empty
  std::string source;                    // where it was read from (for messages)

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return images.data() + i * image_bytes(); }
  // Mean grey level over all pixels (0..255), e.g. 33.32 for MNIST training.
  double pixel_mean() const;
  // Throws unless images/labels sizes agree and labels are in range.
  void validate() const;
};

// Concatenates data sets of identical image shape.
Dataset concat(const std::vector<Dataset>& parts);
// The first n images (or all if n >= size()).
Dataset take(const Dataset& d, int64_t n);

}  // namespace drift
