#pragma once
// Shared checks of the oracle sampler tests (header only; included by
// test_oracle_samplers_slow.cpp and test_oracle_sde_slow.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "diffusion/metrics.h"
#include "diffusion/oracle.h"
#include "diffusion/samplers.h"

using namespace drift;
using namespace drift::diffusion;

namespace {

const int64_t kSamples = 20000;

struct Tolerance {
  double mean = 0.1;  // |mean error| <= mean * mode std (+ 4 standard errors)
  double var = 0.1;   // |var / true var - 1| <= var (+ 4 standard errors)
};

// Mode weights within +-2 percentage points, per-mode means and variances within tolerance.
void expect_moments(const GaussianMixture& mix, const Tensor& x, const std::string& what, Tolerance tol = {}) {
  ModeStats st = mode_stats(mix, x);
  EXPECT_EQ(st.non_finite, 0) << what;
  std::string report = what + ":";
  for (int64_t k = 0; k < mix.components(); ++k) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " w%.3f", st.weights[k]);
    report += buf;
    EXPECT_NEAR(st.weights[k], mix.weights[k], 0.02) << what << " mode " << k;
    const double nk = std::max(1.0, st.weights[k] * double(x.size(0)));
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
void expect_sliced_wasserstein(const GaussianMixture& mix, const Tensor& x, const std::string& what) {
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
  EXPECT_LE(sw, 1.5 * ref) << what;
}

using Runner = std::function<SampleResult(Denoiser&, Generator&, const Shape&)>;

// Runs a sampler with the oracle of `mix` under `process` on 20,000 points and checks the result.
Tensor check_sampler(const std::string& name, const GaussianMixture& mix, const Process& process, const Runner& run,
                     Tolerance tol = {}, bool sliced = true, Prediction target = Prediction::Eps) {
  OracleDenoiser oracle(mix, process, target);
  Generator gen(7);
  auto t0 = std::chrono::steady_clock::now();
  SampleResult r = run(oracle, gen, {kSamples, mix.dim()});
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[%s, %ld-D] nfe = %ld, steps = %ld (%.1f s)\n", name.c_str(), long(mix.dim()), long(r.nfe),
              long(r.steps), sec);
  EXPECT_EQ(r.nfe, oracle.calls()) << name;
  expect_moments(mix, r.x, name, tol);
  if (sliced && mix.dim() == 2) expect_sliced_wasserstein(mix, r.x, name);
  return r.x;
}

const std::vector<GaussianMixture>& mixtures() {
  static const std::vector<GaussianMixture> m = {demo_mixture_1d(), demo_mixture_2d()};
  return m;
}

}  // namespace
