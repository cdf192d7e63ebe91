#pragma once
// The loss log of `drift train` and its watch for divergence.
//
// loss.csv holds one row per step (step, loss, lr). It is flushed before every
// checkpoint, so after a crash it has every step up to the last checkpoint;
// on --resume the rows after the checkpoint's step are dropped (they are
// recomputed identically) and the file is rewritten atomically. loss.png plots
// the loss against the step number (a gap in the steps stays a gap).
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "data/image.h"

namespace drift::cli {

class LossLog {
 public:
  // resume_step 0: a new log; else keep the rows with step <= resume_step.
  LossLog(const std::string& dir, int64_t resume_step);
  void add(int64_t step, double loss, double lr);
  void flush();           // the CSV only (cheap; before every checkpoint)
  void flush_and_plot();  // the CSV and loss.png
  // The two curves of loss.png: the loss averaged over bins of steps (at most
  // ~2000 bins; a bin without steps is NaN, drawn as a gap) and its moving
  // average; x = the bin's centre step.
  std::vector<PlotSeries> curves() const;

 private:
  std::string csv_path_, png_path_;
  std::ofstream out_;
  std::vector<int64_t> steps_;
  std::vector<double> losses_;
};

// Warns when the loss grows by orders of magnitude: the mean loss of each
// window of `window` steps is compared with a reference, the lowest of the
// session's first loss and every earlier window mean.
class DivergenceWatch {
 public:
  explicit DivergenceWatch(int64_t window = 10, double factor = 100.0) : window_(window), factor_(factor) {}
  // Returns a message the first time a window's mean exceeds factor x the
  // reference, else "".
  std::string add(int64_t step, double loss);
  bool diverged() const { return diverged_; }

 private:
  int64_t window_;
  double factor_;
  double reference_ = 0, sum_ = 0;
  int64_t count_ = 0;
  bool have_reference_ = false, diverged_ = false;
};

// Deletes "<path>.tmp.<pid>" files that a killed run left beside `path` (the
// temporary names of nn::save_safetensors) whose process is gone. Returns how
// many were removed.
int remove_stale_temporaries(const std::string& path);

}  // namespace drift::cli
