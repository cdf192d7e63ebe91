#include "data/image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "data/loader.h"
#include "tensor/ops.h"

// The stb implementations live in this one translation unit. (Images are
// read by libpng / libjpeg-turbo in image_decode.cpp, not by stb_image.)
#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include <stb_easy_font.h>
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace drift {

namespace {

// Copies any tensor to a host vector<float> in row-major order without
// depending on kernels: CPU float32/float64 tensors are read through their
// strides directly; other devices are moved to the CPU first.
std::vector<float> host_floats(const Tensor& t) {
  Tensor c = t;
  if (c.device() != Device::CPU) c = ops::to(c, Device::CPU);
  DRIFT_CHECK(is_floating(c.dtype()), "image: expected a float32 or float64 tensor, got ",
              dtype_name(c.dtype()));
  const int64_t n = c.numel();
  std::vector<float> out(static_cast<size_t>(n));
  const int64_t nd = c.dim();
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
  const char* base = static_cast<const char*>(c.data_ptr());
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < nd; ++d) off += idx[d] * c.strides()[d];
    out[i] = c.dtype() == DType::Float32 ? reinterpret_cast<const float*>(base)[off]
                                         : static_cast<float>(reinterpret_cast<const double*>(base)[off]);
    for (int64_t d = nd - 1; d >= 0; --d) {  // odometer increment
      if (++idx[d] < c.shape()[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

uint8_t to_byte(float x, float lo, float hi) {
  float v = (x - lo) / (hi - lo) * 255.0f;
  if (!(v > 0.0f)) return 0;  // also maps NaN to 0
  if (v >= 255.0f) return 255;
  return static_cast<uint8_t>(std::lround(v));
}

// Copies image `b` of a host batch [B, C, H, W] into `dst` at (x0, y0).
void blit(Image& dst, const std::vector<float>& batch, int64_t b, int64_t C, int64_t H, int64_t W, int x0,
          int y0) {
  const int out_c = dst.channels;
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      for (int c = 0; c < out_c; ++c) {
        int64_t src_c = C == 1 ? 0 : c;
        float v = batch[((b * C + src_c) * H + y) * W + x];
        dst.at(x0 + static_cast<int>(x), y0 + static_cast<int>(y), c) = to_byte(v, -1.0f, 1.0f);
      }
    }
  }
}

void check_batch(const Tensor& batch, const char* who) {
  DRIFT_CHECK(batch.dim() == 4, who, ": expected a batch [B, C, H, W], got shape ", shape_str(batch.shape()));
  DRIFT_CHECK(batch.size(1) == 1 || batch.size(1) == 3, who, ": expected 1 or 3 channels, got ",
              batch.size(1), " (shape ", shape_str(batch.shape()), ")");
}

}  // namespace

void write_png(const std::string& path, const uint8_t* pixels, int width, int height, int channels) {
  DRIFT_CHECK(width > 0 && height > 0, "write_png(", path, "): expected a positive size, got ", width, "x",
              height);
  DRIFT_CHECK(channels >= 1 && channels <= 4, "write_png(", path, "): expected 1 to 4 channels, got ",
              channels);
  int ok = stbi_write_png(path.c_str(), width, height, channels, pixels, width * channels);
  DRIFT_CHECK(ok != 0, "write_png: cannot write '", path, "' (does the folder exist and is it writable?)");
}

void write_png(const std::string& path, const Image& image) {
  DRIFT_CHECK(image.pixels.size() == static_cast<size_t>(image.width) * image.height * image.channels,
              "write_png(", path, "): image buffer holds ", image.pixels.size(), " bytes, expected ",
              image.width, "x", image.height, "x", image.channels);
  write_png(path, image.pixels.data(), image.width, image.height, image.channels);
}

void write_png(const std::string& path, const Tensor& image, float lo, float hi) {
  write_png(path, tensor_to_image(image, lo, hi));
}

Image tensor_to_image(const Tensor& image, float lo, float hi) {
  DRIFT_CHECK(image.dim() == 2 || image.dim() == 3, "tensor_to_image: expected [C, H, W] or [H, W], got shape ",
              shape_str(image.shape()));
  DRIFT_CHECK(hi > lo, "tensor_to_image: expected hi > lo, got [", lo, ", ", hi, "]");
  const int64_t C = image.dim() == 3 ? image.size(0) : 1;
  const int64_t H = image.size(-2), W = image.size(-1);
  DRIFT_CHECK(C == 1 || C == 3 || C == 4, "tensor_to_image: expected 1, 3 or 4 channels, got ", C);
  std::vector<float> v = host_floats(image);
  Image out(static_cast<int>(W), static_cast<int>(H), static_cast<int>(C));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        out.at(static_cast<int>(x), static_cast<int>(y), static_cast<int>(c)) = to_byte(v[(c * H + y) * W + x], lo, hi);
  return out;
}

Tensor image_to_tensor(const Image& image, float lo, float hi) {
  const int C = image.channels, H = image.height, W = image.width;
  Tensor t = new_cpu_tensor({C, H, W}, DType::Float32);
  float* p = t.data<float>();
  const float scale = (hi - lo) / 255.0f;
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) p[(static_cast<size_t>(c) * H + y) * W + x] = lo + scale * image.at(x, y, c);
  return t;
}

Image resize_image(const Image& src, int w, int h) {
  DRIFT_CHECK(w > 0 && h > 0 && src.width > 0 && src.height > 0, "resize_image: bad sizes ", src.width, "x",
              src.height, " -> ", w, "x", h);
  Image dst(w, h, src.channels);
  const double sx = static_cast<double>(src.width) / w, sy = static_cast<double>(src.height) / h;
  for (int y = 0; y < h; ++y) {
    double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, src.height - 1.0);
    int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, src.height - 1);
    double ty = fy - y0;
    for (int x = 0; x < w; ++x) {
      double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, src.width - 1.0);
      int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, src.width - 1);
      double tx = fx - x0;
      for (int c = 0; c < src.channels; ++c) {
        double top = src.at(x0, y0, c) * (1 - tx) + src.at(x1, y0, c) * tx;
        double bot = src.at(x0, y1, c) * (1 - tx) + src.at(x1, y1, c) * tx;
        dst.at(x, y, c) = static_cast<uint8_t>(std::lround(top * (1 - ty) + bot * ty));
      }
    }
  }
  return dst;
}

Image make_grid(const Tensor& batch, int nrow, int padding, uint8_t pad_value) {
  check_batch(batch, "make_grid");
  DRIFT_CHECK(nrow > 0, "make_grid: nrow must be positive, got ", nrow);
  DRIFT_CHECK(padding >= 0, "make_grid: padding must be >= 0, got ", padding);
  const int64_t B = batch.size(0), C = batch.size(1), H = batch.size(2), W = batch.size(3);
  DRIFT_CHECK(B > 0, "make_grid: empty batch");
  const int cols = static_cast<int>(std::min<int64_t>(nrow, B));
  const int rows = static_cast<int>((B + nrow - 1) / nrow);
  // torchvision layout: padding around every tile, shared between neighbours.
  const int gw = cols * static_cast<int>(W + padding) + padding;
  const int gh = rows * static_cast<int>(H + padding) + padding;
  Image grid(gw, gh, static_cast<int>(C), pad_value);
  std::vector<float> v = host_floats(batch);
  for (int64_t b = 0; b < B; ++b) {
    int col = static_cast<int>(b % nrow), row = static_cast<int>(b / nrow);
    blit(grid, v, b, C, H, W, padding + col * static_cast<int>(W + padding), padding + row * static_cast<int>(H + padding));
  }
  return grid;
}

void save_grid(const std::string& path, const Tensor& batch, int nrow, int padding) {
  write_png(path, make_grid(batch, nrow, padding));
}

Image make_trajectory_strip(const std::vector<Tensor>& frames, int padding) {
  DRIFT_CHECK(!frames.empty(), "make_trajectory_strip: no frames");
  for (const Tensor& f : frames) {
    check_batch(f, "make_trajectory_strip");
    DRIFT_CHECK(f.shape() == frames[0].shape(), "make_trajectory_strip: frame shapes differ: ",
                shape_str(f.shape()), " vs ", shape_str(frames[0].shape()));
  }
  const int64_t B = frames[0].size(0), C = frames[0].size(1), H = frames[0].size(2), W = frames[0].size(3);
  const int T = static_cast<int>(frames.size());
  const int gw = T * static_cast<int>(W + padding) + padding;
  const int gh = static_cast<int>(B) * static_cast<int>(H + padding) + padding;
  Image strip(gw, gh, static_cast<int>(C), 255);
  for (int k = 0; k < T; ++k) {
    std::vector<float> v = host_floats(frames[k]);
    for (int64_t b = 0; b < B; ++b)
      blit(strip, v, b, C, H, W, padding + k * static_cast<int>(W + padding), padding + static_cast<int>(b) * static_cast<int>(H + padding));
  }
  return strip;
}

void save_trajectory_strip(const std::string& path, const std::vector<Tensor>& frames, int padding) {
  write_png(path, make_trajectory_strip(frames, padding));
}

// ---------------------------------------------------------------- line plots

namespace {

void fill_rect(Image& img, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g, uint8_t b) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, img.width);
  y1 = std::min(y1, img.height);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      img.at(x, y, 0) = r;
      img.at(x, y, 1) = g;
      img.at(x, y, 2) = b;
    }
}

// Bresenham's line algorithm, 2 pixels thick.
void draw_line(Image& img, int x0, int y0, int x1, int y1, uint8_t r, uint8_t g, uint8_t b) {
  int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  while (true) {
    fill_rect(img, x0, y0, x0 + 2, y0 + 2, r, g, b);
    if (x0 == x1 && y0 == y1) break;
    int e2 = 2 * err;
    if (e2 >= dy) { err += dy; x0 += sx; }
    if (e2 <= dx) { err += dx; y0 += sy; }
  }
}

// Text through stb_easy_font, which emits axis-aligned quads (4 vertices of
// 16 bytes: x, y, z floats + RGBA).
void draw_text(Image& img, int x, int y, const std::string& text, uint8_t shade = 40) {
  static char buffer[64 * 1024];
  std::string s = text;
  int quads = stb_easy_font_print(static_cast<float>(x), static_cast<float>(y), s.data(), nullptr, buffer,
                                  sizeof(buffer));
  for (int q = 0; q < quads; ++q) {
    const float* v0 = reinterpret_cast<const float*>(buffer + (q * 4 + 0) * 16);
    const float* v2 = reinterpret_cast<const float*>(buffer + (q * 4 + 2) * 16);
    fill_rect(img, static_cast<int>(v0[0]), static_cast<int>(v0[1]), static_cast<int>(v2[0]),
              static_cast<int>(v2[1]), shade, shade, shade);
  }
}

int text_width(const std::string& text) {
  std::string s = text;
  return stb_easy_font_width(s.data());
}

std::string format_tick(double v) {
  char buf[32];
  double a = std::fabs(v);
  if (a != 0.0 && (a < 1e-3 || a >= 1e5)) std::snprintf(buf, sizeof(buf), "%.1e", v);
  else if (a >= 100) std::snprintf(buf, sizeof(buf), "%.0f", v);
  else std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

}  // namespace

Image plot_lines(const std::vector<PlotSeries>& series, const PlotOptions& opt) {
  DRIFT_CHECK(opt.width >= 100 && opt.height >= 80, "plot_lines: image too small (", opt.width, "x", opt.height,
              "), need at least 100x80");
  Image img(opt.width, opt.height, 3, 255);
  auto yval = [&](double y) { return opt.log_y ? (y > 0 ? std::log10(y) : NAN) : y; };

  // Data range over all finite points.
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const PlotSeries& s : series) {
    for (size_t i = 0; i < s.y.size(); ++i) {
      double y = yval(s.y[i]);
      if (!std::isfinite(y)) continue;
      double x = s.x0 + s.dx * static_cast<double>(i);
      xmin = std::min(xmin, x); xmax = std::max(xmax, x);
      ymin = std::min(ymin, y); ymax = std::max(ymax, y);
    }
  }
  if (!std::isfinite(xmin)) { xmin = 0; xmax = 1; ymin = 0; ymax = 1; }
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) { ymax += 0.5; ymin -= 0.5; }
  const double ypad = 0.05 * (ymax - ymin);
  ymin -= ypad;
  ymax += ypad;

  // Plot area inside margins for tick labels and title.
  const int left = 70, right = opt.width - 20, top = opt.title.empty() ? 20 : 36, bottom = opt.height - 40;
  auto px = [&](double x) { return left + static_cast<int>(std::lround((x - xmin) / (xmax - xmin) * (right - left))); };
  auto py = [&](double y) { return bottom - static_cast<int>(std::lround((y - ymin) / (ymax - ymin) * (bottom - top))); };

  // Grid lines and tick labels: 5 ticks per axis.
  const int ticks = 5;
  for (int k = 0; k <= ticks; ++k) {
    double fy = ymin + (ymax - ymin) * k / ticks;
    int y = py(fy);
    fill_rect(img, left, y, right, y + 1, 225, 225, 225);
    std::string label = opt.log_y ? format_tick(std::pow(10.0, fy)) : format_tick(fy);
    draw_text(img, left - 6 - text_width(label), y - 3, label);
    double fx = xmin + (xmax - xmin) * k / ticks;
    int x = px(fx);
    fill_rect(img, x, top, x + 1, bottom, 225, 225, 225);
    std::string xl = format_tick(fx);
    draw_text(img, x - text_width(xl) / 2, bottom + 8, xl);
  }
  // Axes.
  fill_rect(img, left, top, left + 1, bottom + 1, 0, 0, 0);
  fill_rect(img, left, bottom, right + 1, bottom + 1, 0, 0, 0);
  if (!opt.title.empty()) draw_text(img, (opt.width - text_width(opt.title)) / 2, 12, opt.title);

  // One polyline per series, breaking at non-finite points.
  for (const PlotSeries& s : series) {
    bool have_prev = false;
    int prev_x = 0, prev_y = 0;
    for (size_t i = 0; i < s.y.size(); ++i) {
      double y = yval(s.y[i]);
      if (!std::isfinite(y)) { have_prev = false; continue; }
      int x = px(s.x0 + s.dx * static_cast<double>(i)), yy = py(y);
      if (have_prev) draw_line(img, prev_x, prev_y, x, yy, s.r, s.g, s.b);
      else fill_rect(img, x, yy, x + 2, yy + 2, s.r, s.g, s.b);
      prev_x = x;
      prev_y = yy;
      have_prev = true;
    }
  }
  return img;
}

void write_line_plot(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& options) {
  write_png(path, plot_lines(series, options));
}

}  // namespace drift
