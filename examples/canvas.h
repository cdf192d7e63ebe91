#pragma once
// A tiny RGB canvas for the examples' pictures: pixels, rectangles, lines,
// stb_easy_font text, written as PNG (data/image.h).
#include <algorithm>
#include <cmath>
#include <string>

#include <stb/stb_easy_font.h>

#include "data/image.h"

namespace drift {

struct Canvas {
  Image img;
  Canvas(int w, int h) : img(w, h, 3, 255) {}
  void set(int x, int y, int r, int g, int b, double a = 1.0) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    const int c[3] = {r, g, b};
    for (int k = 0; k < 3; ++k) img.at(x, y, k) = uint8_t(std::lround((1 - a) * img.at(x, y, k) + a * c[k]));
  }
  void rect(int x0, int y0, int x1, int y1, int r, int g, int b, double a = 1.0) {
    for (int y = std::min(y0, y1); y <= std::max(y0, y1); ++y)
      for (int x = std::min(x0, x1); x <= std::max(x0, x1); ++x) set(x, y, r, g, b, a);
  }
  void line(double x0, double y0, double x1, double y1, int r, int g, int b, double a = 1.0, int width = 1) {
    const int n = int(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int i = 0; i <= n; ++i) {
      const double s = double(i) / n;
      const int x = int(std::lround(x0 + s * (x1 - x0))), y = int(std::lround(y0 + s * (y1 - y0)));
      for (int dy = 0; dy < width; ++dy)
        for (int dx = 0; dx < width; ++dx) set(x + dx, y + dy, r, g, b, a);
    }
  }
  // Text with stb_easy_font (quads of 4 vertices: x, y, z, rgba).
  void text(int x, int y, const std::string& s, int scale = 1) {
    static float buf[4 * 4 * 2000];
    unsigned char color[4] = {0, 0, 0, 255};
    std::string copy = s;
    const int quads = stb_easy_font_print(0, 0, copy.data(), color, buf, sizeof buf);
    for (int q = 0; q < quads; ++q) {
      const float* v = buf + q * 16;  // vertices 0 and 2 are opposite corners
      rect(x + int(v[0] * scale), y + int(v[1] * scale), x + int(v[8] * scale) - 1, y + int(v[9] * scale) - 1, 0, 0, 0);
    }
  }
  // A distinguishable colour for curve i (cycles after 20).
  static const int* palette(int i) {
    static const int c[20][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
                                 {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
                                 {0, 0, 128},    {128, 0, 0},    {0, 100, 0},    {255, 0, 255},   {0, 0, 0},
                                 {255, 200, 0},  {100, 200, 255}, {160, 60, 0},  {0, 160, 120},   {90, 90, 200}};
    return c[((i % 20) + 20) % 20];
  }
  void save(const std::string& path) const { write_png(path, img.pixels.data(), img.width, img.height, 3); }
};

}  // namespace drift
