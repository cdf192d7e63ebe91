// Writes the seed corpus of the fuzz harnesses: small valid files of every
// format (and a few variants), so that fuzzing starts from deep inside each
// parser. Run from the repository root after a format changes:
//   cmake --build build --target fuzz_make_corpus && build/fuzz/fuzz_make_corpus fuzz/corpus
#include <png.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <jpeglib.h>
#include <string>
#include <vector>

#include "data/image.h"
#include "fuzz/checkpoint_model.h"
#include "nn/safetensors.h"

using namespace drift;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

fs::path root;

void write(const std::string& target, const std::string& name, const Bytes& bytes) {
  fs::create_directories(root / target);
  std::ofstream f(root / target / name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
void write_text(const std::string& target, const std::string& name, const std::string& text) {
  write(target, name, Bytes(text.begin(), text.end()));
}
Bytes read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

Bytes gzip(const Bytes& in) {
  uLongf n = compressBound(in.size()) + 32;
  Bytes out(n);
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15 + 16: gzip wrapper
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void put_u32(Bytes& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(uint8_t(x >> (24 - 8 * i)));
}

Bytes idx(const std::vector<uint32_t>& dims) {
  Bytes v = {0, 0, 8, uint8_t(dims.size())};
  size_t n = 1;
  for (uint32_t d : dims) put_u32(v, d), n *= d;
  for (size_t i = 0; i < n; ++i) v.push_back(uint8_t(i * 7 % 10));
  return v;
}

Bytes cifar_records(int n) {
  Bytes v;
  for (int i = 0; i < n; ++i) {
    v.push_back(uint8_t(i % 10));
    for (int p = 0; p < 3072; ++p) v.push_back(uint8_t(p / 64 + i));
  }
  return v;
}

// A ustar archive (headers with checksums, data padded to 512, two zero blocks).
Bytes tar(const std::vector<std::pair<std::string, Bytes>>& files) {
  Bytes out;
  for (const auto& [name, data] : files) {
    char h[512] = {};
    std::snprintf(h, 100, "%s", name.c_str());
    std::snprintf(h + 100, 8, "%07o", 0644);
    std::snprintf(h + 124, 12, "%011lo", static_cast<unsigned long>(data.size()));
    std::snprintf(h + 136, 12, "%011o", 0);
    h[156] = '0';
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (char c : h) sum += static_cast<unsigned char>(c);
    std::snprintf(h + 148, 8, "%06o", sum);
    out.insert(out.end(), h, h + 512);
    out.insert(out.end(), data.begin(), data.end());
    out.resize((out.size() + 511) / 512 * 512, 0);
  }
  out.resize(out.size() + 1024, 0);
  return out;
}

Image picture(int w, int h, int c) {
  Image img(w, h, c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) img.at(x, y, k) = uint8_t(30 * x + 20 * y + 50 * k);
  return img;
}

Bytes png_simplified(const Image& img, png_uint_32 format) {
  png_image p;
  std::memset(&p, 0, sizeof(p));
  p.version = PNG_IMAGE_VERSION;
  p.width = img.width;
  p.height = img.height;
  p.format = format;
  std::vector<png_uint_16> wide(img.pixels.begin(), img.pixels.end());
  for (auto& v : wide) v = static_cast<png_uint_16>(v * 257);
  const bool linear = format & PNG_FORMAT_FLAG_LINEAR;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&p, nullptr, &size, 0, linear ? (void*)wide.data() : (void*)img.pixels.data(), 0,
                            nullptr);
  Bytes out(size);
  png_image_write_to_memory(&p, out.data(), &size, 0, linear ? (void*)wide.data() : (void*)img.pixels.data(), 0,
                            nullptr);
  out.resize(size);
  return out;
}

// A 4x4 palette PNG: pixel i has colour i % 4 of a 4-entry colour map.
Bytes png_palette() {
  png_image p;
  std::memset(&p, 0, sizeof(p));
  p.version = PNG_IMAGE_VERSION;
  p.width = 4;
  p.height = 4;
  p.format = PNG_FORMAT_RGB_COLORMAP;
  p.colormap_entries = 4;
  const uint8_t map[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 90, 90, 90};
  uint8_t index[16];
  for (int i = 0; i < 16; ++i) index[i] = uint8_t(i % 4);
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&p, nullptr, &size, 0, index, 0, map);
  Bytes out(size);
  png_image_write_to_memory(&p, out.data(), &size, 0, index, 0, map);
  out.resize(size);
  return out;
}

Bytes jpeg(const Image& img, bool progressive) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = img.width;
  c.image_height = img.height;
  c.input_components = img.channels;
  c.in_color_space = img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 75, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(img.pixels.data()) + size_t(c.next_scanline) * img.width * img.channels;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes out(buf, buf + size);
  std::free(buf);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus folder, e.g. fuzz/corpus>\n", argv[0]);
    return 2;
  }
  root = argv[1];
  const std::string tmp = (fs::temp_directory_path() / "drift_make_corpus.tmp").string();

  // safetensors: every dtype, metadata, an empty tensor, a scalar.
  nn::save_safetensors(tmp, {{"w", ops::ones({2, 3})}, {"d", ops::full({2}, 0.5, DType::Float64)},
                             {"i", ops::full({1}, 7, DType::Int64)}},
                       {{"format", "pt"}, {"note", "seed"}});
  write("safetensors", "three_dtypes.safetensors", read(tmp));
  nn::save_safetensors(tmp, {{"empty", ops::zeros({0, 4})}, {"scalar", ops::scalar_tensor(2.0)}});
  write("safetensors", "empty_and_scalar.safetensors", read(tmp));

  // checkpoint: the harness's own training state, fresh and after a step count.
  {
    fuzz::TinyRun run;
    nn::save_checkpoint(tmp, run.state());
    write("checkpoint", "fresh.ckpt", read(tmp));
    run.step = 12;
    run.data.offset = 99;
    nn::save_checkpoint(tmp, run.state());
    write("checkpoint", "step12.ckpt", read(tmp));
  }

  // IDX: images and labels, plain and gzip.
  write("idx", "images-3x4x4", idx({3, 4, 4}));
  write("idx", "labels-5", idx({5}));
  write("idx", "images-2x3x3.gz", gzip(idx({2, 3, 3})));

  // CIFAR-10 batches: plain and gzip.
  write("cifar_batch", "two_records.bin", cifar_records(2));
  write("cifar_batch", "one_record.bin.gz", gzip(cifar_records(1)));

  // CIFAR-10 archives: every batch with one record, plain tar and tar.gz.
  std::vector<std::pair<std::string, Bytes>> members;
  for (int b = 1; b <= 5; ++b)
    members.push_back({"cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin", cifar_records(1)});
  members.push_back({"cifar-10-batches-bin/test_batch.bin", cifar_records(1)});
  write("cifar_tar", "all_batches.tar.gz", gzip(tar(members)));
  write("cifar_tar", "test_only.tar", tar({{"cifar-10-batches-bin/test_batch.bin", cifar_records(1)}}));

  // Images: PNG of each channel count, 16-bit and palette PNG, JPEG grey /
  // RGB / progressive.
  for (int c = 1; c <= 4; ++c) {
    write_png(tmp, picture(5, 3, c));
    write("image", "c" + std::to_string(c) + ".png", read(tmp));
  }
  write("image", "linear16_rgb.png", png_simplified(picture(4, 4, 3), PNG_FORMAT_LINEAR_RGB));
  write("image", "palette.png", png_palette());
  write("image", "grey.jpg", jpeg(picture(8, 8, 1), false));
  write("image", "rgb.jpg", jpeg(picture(16, 8, 3), false));
  write("image", "progressive.jpg", jpeg(picture(16, 16, 3), true));

  // Configurations: a train config and a U-Net config.
  write_text("config", "train.json",
             R"({"preset": "tiny", "data": "mnist", "steps": 10, "batch_size": 4, "lr": 0.001,
  "unet": {"base_channels": 8, "channel_mult": [1, 2]}, "schedule": "cosine", "seed": 3})");
  write_text("config", "unet.json",
             R"({"in_channels": 1, "image_size": 8, "base_channels": 16, "channel_mult": [1, 2],
  "num_res_blocks": 1, "attention_resolutions": [4], "dropout": 0.1, "groups": 4, "num_classes": 0,
  "attention_heads": 1, "seed": 0})");
  std::remove(tmp.c_str());
  std::printf("seed corpus written under %s\n", root.string().c_str());
  return 0;
}
