// DataLoader: determinism from the seed, resumption from a saved state,
// epoch coverage, drop_last, flips and scaling to [-1, 1].
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data/loader.h"

using namespace drift;

namespace {

// n images of C x H x W; image i has every pixel of row y, column x equal to
// (i + x) % 256 in every channel, and label i % 10.
Dataset toy(int64_t n, int64_t C = 1, int64_t H = 2, int64_t W = 3) {
  Dataset d;
  d.channels = C;
  d.height = H;
  d.width = W;
  d.num_classes = 10;
  d.source = "toy";
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) d.images.push_back(uint8_t((i + x) % 256));
    d.labels.push_back(i % 10);
  }
  return d;
}

std::vector<int64_t> labels_of(const Batch& b) {
  const int64_t* p = b.labels.data<int64_t>();
  return std::vector<int64_t>(p, p + b.labels.numel());
}

std::vector<float> pixels_of(const Batch& b) {
  const float* p = b.images.data<float>();
  return std::vector<float>(p, p + b.images.numel());
}

}  // namespace

TEST(DataLoader, ShapesDtypesAndScaling) {
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = Shuffle::Off;
  DataLoader loader(toy(10, 3, 2, 3), opt);
  Batch b = loader.next();
  EXPECT_EQ(b.images.shape(), (Shape{4, 3, 2, 3}));
  EXPECT_EQ(b.images.dtype(), DType::Float32);
  EXPECT_EQ(b.labels.shape(), (Shape{4}));
  EXPECT_EQ(b.labels.dtype(), DType::Int64);
  EXPECT_EQ(labels_of(b), (std::vector<int64_t>{0, 1, 2, 3}));
  // Image 1, x = 2 -> byte 3 -> 3 / 127.5 - 1.
  EXPECT_FLOAT_EQ(b.images.data<float>()[1 * 18 + 2], 3.0f / 127.5f - 1.0f);
  // Bytes 0 and 255 map to exactly -1 and 1.
  Dataset ends = toy(2);
  std::fill(ends.images.begin(), ends.images.begin() + 6, 0);
  std::fill(ends.images.begin() + 6, ends.images.end(), 255);
  opt.batch_size = 2;
  DataLoader l2(ends, opt);
  Batch e = l2.next();
  EXPECT_FLOAT_EQ(e.images.data<float>()[0], -1.0f);
  EXPECT_FLOAT_EQ(e.images.data<float>()[11], 1.0f);
}

TEST(DataLoader, SameSeedSameStreamDifferentSeedDifferentStream) {
  LoaderOptions opt;
  opt.batch_size = 8;
  opt.seed = 42;
  opt.flip = Flip::RandomHorizontal;
  DataLoader a(toy(50), opt), b(toy(50), opt);
  opt.seed = 43;
  DataLoader c(toy(50), opt);
  bool any_diff = false;
  for (int i = 0; i < 20; ++i) {  // crosses several epochs
    Batch ba = a.next(), bb = b.next(), bc = c.next();
    EXPECT_EQ(labels_of(ba), labels_of(bb));
    EXPECT_EQ(pixels_of(ba), pixels_of(bb));
    any_diff |= ba.indices != bc.indices;
  }
  EXPECT_TRUE(any_diff);
}

TEST(DataLoader, EachEpochIsAPermutationAndEpochsDiffer) {
  LoaderOptions opt;
  opt.batch_size = 5;
  opt.seed = 7;
  DataLoader loader(toy(20), opt);
  EXPECT_EQ(loader.batches_per_epoch(), 4);
  std::vector<int64_t> e0, e1;
  for (int i = 0; i < 4; ++i) for (int64_t k : loader.next().indices) e0.push_back(k);
  for (int i = 0; i < 4; ++i) for (int64_t k : loader.next().indices) e1.push_back(k);
  EXPECT_NE(e0, e1);
  std::vector<int64_t> s0 = e0, s1 = e1;
  std::sort(s0.begin(), s0.end());
  std::sort(s1.begin(), s1.end());
  for (int64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(s0[i], i);
    EXPECT_EQ(s1[i], i);
  }
  EXPECT_NE(e0, s0);  // actually shuffled
}

TEST(DataLoader, DropLastAndKeepLast) {
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = Shuffle::Off;
  opt.last_batch = LastBatch::Drop;
  DataLoader drop(toy(10), opt);
  EXPECT_EQ(drop.batches_per_epoch(), 2);
  EXPECT_EQ(drop.next().labels.numel(), 4);
  EXPECT_EQ(drop.next().labels.numel(), 4);
  Batch next_epoch = drop.next();  // items 8, 9 were dropped
  EXPECT_EQ(next_epoch.epoch, 1);
  EXPECT_EQ(labels_of(next_epoch), (std::vector<int64_t>{0, 1, 2, 3}));

  opt.last_batch = LastBatch::Keep;
  DataLoader keep(toy(10), opt);
  EXPECT_EQ(keep.batches_per_epoch(), 3);
  std::vector<Batch> all = keep.rest_of_epoch();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].labels.numel(), 2);
  EXPECT_EQ(labels_of(all[2]), (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(keep.state().epoch, 1);
  EXPECT_EQ(keep.state().position, 0);
}

TEST(DataLoader, ResumesExactlyFromSavedState) {
  LoaderOptions opt;
  opt.batch_size = 6;
  opt.seed = 123;
  opt.flip = Flip::RandomHorizontal;
  DataLoader first(toy(40), opt);
  for (int i = 0; i < 9; ++i) first.next();
  LoaderState saved = first.state();
  std::vector<Batch> expected;
  for (int i = 0; i < 8; ++i) expected.push_back(first.next());

  DataLoader resumed(toy(40), opt);
  resumed.next();  // some unrelated progress (and a prefetch in flight)
  resumed.set_state(saved);
  EXPECT_EQ(resumed.state(), saved);
  for (int i = 0; i < 8; ++i) {
    Batch b = resumed.next();
    EXPECT_EQ(b.indices, expected[i].indices) << "batch " << i;
    EXPECT_EQ(pixels_of(b), pixels_of(expected[i])) << "batch " << i;
  }
  // Prefetching does not change the stream.
  opt.prefetch = false;
  DataLoader sync(toy(40), opt);
  sync.set_state(saved);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(sync.next().indices, expected[i].indices);
}

TEST(DataLoader, RandomFlipMirrorsAboutHalfTheImages) {
  LoaderOptions opt;
  opt.batch_size = 200;
  opt.shuffle = Shuffle::Off;
  opt.flip = Flip::RandomHorizontal;
  opt.seed = 5;
  const int64_t W = 3;
  DataLoader loader(toy(200, 1, 1, W), opt);
  Batch b = loader.next();
  int flipped = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const float* row = b.images.data<float>() + i * W;
    auto px = [&](int64_t x) { return float((i + x) % 256) * (1.0f / 127.5f) - 1.0f; };  // the loader's formula
    bool same = row[0] == px(0) && row[2] == px(2);
    bool mirrored = row[0] == px(2) && row[2] == px(0);
    ASSERT_TRUE(same || mirrored) << "image " << i << " neither original nor mirrored";
    ASSERT_EQ(row[1], px(1));
    flipped += mirrored;
  }
  EXPECT_GT(flipped, 70);
  EXPECT_LT(flipped, 130);
  // Flip::None never mirrors.
  opt.flip = Flip::None;
  DataLoader plain(toy(200, 1, 1, W), opt);
  Batch p = plain.next();
  for (int64_t i = 0; i < 200; ++i) EXPECT_FLOAT_EQ(p.images.data<float>()[i * W], float(i % 256) * (1.0f / 127.5f) - 1.0f);
}

TEST(DataLoader, RejectsBadOptions) {
  LoaderOptions opt;
  opt.batch_size = 0;
  EXPECT_THROW(DataLoader(toy(4), opt), Error);
  opt.batch_size = 5;  // > size with drop_last: would never yield
  EXPECT_THROW(DataLoader(toy(4), opt), Error);
  opt.last_batch = LastBatch::Keep;
  EXPECT_NO_THROW(DataLoader(toy(4), opt));
  Dataset bad = toy(4);
  bad.images.pop_back();
  EXPECT_THROW(DataLoader(bad, opt), Error);
}

TEST(DataLoader, DatasetToTensors) {
  Batch all = dataset_to_tensors(toy(7), 5);
  EXPECT_EQ(all.images.shape(), (Shape{5, 1, 2, 3}));
  EXPECT_EQ(labels_of(all), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}
