#include "diffusion/oracle.h"

#include <cmath>

namespace drift::diffusion {

namespace {
const double kPi = 3.14159265358979323846;
}

void GaussianMixture::validate() const {
  const int64_t K = components();
  DRIFT_CHECK(K >= 1, "GaussianMixture: expected at least one component, got none");
  DRIFT_CHECK(static_cast<int64_t>(means.size()) == K && static_cast<int64_t>(variances.size()) == K,
              "GaussianMixture: expected ", K, " means and variances, got ", means.size(), " and ",
              variances.size());
  DRIFT_CHECK(classes.empty() || static_cast<int64_t>(classes.size()) == K, "GaussianMixture: expected ", K,
              " class labels (or none), got ", classes.size());
  double total = 0;
  for (int64_t k = 0; k < K; ++k) {
    DRIFT_CHECK(weights[k] > 0, "GaussianMixture: expected positive weights, got w[", k, "] = ", weights[k]);
    DRIFT_CHECK(static_cast<int64_t>(means[k].size()) == dim() && static_cast<int64_t>(variances[k].size()) == dim(),
                "GaussianMixture: component ", k, " expected dimension ", dim(), ", got mean size ",
                means[k].size(), " and variance size ", variances[k].size());
    for (double v : variances[k]) DRIFT_CHECK(v > 0, "GaussianMixture: expected positive variances, got ", v);
    total += weights[k];
  }
  DRIFT_CHECK(std::abs(total - 1.0) < 1e-9, "GaussianMixture: expected weights summing to 1, got ", total);
}

GaussianMixture::Draw GaussianMixture::sample(int64_t n, Generator& gen, DType dtype) const {
  validate();
  const int64_t D = dim(), K = components();
  std::vector<double> u = ops::to_vector_f64(ops::rand({n}, gen, DType::Float64));
  std::vector<double> z = ops::to_vector_f64(ops::randn({n, D}, gen, DType::Float64));
  std::vector<double> x(static_cast<size_t>(n * D));
  Draw d;
  d.component.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = 0;  // pick component k with probability w_k (inverse CDF)
    double c = weights[0];
    while (u[i] >= c && k + 1 < K) c += weights[++k];
    d.component[i] = k;
    for (int64_t j = 0; j < D; ++j)
      x[i * D + j] = means[k][j] + std::sqrt(variances[k][j]) * z[i * D + j];  // x = mu_k + sqrt(v_k) z
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
    m.classes.push_back(label);
  }
  return m;
}

GaussianMixture GaussianMixture::noised(double alpha, double sigma) const {
  GaussianMixture m = *this;
  for (int64_t k = 0; k < components(); ++k)
    for (int64_t j = 0; j < dim(); ++j) {
      m.means[k][j] = alpha * means[k][j];                                    // alpha mu_k
      m.variances[k][j] = alpha * alpha * variances[k][j] + sigma * sigma;    // alpha^2 v_k + sigma^2
    }
  return m;
}

std::vector<double> GaussianMixture::log_density(const Tensor& x) const {
  validate();
  DRIFT_CHECK(x.dim() == 2 && x.size(1) == dim(), "GaussianMixture::log_density: expected points [n, ", dim(),
              "], got ", shape_str(x.shape()));
  const int64_t n = x.size(0), D = dim(), K = components();
  std::vector<double> xv = ops::to_vector_f64(x), out(static_cast<size_t>(n));
  std::vector<double> lp(static_cast<size_t>(K));
  for (int64_t i = 0; i < n; ++i) {
    double mx = -1e300;
    for (int64_t k = 0; k < K; ++k) {
      double l = std::log(weights[k]);  // log w_k + log N(x; mu_k, diag v_k)
      for (int64_t j = 0; j < D; ++j) {
        const double d = xv[i * D + j] - means[k][j], v = variances[k][j];
        l -= 0.5 * (d * d / v + std::log(2 * kPi * v));
      }
      lp[k] = l;
      mx = std::max(mx, l);
    }
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += std::exp(lp[k] - mx);
    out[i] = mx + std::log(s);  // log sum_k exp(lp_k)
  }
  return out;
}

std::vector<int64_t> GaussianMixture::assign(const Tensor& x) const {
  const int64_t n = x.size(0), D = dim(), K = components();
  DRIFT_CHECK(x.dim() == 2 && x.size(1) == D, "GaussianMixture::assign: expected points [n, ", D, "], got ",
              shape_str(x.shape()));
  std::vector<double> xv = ops::to_vector_f64(x);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double best = -1e300;
    for (int64_t k = 0; k < K; ++k) {
      double l = std::log(weights[k]);
      for (int64_t j = 0; j < D; ++j) {
        const double d = xv[i * D + j] - means[k][j], v = variances[k][j];
        l -= 0.5 * (d * d / v + std::log(v));
      }
      if (l > best) {
        best = l;
        out[i] = k;
      }
    }
  }
  return out;
}

OracleDenoiser::OracleDenoiser(GaussianMixture mixture, const Process& process, Prediction target)
    : mix_(std::move(mixture)), process_(process), target_(target) {
  mix_.validate();
}

OracleDenoiser::Parts OracleDenoiser::compute(const Tensor& x, const Tensor& alpha, const Tensor& sigma,
                                              const Tensor& labels) {
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

  // Per-sample log mixture weights [N, K]: log w_k, or, with a label c, the
  // class-conditional mixture (weights renormalised within class c).
  std::vector<double> logw(static_cast<size_t>(N * K));
  std::vector<int64_t> lab;
  if (labels.defined()) {
    DRIFT_CHECK(labels.dim() == 1 && labels.size(0) == N, "OracleDenoiser: expected labels [", N, "], got ",
                shape_str(labels.shape()));
    lab = ops::to_vector_i64(labels);
  }
  for (int64_t i = 0; i < N; ++i) {
    const int64_t c = lab.empty() ? kNullLabel : lab[i];
    double total = 0;
    for (int64_t k = 0; k < K; ++k)
      if (c == kNullLabel || mix_.class_of(k) == c) total += mix_.weights[k];
    DRIFT_CHECK(total > 0, "OracleDenoiser: no mixture component has class ", c);
    for (int64_t k = 0; k < K; ++k) {
      const bool in = c == kNullLabel || mix_.class_of(k) == c;
      logw[i * K + k] = in ? std::log(mix_.weights[k] / total) : -1e30;
    }
  }
  Tensor logw_t = ops::to(ops::from_vector(logw, {N, K}, dev), dt);

  // Noised components: mean m_k = alpha mu_k, variance s_k = alpha^2 v_k + sigma^2.
  Tensor m = mul(alpha, mu_t);                                  // [N|1, K, D]
  Tensor s = add(mul(square(alpha), var_t), square(sigma));    // [N|1, K, D]
  Tensor diff = sub(unsqueeze(x, 1), m);                        // x - m_k  [N, K, D]
  Tensor z = div(diff, s);                                      // (x - m_k) / s_k
  // log w_k + log N(x; m_k, s_k) per component   [N, K]
  Tensor logpk = add(logw_t, mul(sum(add(mul(diff, z), log(mul(s, 2 * kPi))), {2}), -0.5));
  Tensor r = softmax(logpk, 1);                                 // responsibilities p(k | x_t)  [N, K]
  Tensor r3 = unsqueeze(r, 2);                                  // [N, K, 1]
  Parts p;
  // score = grad log p_t(x) = -sum_k r_k (x - m_k) / s_k;  eps = -sigma * score
  p.eps = mul(sum(mul(r3, z), {1}), squeeze(sigma, 2));
  // x0 = E[x_0 | x_t] = sum_k r_k (mu_k + alpha v_k (x - m_k) / s_k)   (Gaussian posterior mean)
  p.x0 = sum(mul(r3, add(mu_t, mul(mul(alpha, var_t), z))), {1});
  p.logp = logsumexp(logpk, {1});                               // log p_t(x)  [N]
  return p;
}

Tensor OracleDenoiser::predict(const Tensor& x, const Tensor& t, const Tensor& labels) {
  ++calls_;
  DRIFT_CHECK(t.dim() == 1 && t.size(0) == x.size(0), "OracleDenoiser: expected t of shape [", x.size(0),
              "], got ", shape_str(t.shape()));
  std::vector<double> tv = ops::to_vector_f64(t);
  bool same = true;
  for (double v : tv) same = same && v == tv[0];
  Tensor alpha, sigma;
  if (same) {  // one time for the batch (samplers): [1, 1, 1]
    alpha = ops::full({1, 1, 1}, process_.alpha(tv[0]), x.dtype(), x.device());
    sigma = ops::full({1, 1, 1}, process_.sigma(tv[0]), x.dtype(), x.device());
  } else {  // one time per sample (training): [N, 1, 1]
    std::vector<double> a(tv.size()), s(tv.size());
    for (size_t i = 0; i < tv.size(); ++i) {
      a[i] = process_.alpha(tv[i]);
      s[i] = process_.sigma(tv[i]);
    }
    alpha = ops::to(ops::from_vector(a, {x.size(0), 1, 1}, x.device()), x.dtype());
    sigma = ops::to(ops::from_vector(s, {x.size(0), 1, 1}, x.device()), x.dtype());
  }
  Parts p = compute(x, alpha, sigma, labels);
  Tensor a2 = squeeze(alpha, 2), s2 = squeeze(sigma, 2);  // [N|1, 1]
  return target_from(target_, p.eps, p.x0, a2, s2);
}

Tensor OracleDenoiser::score(const Tensor& x, double t) {
  Tensor a = ops::full({1, 1, 1}, process_.alpha(t), x.dtype(), x.device());
  Tensor s = ops::full({1, 1, 1}, process_.sigma(t), x.dtype(), x.device());
  return score_from_eps(compute(x, a, s, Tensor()).eps, process_.sigma(t));
}

Tensor OracleDenoiser::log_prob(const Tensor& x, double t) {
  Tensor a = ops::full({1, 1, 1}, process_.alpha(t), x.dtype(), x.device());
  Tensor s = ops::full({1, 1, 1}, process_.sigma(t), x.dtype(), x.device());
  return compute(x, a, s, Tensor()).logp;
}

}  // namespace drift::diffusion
