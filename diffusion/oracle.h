#pragma once
// Proof without a network: for data from a Gaussian mixture, every noised
// marginal p_t is again a Gaussian mixture,
//   p_0 = sum_k w_k N(mu_k, C_k)
//   p_t = sum_k w_k N(alpha_t mu_k, alpha_t^2 C_k + sigma_t^2 I)      (x_t = alpha_t x_0 + sigma_t eps)
// so the exact score, and hence the exact eps, x_0 and v, are known in closed
// form. OracleDenoiser is that exact "model"; it plugs into every sampler.
// C_k is diagonal (diag v_k) unless full covariances are given.
#include <cstdint>
#include <vector>

#include "diffusion/denoiser.h"
#include "tensor/rng.h"

namespace drift::diffusion {

struct GaussianMixture {
  std::vector<double> weights;                 // [K], positive, summing to 1
  std::vector<std::vector<double>> means;      // [K][D]
  std::vector<std::vector<double>> variances;  // [K][D] diagonal of each covariance
  // [K][D*D] full covariances C_k, row-major, symmetric positive definite, with
  // diagonals equal to `variances`; empty: diagonal covariances diag(v_k).
  std::vector<std::vector<double>> covariances;
  std::vector<int64_t> classes;                // [K] class label of each component (empty: all class 0)

  int64_t components() const { return static_cast<int64_t>(weights.size()); }
  int64_t dim() const { return means.empty() ? 0 : static_cast<int64_t>(means[0].size()); }
  int64_t class_of(int64_t k) const { return classes.empty() ? 0 : classes[static_cast<size_t>(k)]; }
  bool full() const { return !covariances.empty(); }
  // C_k as a row-major [D*D] matrix (diag(v_k) for a diagonal mixture).
  std::vector<double> covariance(int64_t k) const;
  void validate() const;  // throws on inconsistent sizes, weights or covariances

  // n samples x_0 [n, D] and the component each came from.
  struct Draw {
    Tensor x;
    std::vector<int64_t> component;
  };
  Draw sample(int64_t n, Generator& gen, DType dtype = DType::Float32) const;
  // The mixture restricted to one class, weights renormalised.
  GaussianMixture conditional(int64_t label) const;
  // The marginal after noising: components N(alpha mu_k, alpha^2 C_k + sigma^2 I).
  GaussianMixture noised(double alpha, double sigma) const;
  // Exact log-density log p(x) of points x [n, D] (float64 on the host).
  std::vector<double> log_density(const Tensor& x) const;
  // The most probable component of each point (posterior responsibility).
  std::vector<int64_t> assign(const Tensor& x) const;
};

// The mixtures the tests and examples use: several well-separated modes with
// unequal weights and variances (1-D: 3 modes; 2-D: 4 modes, classes 0/1;
// 6-D: 4 modes with full (rotated, anisotropic) covariances, classes 0/1).
GaussianMixture demo_mixture_1d();
GaussianMixture demo_mixture_2d();
GaussianMixture demo_mixture_6d();

// Cholesky factor L (lower, row-major) of a symmetric positive definite
// [D*D] matrix A = L L^T; throws naming `what` if A is not positive definite.
std::vector<double> cholesky(const std::vector<double>& A, int64_t D, const char* what);
// A^{-1} of a symmetric positive definite matrix and log det A (by Cholesky).
std::vector<double> spd_inverse(const std::vector<double>& A, int64_t D, double* logdet, const char* what);

// The exact denoiser of a Gaussian mixture under a forward process. Built
// from differentiable ops, so autograd can take its Jacobian (likelihood).
class OracleDenoiser : public Denoiser {
 public:
  OracleDenoiser(GaussianMixture mixture, const Process& process, Prediction target = Prediction::Eps);
  // x [N, D]; t [N]; labels int64 [N] (kNullLabel = unconditional) or undefined.
  Tensor predict(const Tensor& x, const Tensor& t, const Tensor& labels) override;
  Prediction target() const override { return target_; }
  void set_target(Prediction p) { target_ = p; }

  // The exact score grad_x log p_t(x) and log p_t(x) [N] at one time t for the whole batch.
  Tensor score(const Tensor& x, double t);
  Tensor log_prob(const Tensor& x, double t);
  const GaussianMixture& mixture() const { return mix_; }
  int64_t calls() const { return calls_; }

 private:
  struct Parts { Tensor eps, x0, logp; };
  // Posterior quantities at (alpha, sigma), with differentiable tensor ops
  // (used when x requires grad);
  // a and s hold one value (the whole batch) or one per sample.
  Parts compute(const Tensor& x, const std::vector<double>& a, const std::vector<double>& s, const Tensor& labels);
  // The same numbers with a plain double loop on the host (the fast path
  // when no gradient is needed).
  Parts compute_host(const Tensor& x, const std::vector<double>& a, const std::vector<double>& s,
                     const Tensor& labels);
  GaussianMixture mix_;
  const Process& process_;
  Prediction target_;
  int64_t calls_ = 0;
};

}  // namespace drift::diffusion
