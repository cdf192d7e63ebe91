#include "diffusion/metrics.h"

#include <algorithm>
#include <cmath>

namespace drift::diffusion {

ModeStats mode_stats(const GaussianMixture& mixture, const Tensor& samples) {
  const int64_t K = mixture.components(), D = mixture.dim();
  DRIFT_CHECK(samples.dim() == 2 && samples.size(1) == D, "mode_stats: expected samples [n, ", D, "], got ",
              shape_str(samples.shape()));
  std::vector<double> xv = ops::to_vector_f64(samples);
  const int64_t n = samples.size(0);
  ModeStats st;
  st.weights.assign(K, 0.0);
  st.means.assign(K, std::vector<double>(D, 0.0));
  st.variances.assign(K, std::vector<double>(D, 0.0));
  st.covariances.assign(K, std::vector<double>(D * D, 0.0));
  // Keep only finite points, then assign.
  std::vector<double> finite;
  for (int64_t i = 0; i < n; ++i) {
    bool ok = true;
    for (int64_t j = 0; j < D; ++j) ok = ok && std::isfinite(xv[i * D + j]);
    if (!ok) {
      ++st.non_finite;
      continue;
    }
    for (int64_t j = 0; j < D; ++j) finite.push_back(xv[i * D + j]);
  }
  const int64_t m = static_cast<int64_t>(finite.size()) / std::max<int64_t>(D, 1);
  if (m == 0) return st;
  std::vector<int64_t> comp = mixture.assign(ops::from_vector(finite, {m, D}));
  std::vector<double> count(K, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    count[comp[i]] += 1;
    for (int64_t j = 0; j < D; ++j) st.means[comp[i]][j] += finite[i * D + j];
  }
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < D; ++j) st.means[k][j] /= std::max(count[k], 1.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t a = 0; a < D; ++a)
      for (int64_t b = 0; b < D; ++b)
        st.covariances[comp[i]][a * D + b] +=
            (finite[i * D + a] - st.means[comp[i]][a]) * (finite[i * D + b] - st.means[comp[i]][b]);
  for (int64_t k = 0; k < K; ++k) {
    st.weights[k] = count[k] / double(n);
    for (double& c : st.covariances[k]) c /= std::max(count[k] - 1.0, 1.0);
    for (int64_t j = 0; j < D; ++j) st.variances[k][j] = st.covariances[k][j * D + j];
  }
  return st;
}

double sliced_wasserstein(const Tensor& a, const Tensor& b, int64_t projections, Generator& gen) {
  DRIFT_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(1) && a.size(0) == b.size(0),
              "sliced_wasserstein: expected two point sets [n, D] of the same shape, got ", shape_str(a.shape()),
              " and ", shape_str(b.shape()));
  const int64_t n = a.size(0), D = a.size(1);
  std::vector<double> av = ops::to_vector_f64(a), bv = ops::to_vector_f64(b);
  std::vector<double> dirs = ops::to_vector_f64(ops::randn({projections, D}, gen, DType::Float64));
  std::vector<double> pa(static_cast<size_t>(n)), pb(static_cast<size_t>(n));
  double total = 0;
  for (int64_t p = 0; p < projections; ++p) {
    double norm = 0;  // a random unit direction theta
    for (int64_t j = 0; j < D; ++j) norm += dirs[p * D + j] * dirs[p * D + j];
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < n; ++i) {
      double sa = 0, sb = 0;
      for (int64_t j = 0; j < D; ++j) {
        sa += av[i * D + j] * dirs[p * D + j] / norm;
        sb += bv[i * D + j] * dirs[p * D + j] / norm;
      }
      pa[i] = sa;
      pb[i] = sb;
    }
    std::sort(pa.begin(), pa.end());
    std::sort(pb.begin(), pb.end());
    double w = 0;  // W1 of two equal-size 1-D samples = mean |sorted difference|
    for (int64_t i = 0; i < n; ++i) w += std::abs(pa[i] - pb[i]);
    total += w / double(n);
  }
  return total / double(projections);
}

std::vector<double> histogram_density(const std::vector<double>& values, double lo, double hi, int64_t bins) {
  DRIFT_CHECK(bins >= 1 && hi > lo, "histogram_density: expected bins >= 1 and hi > lo, got ", bins, ", [", lo, ", ",
              hi, "]");
  std::vector<double> h(static_cast<size_t>(bins), 0.0);
  const double dx = (hi - lo) / double(bins);
  for (double v : values) {
    if (!(v >= lo && v < hi)) continue;
    int64_t j = std::min<int64_t>(bins - 1, static_cast<int64_t>((v - lo) / dx));
    h[j] += 1;
  }
  for (double& c : h) c /= double(values.size()) * dx;
  return h;
}

double l1_distance(const std::vector<double>& p, const std::vector<double>& q, double dx) {
  DRIFT_CHECK(p.size() == q.size(), "l1_distance: expected densities on the same grid, got sizes ", p.size(), " and ",
              q.size());
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += std::abs(p[i] - q[i]) * dx;
  return s;
}

}  // namespace drift::diffusion
