#pragma once
// A folder-per-class image data set (like torchvision's ImageFolder):
//   root/cat/001.png, root/cat/002.jpg, root/dog/xyz.bmp, ...
// Class names are the sub-folder names in sorted order; label = index.
#include <string>

#include "data/dataset.h"

namespace drift {

struct ImageFolderOptions {
  int channels = 0;  // 0: take the channel count of the first image (1 or 3); else 1 or 3
  int size = 0;      // 0: all images must share the first image's size; else resize to size x size (bilinear)
};

// Reads every PNG / JPEG / BMP / GIF / TGA file under the class folders.
// Throws naming the file for an unreadable image or one whose size differs
// (when size = 0), and naming the folder when it is missing or holds no images.
Dataset load_image_folder(const std::string& root, const ImageFolderOptions& options = {});

}  // namespace drift
