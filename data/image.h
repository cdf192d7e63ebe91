#pragma once
// Image files and pictures made from tensors: PNG writing (stb_image_write),
// PNG and JPEG reading (libpng, libjpeg-turbo; image_decode.cpp), sample grids, trajectory
// strips and a small line-plot writer for loss curves.
//
// Pixel buffers are 8-bit, row-major, channels interleaved (H x W x C), the
// layout PNG files use. Tensors are channel-first ([C, H, W] or [B, C, H, W])
// with values in [-1, 1], the range diffusion models work in.
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace drift {

// An 8-bit image in memory: pixels[(y * width + x) * channels + c].
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;  // 1 (grey), 3 (RGB) or 4 (RGBA)
  std::vector<uint8_t> pixels;

  Image() = default;
  Image(int w, int h, int c, uint8_t fill = 0)
      : width(w), height(h), channels(c), pixels(static_cast<size_t>(w) * h * c, fill) {}
  uint8_t& at(int x, int y, int c) { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
  uint8_t at(int x, int y, int c) const { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
};

// Writes `pixels` (height * width * channels bytes, channels 1..4) as a PNG.
// Throws drift::Error naming the file if it cannot be written.
void write_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels);
void write_png(const std::string& path, const Image& image);
// Writes a float tensor [C, H, W] or [H, W] (C = 1 or 3) whose values lie in
// [lo, hi] (default [-1, 1]); values outside are clamped.
void write_png(const std::string& path, const Tensor& image, float lo = -1.0f, float hi = 1.0f);

// Reads a PNG (libpng) or JPEG (libjpeg-turbo) file, recognised by its first
// bytes; other formats are refused. `channels` = 0 keeps the file's channel
// count (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA); 1..4 converts (grey =
// (77 R + 150 G + 29 B) / 256, alpha dropped or set to 255). The size in the
// header is checked against `max_pixels` before anything is decoded.
// Throws naming the file: missing, too large, corrupt or truncated,
// unsupported format.
constexpr uint64_t kMaxImagePixels = uint64_t{1} << 26;      // 8192 x 8192
constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 30;   // 1 GiB
Image read_image(const std::string& path, int channels = 0);
// The same for the bytes of a file already in memory; `name` is used in messages.
Image decode_image(const uint8_t* data, size_t size, const std::string& name, int channels = 0,
                   uint64_t max_pixels = kMaxImagePixels);

// Bilinear resize (pixel centres aligned, as PyTorch's align_corners=False).
Image resize_image(const Image& src, int width, int height);

// Converts between tensors in [lo, hi] and 8-bit images.
//   tensor [C, H, W] (or [H, W]) float -> Image (x -> round((x - lo) / (hi - lo) * 255))
//   Image -> tensor [C, H, W] float32 in [lo, hi]
Image tensor_to_image(const Tensor& image, float lo = -1.0f, float hi = 1.0f);
Tensor image_to_tensor(const Image& image, float lo = -1.0f, float hi = 1.0f);

// Tiles a batch [B, C, H, W] (values in [-1, 1]) into one picture with `nrow`
// images per row and `padding` pixels of `pad_value` between them, like
// torchvision.utils.make_grid.
Image make_grid(const Tensor& batch, int nrow = 8, int padding = 2, uint8_t pad_value = 255);
// make_grid + write_png.
void save_grid(const std::string& path, const Tensor& batch, int nrow = 8, int padding = 2);

// A trajectory strip: frames[k] is the batch [B, C, H, W] at step k of a
// sampler. Row b shows sample b through time, left (first frame) to right.
Image make_trajectory_strip(const std::vector<Tensor>& frames, int padding = 2);
void save_trajectory_strip(const std::string& path, const std::vector<Tensor>& frames, int padding = 2);

// A line plot of one or more series (e.g. loss per step and its moving
// average), drawn into a pixel buffer: white background, axes with tick
// labels, one polyline per series. Non-finite values are skipped.
struct PlotSeries {
  std::vector<double> y;      // y[i] plotted at x = x0 + i * dx
  double x0 = 0.0;
  double dx = 1.0;
  uint8_t r = 31, g = 119, b = 180;  // colour
};
struct PlotOptions {
  int width = 800;
  int height = 480;
  bool log_y = false;  // plot log10(y) (non-positive values skipped)
  std::string title;   // drawn at the top (ASCII)
};
Image plot_lines(const std::vector<PlotSeries>& series, const PlotOptions& options = {});
void write_line_plot(const std::string& path, const std::vector<PlotSeries>& series,
                     const PlotOptions& options = {});

}  // namespace drift
