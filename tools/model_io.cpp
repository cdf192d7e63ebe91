#include "tools/model_io.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>


namespace drift::cli {

double SdeTimeDenoiser::discrete_time(double s) const {
  const double target = sde_.alpha(s);
  double lo = schedule_.t_min(), hi = schedule_.t_max();
  if (target >= schedule_.alpha(lo)) return lo;
  if (target <= schedule_.alpha(hi)) return hi;
  for (int i = 0; i < 60; ++i) {  // alpha_disc decreases in t
    double mid = 0.5 * (lo + hi);
    if (schedule_.alpha(mid) > target) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

Tensor SdeTimeDenoiser::predict(const Tensor& x, const Tensor& t, const Tensor& labels) {
  std::vector<double> s = ops::to_vector_f64(t);
  std::vector<float> td(s.size());
  for (size_t i = 0; i < s.size(); ++i) td[i] = static_cast<float>(discrete_time(s[i]));
  return inner_.predict(x, ops::from_vector(td, {static_cast<int64_t>(td.size())}, x.device()), labels);
}

LoadedModel load_trained_model(const std::string& path, bool use_ema) {
  LoadedModel m(diffusion::load_model(path, use_ema));  // checks the config before building the U-Net
  m.run = TrainConfig::from_json(m.config_json, path);
  return m;
}

ProgressBar::ProgressBar(int64_t total, int64_t start, bool enabled)
    : total_(total), start_(start), enabled_(enabled), t0_(std::chrono::steady_clock::now()), last_draw_(t0_) {}

double ProgressBar::rate() const {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  return secs > 0 ? static_cast<double>(done_ - start_) / secs : 0.0;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof(buf), "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string format_number(double v, const char* fmt) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

void ProgressBar::update(int64_t done, const std::string& extra) {
  done_ = done;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  // On a terminal the bar redraws in place ~10 times a second; into a file or
  // pipe it writes a new line every 10 seconds instead.
  const bool tty = ::isatty(::fileno(stderr)) != 0;
  const double interval = tty ? 0.1 : 10.0;
  if (done < total_ && std::chrono::duration<double>(now - last_draw_).count() < interval && (drawn_ || !tty)) return;
  last_draw_ = now;
  drawn_ = true;
  const int width = 30;
  const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  const int filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(width), ' ');
  for (int i = 0; i < filled && i < width; ++i) bar[i] = '=';
  if (filled < width) bar[filled] = '>';
  const double r = rate();
  const double eta = r > 0 ? static_cast<double>(total_ - done) / r : NAN;
  std::fprintf(stderr, "%s[%s] %lld/%lld %s %.2f it/s ETA %s   %s", tty ? "\r" : "", bar.c_str(), static_cast<long long>(done),
               static_cast<long long>(total_), extra.c_str(), r, format_duration(eta).c_str(), tty ? "" : "\n");
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_ && drawn_ && ::isatty(::fileno(stderr))) std::fprintf(stderr, "\n");
  drawn_ = false;
}

void check_output_path(const std::string& path, const std::string& flag) {
  namespace fs = std::filesystem;
  DRIFT_CHECK(!path.empty(), flag, ": expected a file name, got an empty one");
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  DRIFT_CHECK(fs::is_directory(dir, ec), flag, " '", path, "': the folder '", dir.string(),
              "' does not exist (create it first)");
  DRIFT_CHECK(!fs::is_directory(p, ec), flag, " '", path, "' is a folder; expected a file name such as ",
              (p / "samples.png").string());
  DRIFT_CHECK(::access(dir.c_str(), W_OK) == 0, flag, " '", path, "': the folder '", dir.string(),
              "' is not writable");
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  DRIFT_CHECK(!ec && std::filesystem::is_directory(path), "cannot create folder '", path, "': ", ec.message());
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path);
  DRIFT_CHECK(f.good(), "cannot open '", path, "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace drift::cli
