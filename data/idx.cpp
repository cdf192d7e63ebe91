#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>

#include <sys/stat.h>

#include "tensor/error.h"
#include "tensor/shape.h"

namespace drift {

namespace {

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace

std::vector<uint8_t> read_file_maybe_gz(const std::string& path, size_t max_bytes) {
  DRIFT_CHECK(file_exists(path), "cannot open '", path, "': no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  DRIFT_CHECK(f != nullptr, "cannot open '", path, "' for reading");
  gzbuffer(f, 1 << 16);
  // Decompress straight into `out`, doubling its room as it fills.
  std::vector<uint8_t> out(1 << 16);
  size_t used = 0;
  while (true) {
    if (used > max_bytes) {
      gzclose(f);
      throw Error(str("'", path, "' decompresses to more than ", max_bytes,
                      " bytes, the most a data file may have (a gzip bomb or not a data file?)"));
    }
    if (used == out.size()) out.resize(std::min(2 * out.size(), max_bytes + 1));
    const size_t room = std::min<size_t>(out.size() - used, 1u << 30);
    int n = gzread(f, out.data() + used, static_cast<unsigned>(room));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      throw Error(str("error reading '", path, "': ", msg, " (corrupt or truncated gzip file?)"));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  // gzread returns 0 both at a clean end and when a gzip stream stops in the
  // middle (a cut download): only gzerror / gzclose tell them apart.
  int err = Z_OK;
  std::string msg = gzerror(f, &err);
  const int close_err = gzclose(f);
  DRIFT_CHECK(err == Z_OK && close_err == Z_OK, "error reading '", path, "': ",
              err != Z_OK ? msg : std::string("the gzip stream ends early"),
              " (truncated gzip file? ", used, " bytes were decompressed before the end)");
  return out;
}

IdxArray read_idx(const std::string& path, int expected_ndim) {
  std::vector<uint8_t> bytes = read_file_maybe_gz(path);
  DRIFT_CHECK(bytes.size() >= 4, "IDX file '", path, "' is truncated: ", bytes.size(),
              " bytes, expected at least a 4-byte magic number");
  const uint8_t type = bytes[2], ndim = bytes[3];
  char magic[16];
  std::snprintf(magic, sizeof(magic), "0x%02X%02X%02X%02X", bytes[0], bytes[1], bytes[2], bytes[3]);
  DRIFT_CHECK(bytes[0] == 0 && bytes[1] == 0 && type == 0x08 && ndim >= 1,
              "IDX file '", path, "' has wrong magic number ", magic,
              ", expected 0x000008nn (unsigned-byte IDX data with nn dimensions)");
  DRIFT_CHECK(expected_ndim == 0 || ndim == expected_ndim, "IDX file '", path, "' has wrong magic number ",
              magic, ": ", int(ndim), " dimensions, expected ", expected_ndim, " (0x0000080", expected_ndim, ")");
  const size_t header = 4 + 4 * size_t(ndim);
  DRIFT_CHECK(bytes.size() >= header, "IDX file '", path, "' is truncated: header needs ", header,
              " bytes, file has ", bytes.size());
  IdxArray out;
  const size_t available = bytes.size() - header;
  size_t count = 1;
  for (int d = 0; d < ndim; ++d) {
    uint32_t n = big_endian_u32(bytes.data() + 4 + 4 * d);
    out.dims.push_back(n);
    // Checked as we go so that absurd sizes cannot overflow the product.
    DRIFT_CHECK(n == 0 || count <= available / n, "IDX file '", path, "' is truncated: its header promises ",
                "dimensions ", shape_str(out.dims), "... but the file holds only ", available, " data bytes");
    count *= n;
  }
  DRIFT_CHECK(bytes.size() - header >= count, "IDX file '", path, "' is truncated: the header promises ",
              count, " data bytes, the file has ", bytes.size() - header);
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header),
                  bytes.begin() + static_cast<std::ptrdiff_t>(header + count));
  return out;
}

Dataset load_idx(const std::string& images_path, const std::string& labels_path) {
  IdxArray images = read_idx(images_path, 3);
  IdxArray labels = read_idx(labels_path, 1);
  DRIFT_CHECK(images.dims[0] == labels.dims[0], "image/label counts disagree: '", images_path, "' has ",
              images.dims[0], " images but '", labels_path, "' has ", labels.dims[0], " labels");
  Dataset d;
  d.channels = 1;
  d.height = images.dims[1];
  d.width = images.dims[2];
  d.images = std::move(images.data);
  d.labels.assign(labels.data.begin(), labels.data.end());
  d.num_classes = 10;
  d.source = images_path;
  for (size_t i = 0; i < d.labels.size(); ++i) {
    DRIFT_CHECK(d.labels[i] < 10, "label file '", labels_path, "': label ", d.labels[i], " of item ", i,
                " is outside [0, 10)");
  }
  return d;
}

Dataset load_mnist(const std::string& dir, Split split) {
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  auto find = [&](const std::string& stem) {
    std::string plain = dir + "/" + prefix + "-" + stem;
    if (file_exists(plain)) return plain;
    if (file_exists(plain + ".gz")) return plain + ".gz";
    throw Error(str("MNIST-style data set folder '", dir, "': missing file '", plain, "' (or '", plain,
                    ".gz')"));
  };
  struct stat st;
  DRIFT_CHECK(::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode), "MNIST-style data set folder '", dir,
              "' does not exist");
  const std::string images = find("images-idx3-ubyte");  // images first, then labels
  const std::string labels = find("labels-idx1-ubyte");
  return load_idx(images, labels);
}

}  // namespace drift
