// Readers of data/: IDX (plain and .gz), CIFAR-10 batches and tar.gz,
// image folders, PNG writing, grids and plots. Every file is written to a
// temporary folder by the test itself.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cifar.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data_writers.h"

namespace fs = std::filesystem;
using namespace drift;
using namespace drift::test;

// ------------------------------------------------------------------ IDX

TEST(DataIdx, ReadsPlainAndGzipIdentically) {
  TempDir dir;
  write_bytes(dir / "img", idx_images(5, 4, 3));
  write_gz(dir / "img.gz", idx_images(5, 4, 3));
  IdxArray a = read_idx(dir / "img", 3);
  IdxArray b = read_idx(dir / "img.gz", 3);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{5, 4, 3}));
  EXPECT_EQ(a.dims, b.dims);
  EXPECT_EQ(a.data, b.data);
  ASSERT_EQ(a.data.size(), 60u);
  EXPECT_EQ(a.data[12 * 2 + 5], uint8_t(2 * 7 + 5));  // image 2, pixel 5
}

TEST(DataIdx, LoadsMnistFolderLayout) {
  TempDir dir;
  write_gz(dir / "train-images-idx3-ubyte.gz", idx_images(12, 28, 28));
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx_labels(12));
  write_bytes(dir / "t10k-images-idx3-ubyte", idx_images(3, 28, 28));  // plain, not gz
  write_bytes(dir / "t10k-labels-idx1-ubyte", idx_labels(3));
  Dataset train = load_mnist(dir.path.string(), Split::Train);
  Dataset test = load_mnist(dir.path.string(), Split::Test);
  EXPECT_EQ(train.size(), 12);
  EXPECT_EQ(test.size(), 3);
  EXPECT_EQ(train.channels, 1);
  EXPECT_EQ(train.height, 28);
  EXPECT_EQ(train.width, 28);
  EXPECT_EQ(train.labels[11], 1);
  EXPECT_EQ(train.image(3)[0], uint8_t(21));
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_NO_THROW(train.validate());
}

TEST(DataIdx, WrongMagicNamesTheFile) {
  TempDir dir;
  std::vector<uint8_t> v = idx_images(2, 2, 2);
  v[2] = 0x0D;  // float data: not supported
  write_bytes(dir / "bad-magic", v);
  expect_error([&] { read_idx(dir / "bad-magic"); }, {dir / "bad-magic", "magic"});
  // A label file passed where images are expected: 1 dimension, not 3.
  write_bytes(dir / "labels", idx_labels(4));
  expect_error([&] { read_idx(dir / "labels", 3); }, {dir / "labels", "magic", "expected 3"});
}

TEST(DataIdx, TruncatedNamesTheFile) {
  TempDir dir;
  std::vector<uint8_t> v = idx_images(4, 5, 5);
  v.resize(v.size() - 10);
  write_gz(dir / "short.gz", v);
  expect_error([&] { read_idx(dir / "short.gz"); }, {dir / "short.gz", "truncated"});
  // A header promising 2^32 - 1 images of 2^32 - 1 x 2^32 - 1 bytes (would overflow a size_t product).
  std::vector<uint8_t> huge = {0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1, 2, 3};
  write_bytes(dir / "huge", huge);
  expect_error([&] { read_idx(dir / "huge"); }, {dir / "huge", "truncated"});
  write_bytes(dir / "tiny", {0, 0});
  expect_error([&] { read_idx(dir / "tiny"); }, {dir / "tiny", "truncated"});
  // A gzip stream cut in the middle.
  write_gz(dir / "full.gz", idx_images(50, 28, 28));
  std::ifstream in(dir / "full.gz", std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz.resize(gz.size() / 2);
  write_bytes(dir / "cut.gz", gz);
  expect_error([&] { read_idx(dir / "cut.gz"); }, {dir / "cut.gz"});
}

TEST(DataIdx, CountMismatchNamesBothFiles) {
  TempDir dir;
  write_bytes(dir / "i", idx_images(6, 2, 2));
  write_bytes(dir / "l", idx_labels(5));
  expect_error([&] { load_idx(dir / "i", dir / "l"); }, {dir / "i", dir / "l", "6", "5", "disagree"});
}

TEST(DataIdx, MissingFileNamesIt) {
  TempDir dir;
  expect_error([&] { read_idx(dir / "nope.gz"); }, {dir / "nope.gz", "no such file"});
  expect_error([&] { load_mnist(dir / "nowhere", Split::Train); }, {dir / "nowhere", "does not exist"});
  write_bytes(dir / "train-images-idx3-ubyte", idx_images(2, 2, 2));
  expect_error([&] { load_mnist(dir.path.string(), Split::Train); }, {"train-labels-idx1-ubyte", "missing"});
}

// ------------------------------------------------------------------ CIFAR-10

TEST(DataCifar, ReadsBatchFile) {
  TempDir dir;
  write_bytes(dir / "test_batch.bin", cifar_records(7));
  Dataset d = read_cifar10_batch(dir / "test_batch.bin");
  EXPECT_EQ(d.size(), 7);
  EXPECT_EQ(d.channels, 3);
  EXPECT_EQ(d.height, 32);
  EXPECT_EQ(d.labels[3], 3);
  EXPECT_EQ(d.image(2)[1024], uint8_t((2 + 1024) % 251));  // first green pixel
  EXPECT_EQ(d.class_names.at(9), "truck");
}

TEST(DataCifar, SizeNotMultipleOfRecordNamesTheFile) {
  TempDir dir;
  std::vector<uint8_t> v = cifar_records(3);
  v.pop_back();
  write_bytes(dir / "data_batch_1.bin", v);
  expect_error([&] { read_cifar10_batch(dir / "data_batch_1.bin"); }, {dir / "data_batch_1.bin", "3073"});
}

TEST(DataCifar, ReadsFolderAndTarGzIdentically) {
  TempDir dir;
  fs::create_directories(dir.path / "cifar-10-batches-bin");
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files;
  for (int b = 1; b <= 5; ++b) {
    std::string name = "data_batch_" + std::to_string(b) + ".bin";
    files.push_back({"cifar-10-batches-bin/" + name, cifar_records(4, 4 * b)});
    write_bytes((dir.path / "cifar-10-batches-bin" / name).string(), files.back().second);
  }
  files.push_back({"cifar-10-batches-bin/batches.meta.txt", {'a', '\n'}});
  files.push_back({"cifar-10-batches-bin/test_batch.bin", cifar_records(2)});
  write_bytes((dir.path / "cifar-10-batches-bin" / "test_batch.bin").string(), files.back().second);
  write_gz(dir / "cifar-10-binary.tar.gz", make_tar(files));

  Dataset from_dir = load_cifar10(dir.path.string(), Split::Train);  // finds cifar-10-batches-bin/
  Dataset from_tar = load_cifar10(dir / "cifar-10-binary.tar.gz", Split::Train);
  EXPECT_EQ(from_dir.size(), 20);
  EXPECT_EQ(from_dir.labels, from_tar.labels);
  EXPECT_EQ(from_dir.images, from_tar.images);
  EXPECT_EQ(from_tar.labels[0], 4);  // batch 1 starts at record 4
  Dataset test = load_cifar10(dir / "cifar-10-binary.tar.gz", Split::Test);
  EXPECT_EQ(test.size(), 2);
}

TEST(DataCifar, ArchiveErrorsNameTheArchive) {
  TempDir dir;
  write_gz(dir / "only-test.tar.gz", make_tar({{"cifar-10-batches-bin/test_batch.bin", cifar_records(1)}}));
  expect_error([&] { load_cifar10(dir / "only-test.tar.gz", Split::Train); },
               {dir / "only-test.tar.gz", "data_batch_1.bin"});
  expect_error([&] { load_cifar10(dir / "missing.tar.gz", Split::Test); }, {dir / "missing.tar.gz"});
}

// ------------------------------------------------------------------ PNG, folders, grids, plots

TEST(DataImage, PngRoundTrip) {
  TempDir dir;
  Image img(5, 3, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x)
      for (int c = 0; c < 3; ++c) img.at(x, y, c) = uint8_t(x * 40 + y * 10 + c);
  write_png(dir / "a.png", img);
  Image back = read_image(dir / "a.png");
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.channels, 3);
  EXPECT_EQ(back.pixels, img.pixels);
  Image grey = read_image(dir / "a.png", 1);
  EXPECT_EQ(grey.channels, 1);
}

TEST(DataImage, TensorConversionMapsMinusOneToZeroAndOneTo255) {
  Tensor t = new_cpu_tensor({1, 1, 3}, DType::Float32);
  t.data<float>()[0] = -1.0f;
  t.data<float>()[1] = 0.0f;
  t.data<float>()[2] = 7.0f;  // clamped
  Image img = tensor_to_image(t);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{0, 128, 255}));
  Tensor back = image_to_tensor(img);
  EXPECT_FLOAT_EQ(back.data<float>()[0], -1.0f);
  EXPECT_FLOAT_EQ(back.data<float>()[2], 1.0f);
}

TEST(DataImage, GridLayout) {
  // 5 images 2x3 (H x W), 1 channel, image b filled with value -1 + b * 0.5.
  Tensor batch = new_cpu_tensor({5, 1, 2, 3}, DType::Float32);
  for (int b = 0; b < 5; ++b)
    for (int p = 0; p < 6; ++p) batch.data<float>()[b * 6 + p] = -1.0f + 0.5f * b;
  Image grid = make_grid(batch, 2, 1);
  EXPECT_EQ(grid.width, 2 * (3 + 1) + 1);
  EXPECT_EQ(grid.height, 3 * (2 + 1) + 1);
  EXPECT_EQ(grid.at(0, 0, 0), 255);  // padding
  EXPECT_EQ(grid.at(1, 1, 0), 0);    // image 0
  EXPECT_EQ(grid.at(5, 1, 0), 64);   // image 1 = -0.5 -> 63.75
  EXPECT_EQ(grid.at(1, 7, 0), 255);  // image 4 = 1.0
  EXPECT_EQ(grid.at(5, 7, 0), 255);  // empty slot stays padding
  TempDir dir;
  save_grid(dir / "grid.png", batch, 2);
  EXPECT_EQ(read_image(dir / "grid.png").channels, 1);
}

TEST(DataImage, TrajectoryStripHasOneColumnPerFrame) {
  std::vector<Tensor> frames;
  for (int k = 0; k < 4; ++k) {
    Tensor f = new_cpu_tensor({2, 3, 4, 4}, DType::Float32);
    for (int i = 0; i < 96; ++i) f.data<float>()[i] = -1.0f + 0.5f * k;
    frames.push_back(f);
  }
  Image strip = make_trajectory_strip(frames, 2);
  EXPECT_EQ(strip.width, 4 * 6 + 2);
  EXPECT_EQ(strip.height, 2 * 6 + 2);
  EXPECT_EQ(strip.channels, 3);
  EXPECT_EQ(strip.at(2, 2, 0), 0);          // frame 0
  EXPECT_EQ(strip.at(2 + 3 * 6, 8, 1), 191);  // frame 3 = 0.5 -> 191.25, second row
}

TEST(DataImage, LinePlotDrawsTheCurve) {
  PlotSeries s;
  for (int i = 0; i < 100; ++i) s.y.push_back(1.0 / (1 + i));
  s.y[50] = NAN;  // skipped, not a crash
  PlotOptions opt;
  opt.title = "loss";
  Image img = plot_lines({s}, opt);
  EXPECT_EQ(img.width, opt.width);
  int coloured = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (img.at(x, y, 0) == s.r && img.at(x, y, 1) == s.g && img.at(x, y, 2) == s.b) ++coloured;
  EXPECT_GT(coloured, 300);  // a polyline across the plot
  TempDir dir;
  opt.log_y = true;
  write_line_plot(dir / "loss.png", {s}, opt);
  EXPECT_EQ(read_image(dir / "loss.png").width, opt.width);
}

TEST(DataImage, WriteErrorsNameThePath) {
  Image img(2, 2, 1);
  expect_error([&] { write_png("/nonexistent-dir/x.png", img); }, {"/nonexistent-dir/x.png"});
}

TEST(DataImageFolder, ReadsClassesInSortedOrder) {
  TempDir dir;
  fs::create_directories(dir.path / "b_dog");
  fs::create_directories(dir.path / "a_cat");
  Image red(4, 4, 3), blue(4, 4, 3);
  for (int i = 0; i < 16; ++i) { red.pixels[i * 3] = 200; blue.pixels[i * 3 + 2] = 100; }
  write_png(dir / "a_cat/1.png", red);
  write_png(dir / "a_cat/2.png", red);
  write_png(dir / "b_dog/1.png", blue);
  std::ofstream(dir / "b_dog/notes.txt") << "ignored";
  Dataset d = load_image_folder(dir.path.string());
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"a_cat", "b_dog"}));
  EXPECT_EQ(d.labels, (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(d.channels, 3);
  EXPECT_EQ(d.image(0)[0], 200);       // red plane of a cat
  EXPECT_EQ(d.image(2)[2 * 16], 100);  // blue plane of the dog
  ImageFolderOptions opt;
  opt.size = 8;
  opt.channels = 1;
  Dataset big = load_image_folder(dir.path.string(), opt);
  EXPECT_EQ(big.height, 8);
  EXPECT_EQ(big.channels, 1);
}

TEST(DataImageFolder, UnreadableImageNamesIt) {
  TempDir dir;
  fs::create_directories(dir.path / "x");
  write_png(dir / "x/good.png", Image(3, 3, 1));
  std::ofstream(dir / "x/zbad.png") << "this is not a png";
  expect_error([&] { load_image_folder(dir.path.string()); }, {"zbad.png", "not a readable image"});
}

TEST(DataImageFolder, SizeMismatchAndMissingFolder) {
  TempDir dir;
  fs::create_directories(dir.path / "x");
  write_png(dir / "x/a.png", Image(3, 3, 1));
  write_png(dir / "x/b.png", Image(4, 3, 1));
  expect_error([&] { load_image_folder(dir.path.string()); }, {"b.png", "4x3"});
  expect_error([&] { load_image_folder(dir / "missing"); }, {dir / "missing"});
  expect_error([&] { read_image(dir / "missing.png"); }, {dir / "missing.png"});
}
