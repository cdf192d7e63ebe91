#pragma once
// Helpers for the data tests: a temporary folder, and writers of IDX, gzip,
// CIFAR-10 records and tar archives, so every file a test reads is written by
// the test itself.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tensor/error.h"
#include "tests/test_util.h"  // expect_error

namespace drift::test {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("drift_test_data_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

inline void put_u32(std::vector<uint8_t>& v, uint32_t x) {
  v.push_back(uint8_t(x >> 24)); v.push_back(uint8_t(x >> 16)); v.push_back(uint8_t(x >> 8)); v.push_back(uint8_t(x));
}

// n images of h x w with pixel (i, y, x) = (i * 7 + y * w + x) % 256.
inline std::vector<uint8_t> idx_images(uint32_t n, uint32_t h, uint32_t w) {
  std::vector<uint8_t> v = {0, 0, 8, 3};
  put_u32(v, n); put_u32(v, h); put_u32(v, w);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t p = 0; p < h * w; ++p) v.push_back(uint8_t((i * 7 + p) % 256));
  return v;
}

inline std::vector<uint8_t> idx_labels(uint32_t n) {
  std::vector<uint8_t> v = {0, 0, 8, 1};
  put_u32(v, n);
  for (uint32_t i = 0; i < n; ++i) v.push_back(uint8_t(i % 10));
  return v;
}


// A gzip stream of `bytes` cut right after the first `keep` bytes: those are
// flushed to a byte boundary and the stream stops there (no end marker, no
// CRC), as a download cut at exactly that point would.
inline std::vector<uint8_t> gzip_cut(const std::vector<uint8_t>& bytes, size_t keep) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);  // 15 + 16: gzip wrapper
  std::vector<uint8_t> out(compressBound(bytes.size()) + 64);
  z.next_in = const_cast<Bytef*>(bytes.data());
  z.avail_in = static_cast<uInt>(keep);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FULL_FLUSH), Z_OK);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

inline std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// n records; record i has label i % 10 and pixel p = (i + p) % 251.
inline std::vector<uint8_t> cifar_records(int n, int first = 0) {
  std::vector<uint8_t> v;
  for (int i = first; i < first + n; ++i) {
    v.push_back(uint8_t(i % 10));
    for (int p = 0; p < 3072; ++p) v.push_back(uint8_t((i + p) % 251));
  }
  return v;
}

// A minimal ustar archive holding the given files.
inline std::vector<uint8_t> make_tar(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& files) {
  std::vector<uint8_t> tar;
  auto add_header = [&](const std::string& name, size_t size, char type) {
    char h[512] = {};
    std::strncpy(h, name.c_str(), 99);
    std::snprintf(h + 100, 8, "%07o", 0644);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    std::snprintf(h + 124, 12, "%011lo", static_cast<unsigned long>(size));
    std::snprintf(h + 136, 12, "%011o", 0);
    h[156] = type;
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(h[i]);
    std::snprintf(h + 148, 8, "%06o", sum);
    tar.insert(tar.end(), h, h + 512);
  };
  add_header("cifar-10-batches-bin/", 0, '5');
  for (const auto& [name, data] : files) {
    add_header(name, data.size(), '0');
    tar.insert(tar.end(), data.begin(), data.end());
    tar.resize((tar.size() + 511) / 512 * 512, 0);
  }
  tar.resize(tar.size() + 1024, 0);
  return tar;
}

}  // namespace drift::test
