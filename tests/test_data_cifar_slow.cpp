// CIFAR-10 read in place from the official archive under DRIFT_SHARED_DIR
// (decompresses ~180 MB, hence "slow"); skips, saying why, when it is absent.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cmath>

#include "data/cifar.h"

using namespace drift;

TEST(DataCifarArchive, OfficialTarGz) {
  const std::string path = std::string(DRIFT_SHARED_DIR) + "/data/cifar-10-binary.tar.gz";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) GTEST_SKIP() << "CIFAR-10 archive not found at " << path;
  Dataset train = load_cifar10(path, Split::Train);
  EXPECT_EQ(train.size(), 50000);
  EXPECT_EQ(train.channels, 3);
  std::vector<int64_t> counts(10, 0);
  for (int64_t l : train.labels) counts[l]++;
  for (int64_t c : counts) EXPECT_EQ(c, 5000);
  // Per-channel training means (125.31, 122.95, 113.87) from the data README.
  const double expected[3] = {125.31, 122.95, 113.87};
  for (int c = 0; c < 3; ++c) {
    double s = 0;
    for (int64_t i = 0; i < train.size(); ++i)
      for (int p = 0; p < 1024; ++p) s += train.image(i)[c * 1024 + p];
    EXPECT_NEAR(s / (train.size() * 1024.0), expected[c], 0.01) << "channel " << c;
  }
  Dataset test = load_cifar10(path, Split::Test);
  EXPECT_EQ(test.size(), 10000);
}
