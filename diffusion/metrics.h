#pragma once
// Distribution checks used by the oracle tests and the examples.
#include <cstdint>
#include <vector>

#include "diffusion/oracle.h"
#include "tensor/rng.h"

namespace drift::diffusion {

// Per-component statistics of samples [n, D], each point assigned to its
// most probable component of `mixture` (GaussianMixture::assign).
struct ModeStats {
  std::vector<double> weights;                 // [K] fraction of samples in each mode
  std::vector<std::vector<double>> means;      // [K][D]
  std::vector<std::vector<double>> variances;  // [K][D] (unbiased)
  std::vector<std::vector<double>> covariances;  // [K][D*D] row-major (unbiased; diagonal = variances)
  int64_t non_finite = 0;                      // samples with NaN / inf coordinates (left out)
};
ModeStats mode_stats(const GaussianMixture& mixture, const Tensor& samples);

// Sliced Wasserstein-1 distance between two point sets [n, D] and [m, D]
// (n == m): the mean over `projections` random unit directions of the 1-D
// Wasserstein-1 distance of the projected points (sorted differences).
double sliced_wasserstein(const Tensor& a, const Tensor& b, int64_t projections, Generator& gen);

// Histogram of values as a density on [lo, hi] with `bins` bins (values
// outside are counted in the normaliser but in no bin).
std::vector<double> histogram_density(const std::vector<double>& values, double lo, double hi, int64_t bins);
// L1 distance sum_j |p_j - q_j| dx between two densities on the same grid.
double l1_distance(const std::vector<double>& p, const std::vector<double>& q, double dx);

}  // namespace drift::diffusion
