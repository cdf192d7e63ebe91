// Image reading through libpng and libjpeg-turbo: PNG and JPEG files written
// by this test read back (exactly for PNG, closely for JPEG, with channel
// conversion), and cut, corrupt, oversized and other-format files are errors
// naming the file -- never zero-padded or half-decoded pictures.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <jpeglib.h>

#include "data/image.h"
#include "data/image_folder.h"
#include "data_writers.h"

using namespace drift;
using namespace drift::test;

namespace {

// A w x h picture with c channels whose pixels vary smoothly (so JPEG keeps them close).
Image test_picture(int w, int h, int c) {
  Image img(w, h, c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) img.at(x, y, k) = uint8_t(40 + 3 * x + 2 * y + 30 * k);
  return img;
}

// Encodes 1- or 3-channel pixels as a baseline JPEG with libjpeg.
std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 95) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buf, &size);
  cinfo.image_width = img.width;
  cinfo.image_height = img.height;
  cinfo.input_components = img.channels;
  cinfo.in_color_space = img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(img.pixels.data()) + size_t(cinfo.next_scanline) * img.width * img.channels;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

int max_abs_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.pixels.size(), b.pixels.size());
  int m = 0;
  for (size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i) m = std::max(m, std::abs(a.pixels[i] - b.pixels[i]));
  return m;
}

uint32_t get_be32(const std::vector<uint8_t>& v, size_t at) {
  return uint32_t(v[at]) << 24 | uint32_t(v[at + 1]) << 16 | uint32_t(v[at + 2]) << 8 | v[at + 3];
}
void set_be32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[at + i] = uint8_t(x >> (24 - 8 * i));
}

}  // namespace

TEST(DataImageDecode, PngRoundTripsExactlyWithChannelConversion) {
  TempDir dir;
  for (int c : {1, 2, 3, 4}) {
    Image img = test_picture(7, 5, c);
    write_png(dir / "a.png", img);
    Image back = read_image(dir / "a.png");
    EXPECT_EQ(back.width, 7);
    EXPECT_EQ(back.height, 5);
    EXPECT_EQ(back.channels, c);
    EXPECT_EQ(back.pixels, img.pixels) << c << " channels";
  }
  Image rgba = test_picture(3, 2, 4);
  write_png(dir / "rgba.png", rgba);
  Image grey = read_image(dir / "rgba.png", 1), rgb = read_image(dir / "rgba.png", 3);
  const uint8_t r = rgba.at(2, 1, 0), g = rgba.at(2, 1, 1), b = rgba.at(2, 1, 2);
  EXPECT_EQ(grey.at(2, 1, 0), (r * 77 + g * 150 + b * 29) >> 8);  // luma, alpha dropped
  EXPECT_EQ(rgb.at(2, 1, 2), b);
  write_png(dir / "grey.png", test_picture(3, 2, 1));
  Image grey4 = read_image(dir / "grey.png", 4);
  EXPECT_EQ(grey4.at(1, 1, 0), grey4.at(1, 1, 2));
  EXPECT_EQ(grey4.at(1, 1, 3), 255);
}

TEST(DataImageDecode, JpegReadsCloseToTheOriginal) {
  TempDir dir;
  for (int c : {1, 3}) {
    Image img = test_picture(16, 8, c);
    write_bytes(dir / "a.jpg", encode_jpeg(img));
    Image back = read_image(dir / "a.jpg");
    EXPECT_EQ(back.width, 16);
    EXPECT_EQ(back.height, 8);
    EXPECT_EQ(back.channels, c);
    EXPECT_LE(max_abs_diff(back, img), 6) << c << " channels";
  }
  // An image folder of JPEGs (the common case for user data).
  fs::create_directories(dir.path / "set/cats");
  write_bytes(dir / "set/cats/1.jpg", encode_jpeg(test_picture(8, 8, 3)));
  write_bytes(dir / "set/cats/2.JPEG", encode_jpeg(test_picture(8, 8, 3)));
  Dataset d = load_image_folder(dir / "set");
  EXPECT_EQ(d.size(), 2);
  EXPECT_EQ(d.channels, 3);
}

TEST(DataImageDecode, CutAndCorruptFilesAreErrors) {
  TempDir dir;
  write_png(dir / "good.png", test_picture(40, 30, 3));
  const std::vector<uint8_t> png = read_all(dir / "good.png");
  write_bytes(dir / "cut.png", std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  expect_error([&] { read_image(dir / "cut.png"); }, {dir / "cut.png", "PNG"});
  std::vector<uint8_t> bad = png;
  bad[png.size() / 2] ^= 0x55;  // inside the image data: its CRC no longer matches
  write_bytes(dir / "crc.png", bad);
  expect_error([&] { read_image(dir / "crc.png"); }, {dir / "crc.png", "PNG"});

  const std::vector<uint8_t> jpg = encode_jpeg(test_picture(64, 48, 3));
  write_bytes(dir / "cut.jpg", std::vector<uint8_t>(jpg.begin(), jpg.begin() + jpg.size() / 2));
  // libjpeg fills a cut file with grey and only warns; that is an error here.
  expect_error([&] { read_image(dir / "cut.jpg"); }, {dir / "cut.jpg", "JPEG"});
  write_bytes(dir / "soi.jpg", {0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02});
  expect_error([&] { read_image(dir / "soi.jpg"); }, {dir / "soi.jpg", "JPEG"});
  write_bytes(dir / "empty.png", {});
  expect_error([&] { read_image(dir / "empty.png"); }, {dir / "empty.png", "not a readable image"});
}

TEST(DataImageDecode, PixelCountIsCheckedBeforeDecoding) {
  TempDir dir;
  // A PNG whose header (IHDR, with a correct CRC) claims 100000 x 100000.
  write_png(dir / "small.png", test_picture(4, 4, 1));
  std::vector<uint8_t> png = read_all(dir / "small.png");
  ASSERT_EQ(std::string(png.begin() + 12, png.begin() + 16), "IHDR");
  set_be32(png, 16, 100000);
  set_be32(png, 20, 100000);
  set_be32(png, 29, static_cast<uint32_t>(crc32(0, png.data() + 12, 17)));
  write_bytes(dir / "huge.png", png);
  expect_error([&] { read_image(dir / "huge.png"); }, {dir / "huge.png", "100000x100000", "limit"});
  EXPECT_EQ(get_be32(png, 16), 100000u);

  // A JPEG whose frame header claims 65000 x 65000.
  std::vector<uint8_t> jpg = encode_jpeg(test_picture(8, 8, 1));
  size_t sof = 2;
  while (sof + 9 < jpg.size() && !(jpg[sof] == 0xFF && jpg[sof + 1] == 0xC0)) ++sof;
  ASSERT_LT(sof + 9, jpg.size());
  jpg[sof + 5] = 0xFD, jpg[sof + 6] = 0xE8, jpg[sof + 7] = 0xFD, jpg[sof + 8] = 0xE8;  // 65000 = 0xFDE8
  write_bytes(dir / "huge.jpg", jpg);
  expect_error([&] { read_image(dir / "huge.jpg"); }, {dir / "huge.jpg", "65000x65000", "limit"});

  // A caller's smaller limit.
  const std::vector<uint8_t> ok = read_all(dir / "small.png");
  expect_error([&] { decode_image(ok.data(), ok.size(), "mem.png", 0, 15); }, {"mem.png", "4x4", "limit of 15"});
  EXPECT_EQ(decode_image(ok.data(), ok.size(), "mem.png", 0, 16).width, 4);
}

TEST(DataImageDecode, OtherFormatsAreRefusedByName) {
  TempDir dir;
  // BMP, GIF and a 40-byte TGA (stb_image decoded one such file into a
  // 476 MB picture): refused by their first bytes, whatever the extension.
  std::vector<uint8_t> bmp = {'B', 'M'};
  bmp.resize(60, 0);
  write_bytes(dir / "a.bmp", bmp);
  expect_error([&] { read_image(dir / "a.bmp"); }, {dir / "a.bmp", "BMP file", "PNG and JPEG"});
  write_bytes(dir / "a.png", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0});
  expect_error([&] { read_image(dir / "a.png"); }, {dir / "a.png", "GIF file"});
  std::vector<uint8_t> tga = {0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0x7F, 0xFF, 0x1F, 32, 0};
  tga.resize(40, 0);
  write_bytes(dir / "a.tga", tga);
  expect_error([&] { read_image(dir / "a.tga"); }, {dir / "a.tga", "not a readable image"});
  // In an image folder the file is named, not skipped.
  fs::create_directories(dir.path / "set/x");
  write_png(dir / "set/x/1.png", test_picture(4, 4, 3));
  write_bytes(dir / "set/x/2.bmp", bmp);
  expect_error([&] { load_image_folder(dir / "set"); }, {"2.bmp", "BMP"});
  expect_error([&] { read_image(dir / "nothing.png"); }, {dir / "nothing.png", "cannot open"});
  expect_error([&] { read_image(dir.path.string()); }, {dir.path.string(), "cannot open"});
}
