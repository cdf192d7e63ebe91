#include "data/dataset.h"

#include <algorithm>

#include "tensor/error.h"

namespace drift {

double Dataset::pixel_mean() const {
  if (images.empty()) return 0.0;
  uint64_t total = 0;
  for (uint8_t v : images) total += v;
  return static_cast<double>(total) / static_cast<double>(images.size());
}

void Dataset::validate() const {
  DRIFT_CHECK(channels > 0 && height > 0 && width > 0, "dataset '", source, "': bad image shape ", channels, "x",
              height, "x", width);
  DRIFT_CHECK(images.size() == labels.size() * static_cast<size_t>(image_bytes()), "dataset '", source, "': ",
              labels.size(), " labels but ", images.size() / static_cast<size_t>(image_bytes()), " images");
  for (size_t i = 0; i < labels.size(); ++i) {
    DRIFT_CHECK(labels[i] >= 0 && labels[i] < num_classes, "dataset '", source, "': label ", labels[i],
                " of image ", i, " is outside [0, ", num_classes, ")");
  }
}

Dataset concat(const std::vector<Dataset>& parts) {
  DRIFT_CHECK(!parts.empty(), "concat: no data sets given");
  Dataset out;
  out.channels = parts[0].channels;
  out.height = parts[0].height;
  out.width = parts[0].width;
  out.class_names = parts[0].class_names;
  for (const Dataset& p : parts) {
    DRIFT_CHECK(p.channels == out.channels && p.height == out.height && p.width == out.width,
                "concat: image shape ", p.channels, "x", p.height, "x", p.width, " of '", p.source,
                "' differs from ", out.channels, "x", out.height, "x", out.width);
    out.images.insert(out.images.end(), p.images.begin(), p.images.end());
    out.labels.insert(out.labels.end(), p.labels.begin(), p.labels.end());
    out.num_classes = std::max(out.num_classes, p.num_classes);
    out.source += (out.source.empty() ? "" : " + ") + p.source;
  }
  return out;
}

Dataset take(const Dataset& d, int64_t n) {
  if (n >= d.size()) return d;
  Dataset out = d;
  out.labels.resize(static_cast<size_t>(n));
  out.images.resize(static_cast<size_t>(n * d.image_bytes()));
  return out;
}

}  // namespace drift
