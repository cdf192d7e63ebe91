#include "data/cifar.h"

#include <zlib.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "data/idx.h"
#include "tensor/error.h"

namespace drift {

namespace {

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string basename_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<std::string> batch_names(Split split) {
  if (split == Split::Test) return {"test_batch.bin"};
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
}

// Reads exactly n bytes from a gz stream (n may be 0). Returns false at the
// end of the data; throws if the gzip stream is corrupt or stops in the
// middle (gzread returns 0 then too, with gzerror set).
bool gz_read_exact(gzFile f, uint8_t* dst, size_t n, const std::string& archive) {
  size_t done = 0;
  while (done < n) {
    unsigned want = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
    int got = gzread(f, dst + done, want);
    int err = Z_OK;
    const char* msg = gzerror(f, &err);
    if (got < 0 || err != Z_OK)
      throw Error(str("error reading archive '", archive, "': ", msg, " (corrupt or truncated gzip stream?)"));
    if (got == 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

// A tar header number: octal digits, maybe after spaces, ended by NUL or
// space (POSIX ustar). False for anything else (e.g. GNU base-256 sizes).
bool parse_octal(const char* p, size_t n, uint64_t& out) {
  size_t i = 0;
  while (i < n && p[i] == ' ') ++i;
  uint64_t v = 0;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) v = v * 8 + static_cast<uint64_t>(p[i] - '0');  // <= 12 digits
  for (; i < n; ++i)
    if (p[i] != 0 && p[i] != ' ') return false;
  out = v;
  return true;
}

// The header checksum: the sum of its 512 bytes with the checksum field read
// as 8 spaces (unsigned bytes; some old writers summed signed chars).
bool tar_checksum_ok(const char* h) {
  uint64_t stored = 0;
  if (!parse_octal(h + 148, 8, stored)) return false;
  int64_t sum_u = 0, sum_s = 0;
  for (int i = 0; i < 512; ++i) {
    const bool in_field = i >= 148 && i < 156;
    sum_u += in_field ? ' ' : static_cast<unsigned char>(h[i]);
    sum_s += in_field ? ' ' : static_cast<signed char>(h[i]);
  }
  return static_cast<int64_t>(stored) == sum_u || static_cast<int64_t>(stored) == sum_s;
}

}  // namespace

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

Dataset parse_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& name) {
  DRIFT_CHECK(!bytes.empty() && bytes.size() % kCifarRecordBytes == 0, "CIFAR-10 batch '", name, "' has ",
              bytes.size(), " bytes, expected a positive multiple of ", kCifarRecordBytes,
              " (1 label byte + 3072 pixel bytes per image); truncated or not a CIFAR-10 binary batch?");
  const int64_t n = static_cast<int64_t>(bytes.size()) / kCifarRecordBytes;
  Dataset d;
  d.channels = 3;
  d.height = 32;
  d.width = 32;
  d.num_classes = 10;
  d.class_names = cifar10_class_names();
  d.source = name;
  d.labels.resize(static_cast<size_t>(n));
  d.images.resize(static_cast<size_t>(n) * 3072);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* rec = bytes.data() + i * kCifarRecordBytes;
    DRIFT_CHECK(rec[0] < 10, "CIFAR-10 batch '", name, "': record ", i, " has label ", int(rec[0]),
                ", expected 0..9");
    d.labels[i] = rec[0];
    std::memcpy(d.images.data() + i * 3072, rec + 1, 3072);  // already CHW
  }
  return d;
}

Dataset read_cifar10_batch(const std::string& path) { return parse_cifar10_batch(read_file_maybe_gz(path), path); }

std::vector<std::pair<std::string, std::vector<uint8_t>>> read_tar_members(
    const std::string& archive, const std::function<bool(const std::string&)>& want) {
  struct stat st;
  DRIFT_CHECK(::stat(archive.c_str(), &st) == 0, "cannot open archive '", archive, "': no such file");
  gzFile f = gzopen(archive.c_str(), "rb");
  DRIFT_CHECK(f != nullptr, "cannot open archive '", archive, "' for reading");
  gzbuffer(f, 1 << 16);
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  std::vector<uint8_t> skip(1 << 16);
  try {
    while (true) {
      // A tar archive is a sequence of 512-byte headers, each followed by the
      // member's data padded to a multiple of 512; two zero blocks end it.
      // An archive cut at a member boundary lacks the zero blocks: an error,
      // never a silently shorter data set.
      char header[512];
      DRIFT_CHECK(gz_read_exact(f, reinterpret_cast<uint8_t*>(header), 512, archive), "archive '", archive,
                  "' ends without the end-of-archive block after ", out.size(),
                  " wanted member(s) (truncated download?)");
      bool all_zero = std::all_of(header, header + 512, [](char c) { return c == 0; });
      if (all_zero) break;
      DRIFT_CHECK(tar_checksum_ok(header), "archive '", archive, "' is not a tar file or is corrupt: a header ",
                  "checksum does not match (after ", out.size(), " wanted member(s))");
      std::string name(header, strnlen(header, 100));
      std::string prefix;
      if (std::memcmp(header + 257, "ustar", 6) == 0) prefix.assign(header + 345, strnlen(header + 345, 155));
      if (!prefix.empty()) name = prefix + "/" + name;
      uint64_t size = 0;
      DRIFT_CHECK(parse_octal(header + 124, 12, size), "archive '", archive, "': member '", name,
                  "' has a size field that is not an octal number (GNU base-256 sizes are not supported)");
      const char type = header[156];
      const uint64_t padded = (size + 511) / 512 * 512;
      const bool regular = type == '0' || type == 0;
      if (regular && want(name)) {
        DRIFT_CHECK(size <= kMaxDataFileBytes, "archive '", archive, "': member '", name, "' has ", size,
                    " bytes, more than the ", kMaxDataFileBytes, " a data file may have");
        // Read in chunks rather than trusting the header's size for one allocation.
        std::vector<uint8_t> data;
        uint64_t left = size;
        while (left > 0) {
          size_t n = static_cast<size_t>(std::min<uint64_t>(left, skip.size()));
          DRIFT_CHECK(gz_read_exact(f, skip.data(), n, archive), "archive '", archive, "' is truncated inside '",
                      name, "'");
          data.insert(data.end(), skip.begin(), skip.begin() + static_cast<std::ptrdiff_t>(n));
          left -= n;
        }
        std::vector<uint8_t> pad(padded - size);
        DRIFT_CHECK(gz_read_exact(f, pad.data(), pad.size(), archive), "archive '", archive,
                    "' is truncated after '", name, "'");
        out.emplace_back(name, std::move(data));
      } else {
        uint64_t left = padded;
        while (left > 0) {
          size_t n = static_cast<size_t>(std::min<uint64_t>(left, skip.size()));
          DRIFT_CHECK(gz_read_exact(f, skip.data(), n, archive), "archive '", archive, "' is truncated inside '",
                      name, "'");
          left -= n;
        }
      }
    }
  } catch (...) {
    gzclose(f);
    throw;
  }
  gzclose(f);
  return out;
}

Dataset load_cifar10(const std::string& path, Split split) {
  const std::vector<std::string> names = batch_names(split);
  std::vector<Dataset> parts;
  if (is_dir(path)) {
    for (const std::string& n : names) {
      std::string p = path + "/" + n;
      struct stat st;
      if (::stat(p.c_str(), &st) != 0 && is_dir(path + "/cifar-10-batches-bin")) p = path + "/cifar-10-batches-bin/" + n;
      parts.push_back(read_cifar10_batch(p));
    }
  } else {
    DRIFT_CHECK(ends_with(path, ".tar.gz") || ends_with(path, ".tgz") || ends_with(path, ".tar"),
                "CIFAR-10: '", path, "' is neither a folder of batch files nor a .tar.gz archive");
    auto members = read_tar_members(path, [&](const std::string& member) {
      return std::find(names.begin(), names.end(), basename_of(member)) != names.end();
    });
    for (const std::string& n : names) {  // keep the canonical order
      auto it = std::find_if(members.begin(), members.end(),
                             [&](const auto& m) { return basename_of(m.first) == n; });
      DRIFT_CHECK(it != members.end(), "CIFAR-10 archive '", path, "' has no member '", n, "'");
      parts.push_back(parse_cifar10_batch(it->second, path + ":" + it->first));
      it->second.clear();
      it->second.shrink_to_fit();
    }
  }
  Dataset d = concat(parts);
  d.source = path;
  return d;
}

}  // namespace drift
