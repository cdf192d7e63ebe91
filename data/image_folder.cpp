#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "data/image.h"
#include "tensor/error.h"

namespace drift {

namespace fs = std::filesystem;

namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  // PNG and JPEG are read; the other image types are listed so that read_image
  // refuses them by name instead of the folder silently losing those images.
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".gif" || ext == ".tga" ||
         ext == ".webp" || ext == ".tif" || ext == ".tiff" || ext == ".ppm" || ext == ".pgm";
}

}  // namespace

Dataset load_image_folder(const std::string& root, const ImageFolderOptions& opt) {
  DRIFT_CHECK(opt.channels == 0 || opt.channels == 1 || opt.channels == 3,
              "load_image_folder: channels must be 0, 1 or 3, got ", opt.channels);
  DRIFT_CHECK(opt.size >= 0, "load_image_folder: size must be >= 0, got ", opt.size);
  std::error_code ec;
  DRIFT_CHECK(fs::is_directory(root, ec), "image folder '", root, "' does not exist or is not a folder");

  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) class_dirs.push_back(entry.path());
  }
  std::sort(class_dirs.begin(), class_dirs.end());
  DRIFT_CHECK(!class_dirs.empty(), "image folder '", root, "' has no class sub-folders (expected root/<class>/<image>)");

  Dataset d;
  d.source = root;
  d.channels = opt.channels;
  d.num_classes = static_cast<int64_t>(class_dirs.size());
  for (size_t label = 0; label < class_dirs.size(); ++label) {
    d.class_names.push_back(class_dirs[label].filename().string());
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(class_dirs[label])) {
      if (entry.is_regular_file() && has_image_extension(entry.path())) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      Image img = read_image(file.string(), d.channels);  // throws naming the file
      if (d.channels == 0) {
        // Grey stays grey; anything with colour (or alpha) becomes RGB.
        d.channels = img.channels == 1 || img.channels == 2 ? 1 : 3;
        img = read_image(file.string(), d.channels);
      }
      if (opt.size > 0 && (img.width != opt.size || img.height != opt.size)) {
        img = resize_image(img, opt.size, opt.size);
      }
      if (d.height == 0) {
        d.height = img.height;
        d.width = img.width;
      }
      DRIFT_CHECK(img.width == d.width && img.height == d.height, "image folder '", root, "': image '",
                  file.string(), "' is ", img.width, "x", img.height, " but earlier images are ", d.width, "x",
                  d.height, " (pass a size to resize)");
      // HWC (file layout) -> CHW (tensor layout).
      const size_t base = d.images.size();
      d.images.resize(base + static_cast<size_t>(d.channels * d.height * d.width));
      for (int c = 0; c < d.channels; ++c)
        for (int y = 0; y < img.height; ++y)
          for (int x = 0; x < img.width; ++x)
            d.images[base + (static_cast<size_t>(c) * d.height + y) * d.width + x] = img.at(x, y, c);
      d.labels.push_back(static_cast<int64_t>(label));
    }
  }
  DRIFT_CHECK(!d.labels.empty(), "image folder '", root, "' holds no images (.png .jpg .jpeg) in its ",
              class_dirs.size(), " class folders");
  return d;
}

}  // namespace drift
