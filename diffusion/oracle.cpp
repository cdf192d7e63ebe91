#include "diffusion/oracle.h"

#include <algorithm>
#include <cmath>

#include "autograd/engine.h"

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
  struct Consts { std::vector<double> m, inv_s, g, c; };
  auto make_consts = [&](double al, double sg) {
    Consts k;
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
    double mx = -1e300;
    for (int64_t k = 0; k < K; ++k) {
      if (c != kNullLabel && mix_.class_of(k) != c) {
        lpk[k] = -1e300;
        continue;
      }
      double q = 0;  // log w_k + log N(x; m_k, s_k) = c_k - 1/2 sum_j (x_j - m_kj)^2 / s_kj
      for (int64_t j = 0; j < D; ++j) {
        const double d = xi[j] - cs.m[k * D + j];
        q += d * d * cs.inv_s[k * D + j];
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
    Tensor alpha = ops::to(ops::from_vector(a, {rows, 1, 1}, x.device()), x.dtype());
    Tensor sigma = ops::to(ops::from_vector(s, {rows, 1, 1}, x.device()), x.dtype());
    p = compute(x, alpha, sigma, labels);
  } else {
    p = compute_host(x, a, s, labels);
  }
  a2 = ops::to(ops::from_vector(a, {rows, 1}, x.device()), x.dtype());
  s2 = ops::to(ops::from_vector(s, {rows, 1}, x.device()), x.dtype());
  return target_from(target_, p.eps, p.x0, a2, s2);
}

Tensor OracleDenoiser::score(const Tensor& x, double t) {
  Tensor a = ops::full({1, 1, 1}, process_.alpha(t), x.dtype(), x.device());
  Tensor s = ops::full({1, 1, 1}, process_.sigma(t), x.dtype(), x.device());
  return score_from_eps(compute(x, a, s, Tensor()).eps, process_.sigma(t));
}

Tensor OracleDenoiser::log_prob(const Tensor& x, double t) {
  if (!(grad_enabled() && x.requires_grad())) return compute_host(x, {process_.alpha(t)}, {process_.sigma(t)}, Tensor()).logp;
  Tensor a = ops::full({1, 1, 1}, process_.alpha(t), x.dtype(), x.device());
  Tensor s = ops::full({1, 1, 1}, process_.sigma(t), x.dtype(), x.device());
  return compute(x, a, s, Tensor()).logp;
}

}  // namespace drift::diffusion
