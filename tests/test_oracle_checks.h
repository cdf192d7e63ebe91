#pragma once
// Shared checks of the oracle sampler tests (header only; included by the
// test_oracle_*_slow.cpp files).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/sampler.h"
#include "diffusion/samplers.h"

using namespace drift;
using namespace drift::diffusion;

namespace {

const int64_t kSamples = 20000;

struct Tolerance {
  double mean = 0.1;  // |mean error| <= mean * mode std (+ 4 standard errors)
  double var = 0.1;   // |var / true var - 1| <= var (+ 4 standard errors)
};

// A full-covariance mode, checked in the whitened coordinates of its true
// covariance C = L L^T: the mean error L^{-1} (m - mu) within tol.mean (+ 4
// standard errors) and M = L^{-1} C_est L^{-T} near I: diagonal within tol.var
// (+ 4 standard errors, as a variance ratio), off-diagonal within tol.var / 2
// (a variance error tol along (e_i + e_j) / sqrt 2 shows there as tol / 2).
inline std::string expect_full_mode(const GaussianMixture& mix, const ModeStats& st, int64_t k, double nk, Tolerance tol,
                             const std::string& what) {
  const int64_t D = mix.dim();
  const std::vector<double> L = cholesky(mix.covariance(k), D, "expect_full_mode");
  // Solves L y = v (forward substitution).
  auto solve = [&](std::vector<double> v) {
    for (int64_t i = 0; i < D; ++i) {
      for (int64_t m = 0; m < i; ++m) v[i] -= L[i * D + m] * v[m];
      v[i] /= L[i * D + i];
    }
    return v;
  };
  std::vector<double> dm(D);
  for (int64_t j = 0; j < D; ++j) dm[j] = st.means[k][j] - mix.means[k][j];
  const std::vector<double> e = solve(dm);
  double emax = 0, dmax = 0, omax = 0;
  for (int64_t j = 0; j < D; ++j) {
    EXPECT_LE(std::abs(e[j]), tol.mean + 4 / std::sqrt(nk)) << what << " mode " << k << " whitened mean " << j;
    emax = std::max(emax, std::abs(e[j]));
  }
  // A = L^{-1} C_est (columns solved), then M = L^{-1} A^T = L^{-1} C_est L^{-T} (C_est symmetric).
  std::vector<double> A(D * D), M(D * D);
  for (int64_t c = 0; c < D; ++c) {
    std::vector<double> col(D);
    for (int64_t i = 0; i < D; ++i) col[i] = st.covariances[k][i * D + c];
    col = solve(col);
    for (int64_t i = 0; i < D; ++i) A[i * D + c] = col[i];
  }
  for (int64_t c = 0; c < D; ++c) {
    std::vector<double> col(D);
    for (int64_t i = 0; i < D; ++i) col[i] = A[c * D + i];
    col = solve(col);
    for (int64_t i = 0; i < D; ++i) M[i * D + c] = col[i];
  }
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = 0; j < D; ++j) {
      const double v = M[i * D + j];
      if (i == j) {
        EXPECT_NEAR(v, 1.0, tol.var + 4 * std::sqrt(2.0 / nk)) << what << " mode " << k << " whitened cov " << i;
        dmax = std::max(dmax, std::abs(v - 1));
      } else {
        EXPECT_LE(std::abs(v), 0.5 * tol.var + 4 / std::sqrt(nk)) << what << " mode " << k << " whitened cov (" << i
                                                                     << ", " << j << ")";
        omax = std::max(omax, std::abs(v));
      }
    }
  char buf[96];
  std::snprintf(buf, sizeof buf, " (m%.3f v%.3f c%.3f)", emax, dmax, omax);
  return buf;
}

// Mode weights within +-2 percentage points, per-mode means and variances within tolerance
// (full covariances: expect_full_mode).
inline void expect_moments(const GaussianMixture& mix, const Tensor& x, const std::string& what, Tolerance tol = {}) {
  ModeStats st = mode_stats(mix, x);
  EXPECT_EQ(st.non_finite, 0) << what;
  std::string report = what + ":";
  for (int64_t k = 0; k < mix.components(); ++k) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " w%.3f", st.weights[k]);
    report += buf;
    EXPECT_NEAR(st.weights[k], mix.weights[k], 0.02) << what << " mode " << k;
    const double nk = std::max(1.0, st.weights[k] * double(x.size(0)));
    if (mix.full()) {
      report += expect_full_mode(mix, st, k, nk, tol, what);
      continue;
    }
    for (int64_t j = 0; j < mix.dim(); ++j) {
      const double sd = std::sqrt(mix.variances[k][j]);
      EXPECT_NEAR(st.means[k][j], mix.means[k][j], tol.mean * sd + 4 * sd / std::sqrt(nk))
          << what << " mode " << k << " dim " << j;
      EXPECT_NEAR(st.variances[k][j] / mix.variances[k][j], 1.0, tol.var + 4 * std::sqrt(2.0 / nk))
          << what << " mode " << k << " dim " << j;
      std::snprintf(buf, sizeof buf, " (m%+.3f v%.3f)", st.means[k][j] - mix.means[k][j],
                    st.variances[k][j] / mix.variances[k][j]);
      report += buf;
    }
  }
  std::printf("  %s\n", report.c_str());
}

// Sliced Wasserstein distance of the samples to fresh true samples (mean over
// two true sets) against the typical distance between two independent true
// sets (mean over the 6 pairs of 4 sets; a single pair varies by +-40%).
inline double sliced_wasserstein_ratio(const GaussianMixture& mix, const Tensor& x, const std::string& what) {
  const int64_t P = 32;
  std::vector<Tensor> truth;
  Generator g(1234);
  for (int i = 0; i < 4; ++i) truth.push_back(mix.sample(x.size(0), g).x);
  double ref = 0;
  int pairs = 0;
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j) {
      Generator pg(99);
      ref += sliced_wasserstein(truth[i], truth[j], P, pg);
      ++pairs;
    }
  ref /= pairs;
  double sw = 0;
  for (int i = 0; i < 2; ++i) {
    Generator pg(99);
    sw += sliced_wasserstein(x, truth[i], P, pg) / 2;
  }
  std::printf("  %s: SW(samples, true) = %.4f, SW(true, true) = %.4f, ratio %.2f\n", what.c_str(), sw, ref, sw / ref);
  return sw / ref;
}

inline void expect_sliced_wasserstein(const GaussianMixture& mix, const Tensor& x, const std::string& what) {
  EXPECT_LE(sliced_wasserstein_ratio(mix, x, what), 1.5) << what;
}

using Runner = std::function<SampleResult(Denoiser&, Generator&, const Shape&)>;

// Runs a sampler with the oracle of `mix` under `process` on 20,000 points and checks the result.
inline Tensor check_sampler(const std::string& name, const GaussianMixture& mix, const Process& process, const Runner& run,
                     Tolerance tol = {}, bool sliced = true, Prediction target = Prediction::Eps, uint64_t seed = 7) {
  OracleDenoiser oracle(mix, process, target);
  Generator gen(seed);
  auto t0 = std::chrono::steady_clock::now();
  SampleResult r = run(oracle, gen, {kSamples, mix.dim()});
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[%s, %ld-D] nfe = %ld, steps = %ld (%.1f s)\n", name.c_str(), long(mix.dim()), long(r.nfe),
              long(r.steps), sec);
  EXPECT_EQ(r.nfe, oracle.calls()) << name;
  expect_moments(mix, r.x, name, tol);
  if (sliced && mix.dim() >= 2) expect_sliced_wasserstein(mix, r.x, name);
  return r.x;
}

// The sliced Wasserstein ratio of one run varies with its noise draws (the
// initial noise, and a stochastic sampler's noise on the way) by about +-0.4
// at convergence (euler-ancestral, 400 steps, 2-D: 1.51 with seed 7, 0.72 with
// seed 8; a perfect sampler: 1.21 +- 0.36), so this checks the mean over
// `runs` seeds (the moments of every run are checked as usual).
inline void check_sampler_over_draws(const std::string& name, const GaussianMixture& mix, const Process& process,
                              const Runner& run, int runs, Tolerance tol = {}, Prediction target = Prediction::Eps) {
  double mean = 0;
  for (int r = 0; r < runs; ++r) {
    const std::string what = name + " (seed " + std::to_string(7 + r) + ")";
    Tensor x = check_sampler(what, mix, process, run, tol, false, target, uint64_t(7 + r));
    if (mix.dim() >= 2) mean += sliced_wasserstein_ratio(mix, x, what) / runs;
  }
  if (mix.dim() < 2) return;
  std::printf("  %s: mean SW ratio over %d runs %.2f\n", name.c_str(), runs, mean);
  EXPECT_LE(mean, 1.5) << name;
}

// A registry sampler by name, with fixed options.
inline Runner named(const Process& p, const std::string& name, SamplerOptions o) {
  return [&p, name, o](Denoiser& m, Generator& g, const Shape& sh) { return sample(name, m, p, sh, g, o); };
}

inline SamplerOptions with_steps(int64_t n) {
  SamplerOptions o;
  o.steps = n;
  return o;
}

// n steps on the data-fitted Karras grid, sigma in [0.02, 20], rho = 7
// (test_oracle_sigma_samplers_slow.cpp says why this range).
inline SamplerOptions fitted(int64_t n) {
  SamplerOptions o = with_steps(n);
  o.sigma_min = 0.02;
  o.sigma_max = 20;
  return o;
}

inline const std::vector<GaussianMixture>& mixtures() {
  static const std::vector<GaussianMixture> m = {demo_mixture_1d(), demo_mixture_2d()};
  return m;
}

}  // namespace
