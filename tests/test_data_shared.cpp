// The real data sets under DRIFT_SHARED_DIR (../shared/data) and Debian's
// Fashion-MNIST package; each test skips, saying why, when its files are absent.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "data/idx.h"
#include "data/loader.h"

using namespace drift;

namespace {
bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}
}  // namespace

TEST(DataShared, MnistTrainingSet) {
  const std::string dir = std::string(DRIFT_SHARED_DIR) + "/data/mnist";
  if (!exists(dir)) GTEST_SKIP() << "MNIST not found at " << dir;
  Dataset train = load_mnist(dir, Split::Train);
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(train.height, 28);
  EXPECT_EQ(train.width, 28);
  EXPECT_NEAR(train.pixel_mean(), 33.32, 0.01);  // the well-known training mean
  EXPECT_NO_THROW(train.validate());
  std::vector<int64_t> counts(10, 0);
  for (int64_t l : train.labels) counts[l]++;
  EXPECT_EQ(counts[1], 6742);  // the most frequent digit
  Dataset test = load_mnist(dir, Split::Test);
  EXPECT_EQ(test.size(), 10000);
  // Scaled to [-1, 1], the mean is 33.32 / 127.5 - 1.
  Batch b = dataset_to_tensors(test, 1000);
  double s = 0;
  for (int64_t i = 0; i < b.images.numel(); ++i) s += b.images.data<float>()[i];
  EXPECT_NEAR(s / b.images.numel(), 33.8 / 127.5 - 1.0, 0.05);
}

TEST(DataShared, FashionMnistPackage) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!exists(dir)) GTEST_SKIP() << "Fashion-MNIST not installed at " << dir << " (apt install dataset-fashion-mnist)";
  Dataset test = load_mnist(dir, Split::Test);
  EXPECT_EQ(test.size(), 10000);
  std::vector<int64_t> counts(10, 0);
  for (int64_t l : test.labels) counts[l]++;
  for (int64_t c : counts) EXPECT_EQ(c, 1000);  // balanced classes
}
