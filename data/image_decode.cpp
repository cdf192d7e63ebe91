// Image decoding: PNG through libpng, JPEG through libjpeg-turbo (both
// maintained and fuzzed upstream, from Debian). The size in the header is
// checked against kMaxImagePixels before any pixel buffer is allocated, and
// every other format is refused by its signature. stb_image's decoder is no
// longer used: Debian's 2.27 writes out of bounds on crafted JPEGs, turns
// 40-byte TGA files into 476 MB images and pads cut BMPs with zeros.
#include <png.h>
// jpeglib.h needs FILE and size_t declared first.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <jpeglib.h>

#include "data/image.h"

namespace drift {

namespace {

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

// A name for the formats we recognise but refuse, for the message.
const char* other_format(const uint8_t* d, size_t n) {
  if (starts_with(d, n, "BM", 2)) return "BMP";
  if (starts_with(d, n, "GIF8", 4)) return "GIF";
  if (starts_with(d, n, "RIFF", 4) && n >= 12 && std::memcmp(d + 8, "WEBP", 4) == 0) return "WebP";
  if (starts_with(d, n, "II*\0", 4) || starts_with(d, n, "MM\0*", 4)) return "TIFF";
  if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7') return "PNM";
  if (starts_with(d, n, "8BPS", 4)) return "PSD";
  if (starts_with(d, n, "#?RADIANCE", 10)) return "HDR";
  return nullptr;
}

void check_pixels(const std::string& name, uint64_t w, uint64_t h, uint64_t max_pixels) {
  DRIFT_CHECK(w > 0 && h > 0, "read_image: '", name, "' has an empty size ", w, "x", h);
  DRIFT_CHECK(w <= max_pixels / h, "read_image: '", name, "' is ", w, "x", h, " = ", w * h,
              " pixels, more than the limit of ", max_pixels, " pixels");
}

// ---------------------------------------------------------------- PNG
// libpng's simplified API (png_image): no setjmp here, errors come back as a
// return value and image.message.
Image decode_png(const uint8_t* data, size_t size, const std::string& name, uint64_t max_pixels) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, data, size)) {
    std::string msg = png.message;
    png_image_free(&png);
    throw Error(str("read_image: '", name, "' is not a readable PNG: ", msg));
  }
  try {
    check_pixels(name, png.width, png.height, max_pixels);
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  // 16-bit files without gamma information are sRGB (as every viewer shows
  // them), not linear (libpng's default).
  png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  // Keep the file's channels (grey, grey+alpha, RGB, RGBA) as 8-bit sRGB;
  // channel conversion is done below, the same for every format.
  png.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
  Image img;
  img.width = static_cast<int>(png.width);
  img.height = static_cast<int>(png.height);
  img.channels = static_cast<int>(PNG_IMAGE_PIXEL_CHANNELS(png.format));
  img.pixels.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, img.pixels.data(), 0, nullptr)) {
    std::string msg = png.message;
    png_image_free(&png);
    throw Error(str("read_image: '", name, "' is a corrupt or truncated PNG: ", msg));
  }
  png_image_free(&png);
  return img;
}

// ---------------------------------------------------------------- JPEG
// libjpeg reports errors through a callback that must not return: it
// longjmps back to decode_jpeg. Warnings (corrupt data, a cut file that
// libjpeg would fill with grey) are errors here too.
struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  JpegErrors* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);  // a warning: corrupt data
}

// Progressive JPEGs may hold thousands of tiny scans, each a pass over the
// whole image; real files have at most a few dozen.
constexpr int kMaxJpegScans = 500;
void jpeg_progress(j_common_ptr cinfo) {
  j_decompress_ptr d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxJpegScans) {
    std::snprintf(reinterpret_cast<JpegErrors*>(cinfo->err)->message, JMSG_LENGTH_MAX,
                  "more than %d progressive scans", kMaxJpegScans);
    std::longjmp(reinterpret_cast<JpegErrors*>(cinfo->err)->jump, 1);
  }
}

// Decodes into `img`, which the caller owns: no object with a destructor
// lives in this function's frame, so the longjmp skips none. Returns false
// with err.message filled on an error, or with it empty when the size (w, h)
// is over max_pixels.
bool decode_jpeg_into(const uint8_t* data, size_t size, uint64_t max_pixels, Image& img, JpegErrors& err, uint64_t& w,
                      uint64_t& h) {
  jpeg_decompress_struct cinfo;
  jpeg_progress_mgr progress;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_message;
  err.message[0] = 0;
  jpeg_create_decompress(&cinfo);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  progress.progress_monitor = jpeg_progress;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  w = cinfo.image_width;
  h = cinfo.image_height;
  if (w == 0 || h == 0 || w > max_pixels / h) {  // checked before any pixel buffer exists
    jpeg_destroy_decompress(&cinfo);
    err.message[0] = 0;
    return false;
  }
  if (cinfo.num_components == 1) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB) {
    cinfo.out_color_space = JCS_RGB;
  } else {
    std::snprintf(err.message, JMSG_LENGTH_MAX, "colour space %d (CMYK/YCCK?) is not supported; use RGB or grey",
                  static_cast<int>(cinfo.jpeg_color_space));
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  img.width = static_cast<int>(cinfo.output_width);
  img.height = static_cast<int>(cinfo.output_height);
  img.channels = cinfo.output_components;
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * img.channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img.pixels.data() + static_cast<size_t>(cinfo.output_scanline) * img.width * img.channels;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, uint64_t max_pixels) {
  Image img;
  JpegErrors err;
  uint64_t w = 0, h = 0;
  if (!decode_jpeg_into(data, size, max_pixels, img, err, w, h)) {
    if (err.message[0] == 0) check_pixels(name, w, h, max_pixels);  // throws: the size was refused
    throw Error(str("read_image: '", name, "' is a corrupt or unsupported JPEG: ", err.message));
  }
  return img;
}

// ---------------------------------------------------------------- channels
// Converts between 1 (grey), 2 (grey + alpha), 3 (RGB) and 4 (RGBA) channels
// as stb_image did: grey = (77 R + 150 G + 29 B) >> 8, grey -> RGB by
// copying, alpha dropped (or 255 when added).
Image convert_channels(const Image& src, int channels) {
  if (channels == 0 || channels == src.channels) return src;
  Image out(src.width, src.height, channels);
  const size_t n = static_cast<size_t>(src.width) * src.height;
  const bool src_colour = src.channels >= 3, src_alpha = src.channels == 2 || src.channels == 4;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* s = src.pixels.data() + i * src.channels;
    uint8_t r = s[0], g = src_colour ? s[1] : s[0], b = src_colour ? s[2] : s[0];
    uint8_t a = src_alpha ? s[src.channels - 1] : 255;
    uint8_t* d = out.pixels.data() + i * channels;
    if (channels <= 2) {
      d[0] = src_colour ? static_cast<uint8_t>((r * 77 + g * 150 + b * 29) >> 8) : r;
    } else {
      d[0] = r;
      d[1] = g;
      d[2] = b;
    }
    if (channels == 2 || channels == 4) d[channels - 1] = a;
  }
  return out;
}

}  // namespace

Image decode_image(const uint8_t* data, size_t size, const std::string& name, int channels, uint64_t max_pixels) {
  DRIFT_CHECK(channels >= 0 && channels <= 4, "read_image(", name, "): channels must be 0..4, got ", channels);
  Image img;
  if (starts_with(data, size, "\x89PNG\r\n\x1a\n", 8)) {
    img = decode_png(data, size, name, max_pixels);
  } else if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
    img = decode_jpeg(data, size, name, max_pixels);
  } else if (const char* other = other_format(data, size)) {
    throw Error(str("read_image: '", name, "' is a ", other, " file; drift reads PNG and JPEG images only"));
  } else {
    throw Error(str("read_image: '", name, "' is not a readable image (neither PNG nor JPEG; drift reads those only)"));
  }
  return convert_channels(img, channels);
}

Image read_image(const std::string& path, int channels) {
  std::error_code ec;
  DRIFT_CHECK(std::filesystem::is_regular_file(path, ec), "read_image: cannot open '", path,
              "' (missing or not a file)");
  const uint64_t size = std::filesystem::file_size(path, ec);
  DRIFT_CHECK(!ec && size <= kMaxImageFileBytes, "read_image: '", path, "' is ", size, " bytes, more than the limit of ",
              kMaxImageFileBytes, " bytes for an image file");
  std::ifstream f(path, std::ios::binary);
  DRIFT_CHECK(f.good(), "read_image: cannot open '", path, "' (unreadable)");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  DRIFT_CHECK(!f.bad(), "read_image: error reading '", path, "'");
  return decode_image(bytes.data(), bytes.size(), path, channels);
}

}  // namespace drift
