#pragma once
// The Fréchet distance between two Gaussians fitted to feature vectors
// (Dowson & Landau 1982; the formula behind FID, Heusel et al. 2017):
//   d^2 = |mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})
// drift applies it to the penultimate features of its own small classifier,
// so the number is a "Fréchet classifier distance", comparable only with
// itself, not with published FID values (which use Inception-v3 features).
// Header-only, in double precision; matrix square roots via the symmetric
// Jacobi eigenvalue method.
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/error.h"

namespace drift::cli {

// Mean and covariance (divisor n - 1) of n feature rows of dimension d.
struct GaussianFit {
  int64_t d = 0;
  std::vector<double> mean;  // [d]
  std::vector<double> cov;   // [d * d], row-major
};

inline GaussianFit fit_gaussian(const std::vector<float>& rows, int64_t n, int64_t d) {
  DRIFT_CHECK(n >= 2 && static_cast<int64_t>(rows.size()) == n * d, "fit_gaussian: expected ", n, " x ", d,
              " values (n >= 2), got ", rows.size());
  GaussianFit g;
  g.d = d;
  g.mean.assign(static_cast<size_t>(d), 0.0);
  g.cov.assign(static_cast<size_t>(d * d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) g.mean[j] += rows[i * d + j];
  for (double& m : g.mean) m /= static_cast<double>(n);
  std::vector<double> c(static_cast<size_t>(d));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) c[j] = rows[i * d + j] - g.mean[j];
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b = a; b < d; ++b) g.cov[a * d + b] += c[a] * c[b];
  }
  for (int64_t a = 0; a < d; ++a)
    for (int64_t b = a; b < d; ++b) {
      g.cov[a * d + b] /= static_cast<double>(n - 1);
      g.cov[b * d + a] = g.cov[a * d + b];
    }
  return g;
}

// Eigen-decomposition of a symmetric d x d matrix A = V diag(w) V^T by cyclic
// Jacobi rotations (Golub & Van Loan, "Matrix Computations", sec. 8.5).
// V is row-major with eigenvectors in its columns.
inline void symmetric_eigen(std::vector<double> A, int64_t d, std::vector<double>& w, std::vector<double>& V) {
  V.assign(static_cast<size_t>(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i) V[i * d + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, total = 0;
    for (int64_t p = 0; p < d; ++p)
      for (int64_t q = 0; q < d; ++q) {
        total += A[p * d + q] * A[p * d + q];
        if (p != q) off += A[p * d + q] * A[p * d + q];
      }
    if (off <= 1e-24 * total || off == 0) break;
    for (int64_t p = 0; p < d - 1; ++p) {
      for (int64_t q = p + 1; q < d; ++q) {
        const double apq = A[p * d + q];
        if (std::fabs(apq) < 1e-300) continue;
        // The rotation angle that zeroes A[p][q]: tan(2 theta) = 2 apq / (aqq - app).
        const double theta = (A[q * d + q] - A[p * d + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double cs = 1 / std::sqrt(t * t + 1), sn = t * cs;
        for (int64_t k = 0; k < d; ++k) {  // A <- A J (columns p, q)
          const double akp = A[k * d + p], akq = A[k * d + q];
          A[k * d + p] = cs * akp - sn * akq;
          A[k * d + q] = sn * akp + cs * akq;
        }
        for (int64_t k = 0; k < d; ++k) {  // A <- J^T A (rows p, q)
          const double apk = A[p * d + k], aqk = A[q * d + k];
          A[p * d + k] = cs * apk - sn * aqk;
          A[q * d + k] = sn * apk + cs * aqk;
        }
        for (int64_t k = 0; k < d; ++k) {  // V <- V J
          const double vkp = V[k * d + p], vkq = V[k * d + q];
          V[k * d + p] = cs * vkp - sn * vkq;
          V[k * d + q] = sn * vkp + cs * vkq;
        }
      }
    }
  }
  w.resize(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) w[i] = A[i * d + i];
}

// Square root of a symmetric positive semi-definite matrix (negative
// eigenvalues from rounding are clamped to 0).
inline std::vector<double> sqrtm_psd(const std::vector<double>& A, int64_t d) {
  std::vector<double> w, V;
  symmetric_eigen(A, d, w, V);
  std::vector<double> R(static_cast<size_t>(d * d), 0.0);
  for (int64_t k = 0; k < d; ++k) {
    const double s = std::sqrt(std::max(0.0, w[k]));
    if (s == 0) continue;
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) R[i * d + j] += V[i * d + k] * s * V[j * d + k];
  }
  return R;
}

inline double frechet_distance(const GaussianFit& a, const GaussianFit& b) {
  DRIFT_CHECK(a.d == b.d, "frechet_distance: feature dimensions differ (", a.d, " vs ", b.d, ")");
  const int64_t d = a.d;
  double mean_term = 0;
  for (int64_t i = 0; i < d; ++i) mean_term += (a.mean[i] - b.mean[i]) * (a.mean[i] - b.mean[i]);
  // Tr((S_a^{1/2} S_b S_a^{1/2})^{1/2}): the matrix inside is symmetric PSD.
  std::vector<double> h = sqrtm_psd(a.cov, d);
  std::vector<double> hb(static_cast<size_t>(d * d), 0.0), m(static_cast<size_t>(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < d; ++j) hb[i * d + j] += h[i * d + k] * b.cov[k * d + j];
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < d; ++j) m[i * d + j] += hb[i * d + k] * h[k * d + j];
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = i + 1; j < d; ++j) m[i * d + j] = m[j * d + i] = 0.5 * (m[i * d + j] + m[j * d + i]);
  std::vector<double> w, V;
  symmetric_eigen(m, d, w, V);
  double tr_sqrt = 0, tr_a = 0, tr_b = 0;
  for (double x : w) tr_sqrt += std::sqrt(std::max(0.0, x));
  for (int64_t i = 0; i < d; ++i) {
    tr_a += a.cov[i * d + i];
    tr_b += b.cov[i * d + i];
  }
  return std::max(0.0, mean_term + tr_a + tr_b - 2 * tr_sqrt);
}

}  // namespace drift::cli
