#include "tools/loss_log.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "tensor/error.h"

namespace drift::cli {

namespace fs = std::filesystem;

LossLog::LossLog(const std::string& dir, int64_t resume_step)
    : csv_path_(dir + "/loss.csv"), png_path_(dir + "/loss.png") {
  // On resume keep the rows up to the checkpoint's step (later ones were
  // written after the checkpoint and will be recomputed identically).
  std::vector<std::string> kept;
  if (resume_step > 0) {
    std::ifstream in(csv_path_);
    std::string line;
    while (std::getline(in, line)) {
      long long step = 0;
      double loss = 0, lr = 0;
      if (std::sscanf(line.c_str(), "%lld,%lf,%lf", &step, &loss, &lr) == 3 && step <= resume_step &&
          (steps_.empty() || step > steps_.back())) {
        kept.push_back(line);
        steps_.push_back(step);
        losses_.push_back(loss);
      }
    }
  }
  // Written beside and renamed: a crash now cannot lose the kept rows.
  const std::string tmp = csv_path_ + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    DRIFT_CHECK(f.good(), "cannot write '", tmp, "'");
    f << "step,loss,lr\n";
    for (const std::string& l : kept) f << l << "\n";
    f.flush();
    DRIFT_CHECK(f.good(), "cannot write '", tmp, "'");
  }
  std::error_code ec;
  fs::rename(tmp, csv_path_, ec);
  DRIFT_CHECK(!ec, "cannot rename '", tmp, "' to '", csv_path_, "': ", ec.message());
  out_.open(csv_path_, std::ios::app);
  DRIFT_CHECK(out_.good(), "cannot write '", csv_path_, "'");
}

void LossLog::add(int64_t step, double loss, double lr) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%lld,%.6g,%.6g\n", static_cast<long long>(step), loss, lr);
  out_ << buf;
  steps_.push_back(step);
  losses_.push_back(loss);
}

void LossLog::flush() {
  out_.flush();
  DRIFT_CHECK(out_.good(), "cannot write '", csv_path_, "'");
}

std::vector<PlotSeries> LossLog::curves() const {
  PlotSeries raw, smooth;
  raw.r = 160; raw.g = 190; raw.b = 230;
  smooth.r = 31; smooth.g = 119; smooth.b = 180;
  if (steps_.empty()) return {raw, smooth};
  const int64_t first = steps_.front(), last = steps_.back();
  const int64_t span = last - first + 1;
  const int64_t bin = std::max<int64_t>(1, (span + 1999) / 2000);
  const int64_t nbins = (span + bin - 1) / bin;
  raw.x0 = smooth.x0 = static_cast<double>(first) + static_cast<double>(bin - 1) / 2.0;  // bin centres
  raw.dx = smooth.dx = static_cast<double>(bin);
  std::vector<double> sum(static_cast<size_t>(nbins), 0.0), sum_ema(static_cast<size_t>(nbins), 0.0);
  std::vector<int64_t> count(static_cast<size_t>(nbins), 0);
  const double n = static_cast<double>(losses_.size());
  const double decay = std::min(0.99, 1.0 - 1.0 / (1.0 + n / 50.0));
  double ema = losses_[0];
  for (size_t i = 0; i < losses_.size(); ++i) {
    ema = decay * ema + (1 - decay) * losses_[i];  // moving average for the dark line
    const size_t b = static_cast<size_t>((steps_[i] - first) / bin);
    sum[b] += losses_[i];
    sum_ema[b] += ema;
    ++count[b];
  }
  for (size_t b = 0; b < sum.size(); ++b) {
    const double c = static_cast<double>(count[b]);
    raw.y.push_back(count[b] ? sum[b] / c : NAN);
    smooth.y.push_back(count[b] ? sum_ema[b] / c : NAN);
  }
  return {raw, smooth};
}

void LossLog::flush_and_plot() {
  flush();
  if (losses_.empty()) return;
  PlotOptions opt;
  opt.log_y = true;
  opt.title = str("training loss by step (", steps_.front(), "-", steps_.back(), "; log scale)");
  write_line_plot(png_path_, curves(), opt);
}

std::string DivergenceWatch::add(int64_t step, double loss) {
  if (!have_reference_) {
    reference_ = loss;
    have_reference_ = true;
  }
  sum_ += loss;
  if (++count_ < window_) return "";
  const double mean = sum_ / static_cast<double>(count_);
  sum_ = 0;
  count_ = 0;
  if (!diverged_ && mean > factor_ * reference_) {
    diverged_ = true;
    return str("the loss is diverging: mean ", mean, " over steps ", step - window_ + 1, "-", step, ", ",
               mean / reference_, " times its lowest level ", reference_, " (try a lower --lr or --grad-clip)");
  }
  reference_ = std::min(reference_, mean);
  return "";
}

int remove_stale_temporaries(const std::string& path) {
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string prefix = p.filename().string() + ".tmp.";
  std::error_code ec;
  int removed = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::atol(pid_text.c_str());
    // A process that still runs (or that we may not signal) may be writing it.
    if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;
    std::error_code rm;
    if (fs::remove(it->path(), rm)) ++removed;
  }
  return removed;
}

}  // namespace drift::cli
