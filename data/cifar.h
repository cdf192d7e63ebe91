#pragma once
// CIFAR-10 "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html):
// each record is 1 label byte followed by 3072 pixel bytes (1024 red, 1024
// green, 1024 blue, each 32x32 row-major) — already channel-first.
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace drift {

constexpr int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;  // 3073

// The CIFAR-10 class names, index = label.
const std::vector<std::string>& cifar10_class_names();

// Parses the bytes of one batch file; `name` is used in messages. Throws if
// the size is not a multiple of 3073 or a label is > 9.
Dataset parse_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& name);
// Reads one batch file (plain or .gz).
Dataset read_cifar10_batch(const std::string& path);

// `path` is either a folder holding data_batch_1..5.bin and test_batch.bin
// (e.g. the unpacked cifar-10-batches-bin/) or the official archive
// cifar-10-binary.tar.gz, read in place. Train = the five data batches
// (50,000 images), Test = test_batch.bin (10,000).
Dataset load_cifar10(const std::string& path, Split split);

// Streams the members of a tar archive (plain or gzip-compressed) and returns
// (name, contents) for the regular files whose name `want` accepts, in
// archive order. Throws naming the archive if it is missing or truncated.
std::vector<std::pair<std::string, std::vector<uint8_t>>> read_tar_members(
    const std::string& archive, const std::function<bool(const std::string&)>& want);

}  // namespace drift
