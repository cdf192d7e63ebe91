#include "diffusion/oracle.h"

#include <algorithm>
#include <cmath>

#include "autograd/engine.h"

namespace drift::diffusion {

namespace {
const double kPi = 3.14159265358979323846;
}

std::vector<double> cholesky(const std::vector<double>& A, int64_t D, const char* what) {
  DRIFT_CHECK(static_cast<int64_t>(A.size()) == D * D, what, ": expected a ", D, "x", D, " matrix, got ", A.size(),
              " numbers");
  std::vector<double> L(static_cast<size_t>(D * D), 0.0);
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double v = A[i * D + j];  // L_ij = (A_ij - sum_{k<j} L_ik L_jk) / L_jj,  L_ii = sqrt(A_ii - sum_k L_ik^2)
      for (int64_t k = 0; k < j; ++k) v -= L[i * D + k] * L[j * D + k];
      if (i == j) {
        DRIFT_CHECK(v > 0 && std::isfinite(v), what, ": expected a symmetric positive definite matrix, got pivot ", v,
                    " at row ", i);
        L[i * D + i] = std::sqrt(v);
      } else {
        L[i * D + j] = v / L[j * D + j];
      }
    }
  return L;
}

std::vector<double> spd_inverse(const std::vector<double>& A, int64_t D, double* logdet, const char* what) {
  const std::vector<double> L = cholesky(A, D, what);
  // A^{-1} = L^{-T} L^{-1}: first M = L^{-1} (forward substitution on the identity).
  std::vector<double> M(static_cast<size_t>(D * D), 0.0), inv(M.size(), 0.0);
  for (int64_t c = 0; c < D; ++c)
    for (int64_t i = 0; i < D; ++i) {
      double v = i == c ? 1.0 : 0.0;
      for (int64_t k = 0; k < i; ++k) v -= L[i * D + k] * M[k * D + c];
      M[i * D + c] = v / L[i * D + i];
    }
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = 0; j < D; ++j) {
      double v = 0;
      for (int64_t k = 0; k < D; ++k) v += M[k * D + i] * M[k * D + j];  // (M^T M)_ij
      inv[i * D + j] = v;
    }
  if (logdet) {
    *logdet = 0;  // log det A = 2 sum_i log L_ii
    for (int64_t i = 0; i < D; ++i) *logdet += 2.0 * std::log(L[i * D + i]);
  }
  return inv;
}

std::vector<double> GaussianMixture::covariance(int64_t k) const {
  if (full()) return covariances[static_cast<size_t>(k)];
  const int64_t D = dim();
  std::vector<double> c(static_cast<size_t>(D * D), 0.0);
  for (int64_t j = 0; j < D; ++j) c[j * D + j] = variances[k][j];
  return c;
}

void GaussianMixture::validate() const {
  const int64_t K = components();
  DRIFT_CHECK(K >= 1, "GaussianMixture: expected at least one component, got none");
  DRIFT_CHECK(static_cast<int64_t>(means.size()) == K && static_cast<int64_t>(variances.size()) == K,
              "GaussianMixture: expected ", K, " means and variances, got ", means.size(), " and ",
              variances.size());
  DRIFT_CHECK(classes.empty() || static_cast<int64_t>(classes.size()) == K, "GaussianMixture: expected ", K,
              " class labels (or none), got ", classes.size());
  DRIFT_CHECK(covariances.empty() || static_cast<int64_t>(covariances.size()) == K, "GaussianMixture: expected ", K,
              " full covariances (or none), got ", covariances.size());
  double total = 0;
  const int64_t D = dim();
  for (int64_t k = 0; k < K; ++k) {
    DRIFT_CHECK(weights[k] > 0, "GaussianMixture: expected positive weights, got w[", k, "] = ", weights[k]);
    DRIFT_CHECK(static_cast<int64_t>(means[k].size()) == D && static_cast<int64_t>(variances[k].size()) == D,
                "GaussianMixture: component ", k, " expected dimension ", D, ", got mean size ",
                means[k].size(), " and variance size ", variances[k].size());
    for (double v : variances[k]) DRIFT_CHECK(v > 0, "GaussianMixture: expected positive variances, got ", v);
    if (full()) {
      const std::vector<double>& c = covariances[k];
      DRIFT_CHECK(static_cast<int64_t>(c.size()) == D * D, "GaussianMixture: covariance ", k, " expected ", D * D,
                  " numbers, got ", c.size());
      for (int64_t i = 0; i < D; ++i) {
        DRIFT_CHECK(std::abs(c[i * D + i] - variances[k][i]) <= 1e-12 * variances[k][i], "GaussianMixture: covariance ",
                    k, " expected diagonal ", variances[k][i], " (the variance) at ", i, ", got ", c[i * D + i]);
        for (int64_t j = 0; j < i; ++j)
          DRIFT_CHECK(std::abs(c[i * D + j] - c[j * D + i]) <= 1e-12 * (std::abs(c[i * D + j]) + 1e-300),
                      "GaussianMixture: covariance ", k, " expected symmetric, got ", c[i * D + j], " and ",
                      c[j * D + i], " at (", i, ", ", j, ")");
      }
      cholesky(c, D, "GaussianMixture: covariance");
    }
    total += weights[k];
  }
  DRIFT_CHECK(std::abs(total - 1.0) < 1e-9, "GaussianMixture: expected weights summing to 1, got ", total);
}

GaussianMixture::Draw GaussianMixture::sample(int64_t n, Generator& gen, DType dtype) const {
  validate();
  const int64_t D = dim(), K = components();
  std::vector<double> u = ops::to_vector_f64(ops::rand({n}, gen, DType::Float64));
  std::vector<double> z = ops::to_vector_f64(ops::randn({n, D}, gen, DType::Float64));
  std::vector<std::vector<double>> L;  // Cholesky factors of the full covariances
  for (int64_t k = 0; full() && k < K; ++k) L.push_back(cholesky(covariances[k], D, "GaussianMixture::sample"));
  std::vector<double> x(static_cast<size_t>(n * D));
  Draw d;
  d.component.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = 0;  // pick component k with probability w_k (inverse CDF)
    double c = weights[0];
    while (u[i] >= c && k + 1 < K) c += weights[++k];
    d.component[i] = k;
    for (int64_t j = 0; j < D; ++j) {
      double e = 0;  // x = mu_k + sqrt(v_k) z, or mu_k + L_k z with C_k = L_k L_k^T
      if (full())
        for (int64_t m = 0; m <= j; ++m) e += L[k][j * D + m] * z[i * D + m];
      else
        e = std::sqrt(variances[k][j]) * z[i * D + j];
      x[i * D + j] = means[k][j] + e;
    }
  }
  d.x = ops::to(ops::from_vector(x, {n, D}), dtype);
  return d;
}

GaussianMixture GaussianMixture::conditional(int64_t label) const {
  GaussianMixture m;
  double total = 0;
  for (int64_t k = 0; k < components(); ++k)
    if (class_of(k) == label) total += weights[k];
  DRIFT_CHECK(total > 0, "GaussianMixture::conditional: no component has class ", label);
  for (int64_t k = 0; k < components(); ++k) {
    if (class_of(k) != label) continue;
    m.weights.push_back(weights[k] / total);
    m.means.push_back(means[k]);
    m.variances.push_back(variances[k]);
    if (full()) m.covariances.push_back(covariances[k]);
    m.classes.push_back(label);
  }
  return m;
}

GaussianMixture GaussianMixture::noised(double alpha, double sigma) const {
  GaussianMixture m = *this;
  const int64_t D = dim();
  for (int64_t k = 0; k < components(); ++k) {
    for (int64_t j = 0; j < D; ++j) {
      m.means[k][j] = alpha * means[k][j];                                    // alpha mu_k
      m.variances[k][j] = alpha * alpha * variances[k][j] + sigma * sigma;    // alpha^2 v_k + sigma^2
    }
    if (!full()) continue;
    for (int64_t i = 0; i < D * D; ++i) m.covariances[k][i] = alpha * alpha * covariances[k][i];  // alpha^2 C_k
    for (int64_t j = 0; j < D; ++j) m.covariances[k][j * D + j] = m.variances[k][j];              // + sigma^2 I
  }
  return m;
}

namespace {
// log w_k + log N(x_i; mu_k, C_k) of every point and component, [n * K].
std::vector<double> component_log_densities(const GaussianMixture& g, const std::vector<double>& xv, int64_t n) {
  const int64_t D = g.dim(), K = g.components();
  std::vector<double> prec(static_cast<size_t>(K * D * D)), c(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) {
    double logdet = 0;  // c_k = log w_k - 1/2 log det(2 pi C_k); prec_k = C_k^{-1}
    const std::vector<double> p = spd_inverse(g.covariance(k), D, &logdet, "GaussianMixture: covariance");
    std::copy(p.begin(), p.end(), prec.begin() + k * D * D);
    c[k] = std::log(g.weights[k]) - 0.5 * (logdet + double(D) * std::log(2 * kPi));
  }
  std::vector<double> out(static_cast<size_t>(n * K));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < K; ++k) {
      double q = 0;  // (x - mu_k)^T C_k^{-1} (x - mu_k)
      for (int64_t a = 0; a < D; ++a)
        for (int64_t b = 0; b < D; ++b)
          q += (xv[i * D + a] - g.means[k][a]) * prec[k * D * D + a * D + b] * (xv[i * D + b] - g.means[k][b]);
      out[i * K + k] = c[k] - 0.5 * q;
    }
  return out;
}
}  // namespace

std::vector<double> GaussianMixture::log_density(const Tensor& x) const {
  validate();
  DRIFT_CHECK(x.dim() == 2 && x.size(1) == dim(), "GaussianMixture::log_density: expected points [n, ", dim(),
              "], got ", shape_str(x.shape()));
  const int64_t n = x.size(0), K = components();
  const std::vector<double> lp = component_log_densities(*this, ops::to_vector_f64(x), n);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double mx = -1e300;
    for (int64_t k = 0; k < K; ++k) mx = std::max(mx, lp[i * K + k]);
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += std::exp(lp[i * K + k] - mx);
    out[i] = mx + std::log(s);  // log sum_k exp(lp_k)
  }
  return out;
}

std::vector<int64_t> GaussianMixture::assign(const Tensor& x) const {
  const int64_t n = x.size(0), D = dim(), K = components();
  DRIFT_CHECK(x.dim() == 2 && x.size(1) == D, "GaussianMixture::assign: expected points [n, ", D, "], got ",
              shape_str(x.shape()));
  const std::vector<double> lp = component_log_densities(*this, ops::to_vector_f64(x), n);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    out[i] = std::max_element(lp.begin() + i * K, lp.begin() + (i + 1) * K) - (lp.begin() + i * K);
  return out;
}

GaussianMixture demo_mixture_1d() {
  GaussianMixture m;
  m.weights = {0.5, 0.3, 0.2};
  m.means = {{-2.0}, {0.5}, {2.5}};
  m.variances = {{0.09}, {0.16}, {0.0625}};  // std 0.3, 0.4, 0.25
  m.classes = {0, 0, 1};
  return m;
}

GaussianMixture demo_mixture_2d() {
  GaussianMixture m;
  m.weights = {0.4, 0.3, 0.2, 0.1};
  m.means = {{-1.5, -1.0}, {1.5, -0.5}, {0.0, 1.8}, {2.0, 2.0}};
  m.variances = {{0.10, 0.15}, {0.20, 0.08}, {0.12, 0.12}, {0.05, 0.05}};
  m.classes = {0, 1, 0, 1};
  return m;
}

GaussianMixture demo_mixture_6d() {
  const int64_t D = 6;
  GaussianMixture m;
  m.weights = {0.35, 0.3, 0.2, 0.15};
  // Pairwise distances 3.4-4.0: at least 6.8 standard deviations along any direction.
  m.means = {{-1.5, -1.0, 0.5, 0.0, 1.0, -0.5},
             {1.5, -0.5, -1.0, 0.5, -0.5, 1.0},
             {0.0, 1.8, 1.0, -1.0, 0.0, 0.5},
             {1.0, 1.0, -0.5, 1.5, 1.5, -1.0}};
  m.classes = {0, 1, 0, 1};
  // C_k = Q_k diag(lambda) Q_k^T with a fixed random rotation Q_k (Gram-Schmidt of a
  // Gaussian matrix) and eigenvalues 0.04..0.25 (std 0.2..0.5, like the 2-D modes) scaled per mode.
  const double lambda[D] = {0.04, 0.06, 0.09, 0.13, 0.18, 0.25};
  const double scale[4] = {1.0, 0.8, 0.6, 0.5};
  Generator gen(2026);
  for (int64_t k = 0; k < 4; ++k) {
    std::vector<double> q = ops::to_vector_f64(ops::randn({D, D}, gen, DType::Float64));
    for (int64_t r = 0; r < D; ++r) {  // rows of q orthonormal
      for (int64_t p = 0; p < r; ++p) {
        double dot = 0;
        for (int64_t j = 0; j < D; ++j) dot += q[r * D + j] * q[p * D + j];
        for (int64_t j = 0; j < D; ++j) q[r * D + j] -= dot * q[p * D + j];
      }
      double norm = 0;
      for (int64_t j = 0; j < D; ++j) norm += q[r * D + j] * q[r * D + j];
      for (int64_t j = 0; j < D; ++j) q[r * D + j] /= std::sqrt(norm);
    }
    std::vector<double> c(static_cast<size_t>(D * D)), v(static_cast<size_t>(D));
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < D; ++j) {
        double e = 0;  // C_ij = sum_r q_ri lambda_r q_rj
        for (int64_t r = 0; r < D; ++r) e += q[r * D + i] * scale[k] * lambda[r] * q[r * D + j];
        c[i * D + j] = e;
      }
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < i; ++j) c[i * D + j] = c[j * D + i];  // exactly symmetric
    for (int64_t j = 0; j < D; ++j) v[j] = c[j * D + j];
    m.covariances.push_back(c);
    m.variances.push_back(v);
  }
  return m;
}

namespace {
// The constants of the noised components of a full-covariance mixture at one
// (alpha, sigma): S_k = alpha^2 C_k + sigma^2 I, P_k = S_k^{-1}, G_k = alpha C_k P_k
// (the posterior mean E[x_0 | x_t, k] = mu_k + G_k (x - alpha mu_k)), log det(2 pi S_k).
struct FullConsts {
  std::vector<double> P, G, logdet;  // [K*D*D], [K*D*D], [K]
};
FullConsts full_consts(const GaussianMixture& mix, double al, double sg) {
  const int64_t K = mix.components(), D = mix.dim();
  FullConsts f;
  for (int64_t k = 0; k < K; ++k) {
    std::vector<double> C = mix.covariance(k), S = C;
    for (double& v : S) v *= al * al;
    for (int64_t j = 0; j < D; ++j) S[j * D + j] += sg * sg;
    double ld = 0;
    const std::vector<double> P = spd_inverse(S, D, &ld, "OracleDenoiser: noised covariance");
    f.P.insert(f.P.end(), P.begin(), P.end());
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < D; ++j) {
        double g = 0;
        for (int64_t m = 0; m < D; ++m) g += al * C[i * D + m] * P[m * D + j];
        f.G.push_back(g);
      }
    f.logdet.push_back(ld + double(D) * std::log(2 * kPi));
  }
  return f;
}
}  // namespace

OracleDenoiser::OracleDenoiser(GaussianMixture mixture, const Process& process, Prediction target)
    : mix_(std::move(mixture)), process_(process), target_(target) {
  mix_.validate();
}

OracleDenoiser::Parts OracleDenoiser::compute(const Tensor& x, const std::vector<double>& a,
                                              const std::vector<double>& sv, const Tensor& labels) {
  const int64_t N = x.size(0), D = mix_.dim(), K = mix_.components();
  DRIFT_CHECK(x.dim() == 2 && x.size(1) == D, "OracleDenoiser: expected x of shape [N, ", D, "], got ",
              shape_str(x.shape()));
  const DType dt = x.dtype();
  const Device dev = x.device();
  std::vector<double> mu, var;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < D; ++j) {
      mu.push_back(mix_.means[k][j]);
      var.push_back(mix_.variances[k][j]);
    }
  Tensor mu_t = ops::to(ops::from_vector(mu, {1, K, D}, dev), dt);    // mu_k      [1, K, D]
  Tensor var_t = ops::to(ops::from_vector(var, {1, K, D}, dev), dt);  // v_k       [1, K, D]

  // Log mixture weights: log w_k [1, K], or per sample [N, K] with labels
  // (the class-conditional mixture: weights renormalised within class c).
  Tensor logw_t;
  if (!labels.defined()) {
    std::vector<double> logw(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) logw[k] = std::log(mix_.weights[k]);
    logw_t = ops::to(ops::from_vector(logw, {1, K}, dev), dt);
  } else {
    DRIFT_CHECK(labels.dim() == 1 && labels.size(0) == N, "OracleDenoiser: expected labels [", N, "], got ",
                shape_str(labels.shape()));
    std::vector<int64_t> lab = ops::to_vector_i64(labels);
    std::vector<double> logw(static_cast<size_t>(N * K));
    for (int64_t i = 0; i < N; ++i) {
      const int64_t c = lab[i];
      double total = 0;
      for (int64_t k = 0; k < K; ++k)
        if (c == kNullLabel || mix_.class_of(k) == c) total += mix_.weights[k];
      DRIFT_CHECK(total > 0, "OracleDenoiser: no mixture component has class ", c);
      for (int64_t k = 0; k < K; ++k) {
        const bool in = c == kNullLabel || mix_.class_of(k) == c;
        logw[i * K + k] = in ? std::log(mix_.weights[k] / total) : -1e30;
      }
    }
    logw_t = ops::to(ops::from_vector(logw, {N, K}, dev), dt);
  }

  const int64_t R = static_cast<int64_t>(a.size());  // one (alpha, sigma) or one per sample
  Tensor alpha = ops::to(ops::from_vector(a, {R, 1, 1}, dev), dt);
  Tensor sigma = ops::to(ops::from_vector(sv, {R, 1, 1}, dev), dt);
  if (mix_.full()) {
    // Full covariances: S_k = alpha^2 C_k + sigma^2 I; P_k = S_k^{-1}, G_k = alpha C_k P_k and
    // log det(2 pi S_k) are constants of x, made on the host ([R, K, D, D] and [R, K]).
    std::vector<double> P, G, ld;
    for (int64_t r = 0; r < R; ++r) {
      const FullConsts fc = full_consts(mix_, a[r], sv[r]);
      P.insert(P.end(), fc.P.begin(), fc.P.end());
      G.insert(G.end(), fc.G.begin(), fc.G.end());
      for (int64_t k = 0; k < K; ++k) ld.push_back(fc.logdet[k]);
    }
    Tensor P_t = ops::to(ops::from_vector(P, {R, K, D, D}, dev), dt);
    Tensor G_t = ops::to(ops::from_vector(G, {R, K, D, D}, dev), dt);
    Tensor ld_t = ops::to(ops::from_vector(ld, {R, K}, dev), dt);
    Tensor diff = sub(unsqueeze(x, 1), mul(alpha, mu_t));            // d_k = x - alpha mu_k   [N, K, D]
    Tensor z = sum(mul(unsqueeze(diff, 2), P_t), {3});               // z_k = P_k d_k          [N, K, D]
    // log w_k + log N(x; alpha mu_k, S_k) = log w_k - 1/2 (d_k^T P_k d_k + log det(2 pi S_k))   [N, K]
    Tensor logpk = sub(logw_t, mul(add(sum(mul(diff, z), {2}), ld_t), 0.5));
    Tensor r = unsqueeze(softmax(logpk, 1), 2);                      // responsibilities [N, K, 1]
    Parts p;
    p.eps = mul(sum(mul(r, z), {1}), squeeze(sigma, 2));             // eps = sigma sum_k r_k P_k d_k
    Tensor post = add(mu_t, sum(mul(unsqueeze(diff, 2), G_t), {3}));  // mu_k + G_k d_k  [N, K, D]
    p.x0 = sum(mul(r, post), {1});                                   // E[x_0 | x_t]
    p.logp = logsumexp(logpk, {1});
    return p;
  }
  // Noised components: mean m_k = alpha mu_k, variance s_k = alpha^2 v_k + sigma^2.
  Tensor m = mul(alpha, mu_t);                                  // [N|1, K, D]
  Tensor s = add(mul(square(alpha), var_t), square(sigma));    // [N|1, K, D]
  Tensor diff = sub(unsqueeze(x, 1), m);                        // x - m_k  [N, K, D]
  Tensor z = div(diff, s);                                      // (x - m_k) / s_k
  // log w_k + log N(x; m_k, s_k) = log w_k - 1/2 sum_j [(x - m_k)^2 / s_k + log(2 pi s_k)]   [N, K]
  Tensor logdet = sum(log(mul(s, 2 * kPi)), {2});               // [N|1, K]
  Tensor logpk = sub(logw_t, mul(add(sum(mul(diff, z), {2}), logdet), 0.5));
  Tensor r = softmax(logpk, 1);                                 // responsibilities p(k | x_t)  [N, K]
  Tensor rz = mul(unsqueeze(r, 2), z);                          // r_k (x - m_k) / s_k  [N, K, D]
  Parts p;
  // score = grad log p_t(x) = -sum_k r_k (x - m_k) / s_k;  eps = -sigma * score
  p.eps = mul(sum(rz, {1}), squeeze(sigma, 2));
  // x0 = E[x_0 | x_t] = sum_k r_k (mu_k + alpha v_k (x - m_k) / s_k)   (Gaussian posterior mean)
  p.x0 = add(matmul(r, squeeze(mu_t, 0)), mul(sum(mul(rz, var_t), {1}), squeeze(alpha, 2)));
  p.logp = logsumexp(logpk, {1});                               // log p_t(x)  [N]
  return p;
}

OracleDenoiser::Parts OracleDenoiser::compute_host(const Tensor& x, const std::vector<double>& a,
                                                   const std::vector<double>& s, const Tensor& labels) {
  const int64_t N = x.size(0), D = mix_.dim(), K = mix_.components();
  DRIFT_CHECK(x.dim() == 2 && x.size(1) == D, "OracleDenoiser: expected x of shape [N, ", D, "], got ",
              shape_str(x.shape()));
  std::vector<int64_t> lab;
  if (labels.defined()) {
    DRIFT_CHECK(labels.dim() == 1 && labels.size(0) == N, "OracleDenoiser: expected labels [", N, "], got ",
                shape_str(labels.shape()));
    lab = ops::to_vector_i64(labels);
    for (int64_t c : lab) {
      bool found = c == kNullLabel;
      for (int64_t k = 0; k < K && !found; ++k) found = mix_.class_of(k) == c;
      DRIFT_CHECK(found, "OracleDenoiser: no mixture component has class ", c);
    }
  }
  const std::vector<double> xv = ops::to_vector_f64(x);
  std::vector<double> eps(static_cast<size_t>(N * D)), x0(static_cast<size_t>(N * D)), logp(static_cast<size_t>(N));
  // Per-time constants of the noised components, for one time (a.size() == 1) or per sample:
  //   m_kj = alpha mu_kj, 1/s_kj with s_kj = alpha^2 v_kj + sigma^2, g_kj = alpha v_kj / s_kj,
  //   c_k = log w_k - 1/2 sum_j log(2 pi s_kj).
  // Full covariances: P_k = S_k^{-1}, G_k = alpha C_k P_k (full_consts) in place of 1/s_k and g_k.
  struct Consts { std::vector<double> m, inv_s, g, c, P, G; };
  const bool full = mix_.full();
  auto make_consts = [&](double al, double sg) {
    Consts k;
    if (full) {
      FullConsts f = full_consts(mix_, al, sg);
      k.P = std::move(f.P);
      k.G = std::move(f.G);
      for (int64_t c = 0; c < K; ++c) {
        k.c.push_back(std::log(mix_.weights[c]) - 0.5 * f.logdet[c]);
        for (int64_t j = 0; j < D; ++j) k.m.push_back(al * mix_.means[c][j]);
      }
      return k;
    }
    k.m.resize(static_cast<size_t>(K * D));
    k.inv_s.resize(k.m.size());
    k.g.resize(k.m.size());
    k.c.resize(static_cast<size_t>(K));
    for (int64_t c = 0; c < K; ++c) {
      double lc = std::log(mix_.weights[c]);
      for (int64_t j = 0; j < D; ++j) {
        const double v = mix_.variances[c][j], sk = al * al * v + sg * sg;
        k.m[c * D + j] = al * mix_.means[c][j];
        k.inv_s[c * D + j] = 1.0 / sk;
        k.g[c * D + j] = al * v / sk;
        lc -= 0.5 * std::log(2 * kPi * sk);
      }
      k.c[c] = lc;
    }
    return k;
  };
  const bool shared = a.size() == 1;
  const Consts shared_consts = shared ? make_consts(a[0], s[0]) : Consts{};
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    const Consts own = shared ? Consts{} : make_consts(a[i], s[i]);
    const Consts& cs = shared ? shared_consts : own;
    const double sg = shared ? s[0] : s[i];
    const int64_t c = lab.empty() ? kNullLabel : lab[i];
    double lp[64];
    double* lpk = lp;
    std::vector<double> big;
    if (K > 64) {
      big.resize(static_cast<size_t>(K));
      lpk = big.data();
    }
    const double* xi = &xv[i * D];
    double dz[2 * 64];  // full covariances: d = x - m_k and z = P_k d of one component (D <= 64)
    std::vector<double> dz_big;
    double* dk = dz;
    if (full && D > 64) {
      dz_big.resize(static_cast<size_t>(2 * D));
      dk = dz_big.data();
    }
    double* zk = dk + D;
    auto full_z = [&](int64_t k) {  // d = x - m_k, z = P_k d
      for (int64_t j = 0; j < D; ++j) dk[j] = xi[j] - cs.m[k * D + j];
      for (int64_t j = 0; j < D; ++j) {
        double v = 0;
        for (int64_t l = 0; l < D; ++l) v += cs.P[(k * D + j) * D + l] * dk[l];
        zk[j] = v;
      }
    };
    double mx = -1e300;
    for (int64_t k = 0; k < K; ++k) {
      if (c != kNullLabel && mix_.class_of(k) != c) {
        lpk[k] = -1e300;
        continue;
      }
      double q = 0;  // log w_k + log N(x; m_k, s_k) = c_k - 1/2 sum_j (x_j - m_kj)^2 / s_kj
      if (full) {      // (full: c_k - 1/2 d^T P_k d)
        full_z(k);
        for (int64_t j = 0; j < D; ++j) q += dk[j] * zk[j];
      } else {
        for (int64_t j = 0; j < D; ++j) {
          const double d = xi[j] - cs.m[k * D + j];
          q += d * d * cs.inv_s[k * D + j];
        }
      }
      lpk[k] = cs.c[k] - 0.5 * q;
      mx = std::max(mx, lpk[k]);
    }
    double total = 0, wsum = 0;
    for (int64_t k = 0; k < K; ++k) {
      if (lpk[k] <= -1e299) continue;
      lpk[k] = std::exp(lpk[k] - mx);
      total += lpk[k];
      wsum += mix_.weights[k];
    }
    // log p_t(x), with the weights renormalised within the class when a label is given
    logp[i] = mx + std::log(total) - std::log(wsum);
    double* ei = &eps[i * D];
    double* oi = &x0[i * D];
    for (int64_t j = 0; j < D; ++j) ei[j] = oi[j] = 0;
    for (int64_t k = 0; k < K; ++k) {
      if (lpk[k] <= -1e299) continue;
      const double r = lpk[k] / total;  // responsibility p(k | x_t)
      if (full) {  // eps += sigma r P_k d,  x0 += r (mu_k + G_k d)
        full_z(k);
        for (int64_t j = 0; j < D; ++j) {
          double gd = 0;
          for (int64_t l = 0; l < D; ++l) gd += cs.G[(k * D + j) * D + l] * dk[l];
          ei[j] += sg * r * zk[j];
          oi[j] += r * (mix_.means[k][j] + gd);
        }
        continue;
      }
      for (int64_t j = 0; j < D; ++j) {
        const double z = (xi[j] - cs.m[k * D + j]) * cs.inv_s[k * D + j];  // (x - m_k) / s_k
        ei[j] += sg * r * z;                                                // eps = -sigma score
        oi[j] += r * (mix_.means[k][j] + cs.g[k * D + j] * (xi[j] - cs.m[k * D + j]));  // E[x0 | x_t]
      }
    }
  }
  Parts p;
  p.eps = ops::to(ops::from_vector(eps, {N, D}, x.device()), x.dtype());
  p.x0 = ops::to(ops::from_vector(x0, {N, D}, x.device()), x.dtype());
  p.logp = ops::to(ops::from_vector(logp, {N}, x.device()), x.dtype());
  return p;
}

Tensor OracleDenoiser::predict(const Tensor& x, const Tensor& t, const Tensor& labels) {
  ++calls_;
  DRIFT_CHECK(t.dim() == 1 && t.size(0) == x.size(0), "OracleDenoiser: expected t of shape [", x.size(0),
              "], got ", shape_str(t.shape()));
  std::vector<double> tv = ops::to_vector_f64(t);
  bool same = true;
  for (double v : tv) same = same && v == tv[0];
  const size_t n = same ? 1 : tv.size();  // one time for the batch (samplers) or one per sample (training)
  std::vector<double> a(n), s(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = process_.alpha(tv[i]);
    s[i] = process_.sigma(tv[i]);
  }
  const bool need_graph = grad_enabled() && x.requires_grad();
  Parts p;
  Tensor a2, s2;  // [N|1, 1]
  const int64_t rows = static_cast<int64_t>(n);
  if (need_graph) {
    p = compute(x, a, s, labels);
  } else {
    p = compute_host(x, a, s, labels);
  }
  a2 = ops::to(ops::from_vector(a, {rows, 1}, x.device()), x.dtype());
  s2 = ops::to(ops::from_vector(s, {rows, 1}, x.device()), x.dtype());
  return target_from(target_, p.eps, p.x0, a2, s2);
}

Tensor OracleDenoiser::score(const Tensor& x, double t) {
  return score_from_eps(compute(x, {process_.alpha(t)}, {process_.sigma(t)}, Tensor()).eps, process_.sigma(t));
}

Tensor OracleDenoiser::log_prob(const Tensor& x, double t) {
  if (!(grad_enabled() && x.requires_grad())) return compute_host(x, {process_.alpha(t)}, {process_.sigma(t)}, Tensor()).logp;
  return compute(x, {process_.alpha(t)}, {process_.sigma(t)}, Tensor()).logp;
}

}  // namespace drift::diffusion
