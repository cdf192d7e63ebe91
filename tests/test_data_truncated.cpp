// Cut and corrupt data files are errors, never a silently shorter data set:
// a gzip stream that stops in the middle (even exactly at a record
// boundary), a tar archive that ends without its end-of-archive blocks, and
// a tar header whose checksum does not match. Every file is written here.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/cifar.h"
#include "data/idx.h"
#include "data_writers.h"

using namespace drift;
using namespace drift::test;

TEST(DataTruncated, GzipCutAtARecordBoundaryIsAnError) {
  TempDir dir;
  // 5 CIFAR records, the gzip stream cut right after the 3rd: before the
  // fix this read as a valid batch of 3 images.
  const std::vector<uint8_t> records = cifar_records(5);
  write_bytes(dir / "data_batch_1.bin.gz", gzip_cut(records, 3 * kCifarRecordBytes));
  expect_error([&] { read_cifar10_batch(dir / "data_batch_1.bin.gz"); },
               {dir / "data_batch_1.bin.gz", "truncated gzip", "9219 bytes"});
  // The same for an IDX file cut after its 2nd image.
  const std::vector<uint8_t> idx = idx_images(4, 5, 5);
  write_bytes(dir / "img.gz", gzip_cut(idx, 16 + 2 * 25));
  expect_error([&] { read_idx(dir / "img.gz"); }, {dir / "img.gz", "truncated gzip"});
  // Control: the whole stream reads back exactly.
  write_gz(dir / "whole.gz", records);
  EXPECT_EQ(read_file_maybe_gz(dir / "whole.gz"), records);
  // A flipped byte in the CRC trailer is corruption, not data.
  std::vector<uint8_t> gz = read_all(dir / "whole.gz");
  gz[gz.size() - 6] ^= 0xFF;
  write_bytes(dir / "crc.gz", gz);
  expect_error([&] { read_file_maybe_gz(dir / "crc.gz"); }, {dir / "crc.gz"});
}

TEST(DataTruncated, TarCutAtAMemberBoundaryIsAnError) {
  TempDir dir;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files;
  for (int b = 1; b <= 5; ++b)
    files.push_back({"cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin", cifar_records(2, b)});
  files.push_back({"cifar-10-batches-bin/test_batch.bin", cifar_records(3)});
  const std::vector<uint8_t> tar = make_tar(files);
  // Offset of the end of data_batch_5's padded data: 512 (folder header) +
  // 5 x (512 header + 6146 data padded to 6656).
  const size_t end_of_5 = 512 + 5 * (512 + 6656);
  ASSERT_LT(end_of_5, tar.size());

  // A plain tar cut there: the train split has all it wants, but the archive
  // is incomplete; the test split is missing.
  write_bytes(dir / "cut.tar", std::vector<uint8_t>(tar.begin(), tar.begin() + end_of_5));
  expect_error([&] { load_cifar10(dir / "cut.tar", Split::Test); }, {dir / "cut.tar", "end-of-archive"});
  expect_error([&] { load_cifar10(dir / "cut.tar", Split::Train); }, {dir / "cut.tar", "end-of-archive"});
  // The gzip stream of the archive cut at the same point.
  write_bytes(dir / "cut.tar.gz", gzip_cut(tar, end_of_5));
  expect_error([&] { load_cifar10(dir / "cut.tar.gz", Split::Train); }, {dir / "cut.tar.gz", "truncated gzip"});
  // Cut inside a member, at a record boundary of test_batch.bin.
  write_bytes(dir / "mid.tar.gz", gzip_cut(tar, end_of_5 + 512 + kCifarRecordBytes));
  expect_error([&] { load_cifar10(dir / "mid.tar.gz", Split::Test); }, {dir / "mid.tar.gz"});
  // Control: the whole archive.
  write_gz(dir / "whole.tar.gz", tar);
  EXPECT_EQ(load_cifar10(dir / "whole.tar.gz", Split::Test).size(), 3);
  EXPECT_EQ(load_cifar10(dir / "whole.tar.gz", Split::Train).size(), 10);
}

TEST(DataTruncated, TarHeaderChecksumAndSizeField) {
  TempDir dir;
  std::vector<uint8_t> tar = make_tar({{"cifar-10-batches-bin/test_batch.bin", cifar_records(1)}});
  // The member's size field (header at 512, size at +124) says 3073 = 06001 octal.
  std::vector<uint8_t> bad = tar;
  bad[512 + 124 + 10] ^= 1;  // a different size, checksum not updated
  write_bytes(dir / "sum.tar", bad);
  expect_error([&] { load_cifar10(dir / "sum.tar", Split::Test); }, {dir / "sum.tar", "checksum"});
  // A size field that is not octal, with a matching checksum.
  bad = tar;
  bad[512 + 124] = 'x';
  std::memset(bad.data() + 512 + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += bad[512 + i];
  std::snprintf(reinterpret_cast<char*>(bad.data()) + 512 + 148, 8, "%06o", sum);
  write_bytes(dir / "size.tar", bad);
  expect_error([&] { load_cifar10(dir / "size.tar", Split::Test); }, {dir / "size.tar", "size field"});
  // Random bytes are not a tar archive.
  write_bytes(dir / "noise.tar", std::vector<uint8_t>(2048, 7));
  expect_error([&] { load_cifar10(dir / "noise.tar", Split::Test); }, {dir / "noise.tar", "not a tar file"});
}

// A gzip bomb (a small file that decompresses to far more than any data set)
// is refused at the limit instead of taking the machine's memory; so is a tar
// member whose header claims more than a data file may have.
TEST(DataTruncated, DecompressedSizeIsBounded) {
  TempDir dir;
  write_gz(dir / "zeros.gz", std::vector<uint8_t>(3 << 20, 0));  // 3 MiB of zeros: about 3 KB of gzip
  expect_error([&] { read_file_maybe_gz(dir / "zeros.gz", size_t(1) << 20); },
               {dir / "zeros.gz", "decompresses to more than 1048576 bytes"});
  EXPECT_EQ(read_file_maybe_gz(dir / "zeros.gz", size_t(4) << 20).size(), size_t(3) << 20);  // control
  EXPECT_EQ(read_file_maybe_gz(dir / "zeros.gz", size_t(3) << 20).size(), size_t(3) << 20);  // exactly the limit

  std::vector<uint8_t> tar = make_tar({{"cifar-10-batches-bin/test_batch.bin", cifar_records(1)}});
  std::snprintf(reinterpret_cast<char*>(tar.data()) + 512 + 124, 12, "%011llo", 1ull << 32);  // 4 GiB claimed
  std::memset(tar.data() + 512 + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += tar[512 + i];
  std::snprintf(reinterpret_cast<char*>(tar.data()) + 512 + 148, 8, "%06o", sum);
  write_bytes(dir / "big.tar", tar);
  expect_error([&] { load_cifar10(dir / "big.tar", Split::Test); }, {dir / "big.tar", "4294967296 bytes, more than"});
}
