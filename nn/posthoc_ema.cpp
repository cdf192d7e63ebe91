#include "nn/posthoc_ema.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "nn/safetensors.h"

// LAPACK (Debian's OpenBLAS carries it): solves A X = B for a general square A
// by LU with partial pivoting; column-major, A and B overwritten.
extern "C" void dgesv_(const int* n, const int* nrhs, double* a, const int* lda, int* ipiv, double* b,
                       const int* ldb, int* info);

namespace drift::nn {

namespace {

const char* kSnapshotFormat = "drift-ema-snapshot-1";
// The narrowest profile accepted: gamma ~ 1e8, far beyond any use.
constexpr double kMinSigmaRel = 1e-4;

// "%.17g": a double that reads back exactly.
std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// Whole text as a finite double.
bool parse_double(const std::string& s, double& out) {
  if (s.empty() || s.size() > 64) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size() && std::isfinite(out);
}

// Decimal digits only, at most int64.
bool parse_step(const std::string& s, int64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  int64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, ch - '0', &v)) return false;
  }
  out = v;
  return true;
}

void check_sigma_rel(double sigma_rel, const std::string& where) {
  DRIFT_CHECK(std::isfinite(sigma_rel) && sigma_rel >= kMinSigmaRel && sigma_rel <= kMaxSigmaRel * (1 + 1e-12), where,
              "sigma_rel must be in [", kMinSigmaRel, ", ", kMaxSigmaRel,
              "] (1/sqrt(12) is gamma = 0, a plain mean of all steps), got ", sigma_rel);
}

}  // namespace

// ---------------------------------------------------------------- profiles
double gamma_to_sigma_rel(double gamma) {
  DRIFT_CHECK(std::isfinite(gamma) && gamma >= 0, "gamma_to_sigma_rel: gamma must be >= 0, got ", gamma);
  return std::sqrt((gamma + 1) / ((gamma + 2) * (gamma + 2) * (gamma + 3)));  // EDM2 eq. 123
}

double sigma_rel_to_gamma(double sigma_rel) {
  check_sigma_rel(sigma_rel, "sigma_rel_to_gamma: ");
  // sigma_rel(gamma) decreases for gamma >= 0 (d/dgamma ln sigma_rel^2 =
  // 1/(g+1) - 2/(g+2) - 1/(g+3) < 0), so bisect. (EDM2 takes the largest real
  // root of the cubic g^3 + 7 g^2 + (16 - s^-2) g + 12 - s^-2 = 0, the same number.)
  double lo = 0, hi = 1;
  while (gamma_to_sigma_rel(hi) > sigma_rel) hi *= 2;  // at most ~27 doublings for sigma_rel >= 1e-4
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (gamma_to_sigma_rel(mid) > sigma_rel ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double power_profile_dot(double t_a, double g_a, double t_b, double g_b) {
  DRIFT_CHECK(t_a > 0 && t_b > 0 && g_a >= 0 && g_b >= 0, "power_profile_dot: expected t > 0 and gamma >= 0, got (",
              t_a, ", ", g_a, ") and (", t_b, ", ", g_b, ")");
  // Integral over [0, min(ta, tb)] of (ga+1) x^ga / ta^(ga+1) * (gb+1) x^gb / tb^(gb+1)   (EDM2 eq. 151),
  // written with the ratio min/max <= 1 so that large gammas underflow to 0 instead of overflowing.
  const double c = (g_a + 1) * (g_b + 1) / (g_a + g_b + 1);
  if (t_a <= t_b) return c / t_b * std::pow(t_a / t_b, g_b);
  return c / t_a * std::pow(t_b / t_a, g_a);
}

PosthocCoefficients solve_posthoc_coefficients(const std::vector<std::pair<double, double>>& in, double t_out,
                                               double g_out) {
  const int n = static_cast<int>(in.size());
  DRIFT_CHECK(n > 0, "solve_posthoc_coefficients: no snapshots");
  DRIFT_CHECK(t_out > 0 && g_out >= 0, "solve_posthoc_coefficients: expected t_out > 0 and gamma >= 0, got ", t_out,
              ", ", g_out);
  // Times relative to t_out: the solution does not change (A and b both scale by 1/t_out), the numbers are O(1).
  std::vector<double> A(static_cast<size_t>(n) * n), b(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j)  // A_ij = <p_i, p_j>  (column-major; A is symmetric)
      A[static_cast<size_t>(j) * n + i] =
          power_profile_dot(in[i].first / t_out, in[i].second, in[j].first / t_out, in[j].second);
    b[i] = power_profile_dot(in[i].first / t_out, in[i].second, 1.0, g_out);  // b_i = <p_i, p_target>
  }
  const std::vector<double> A0 = A, b0 = b;
  std::vector<int> ipiv(static_cast<size_t>(n));
  int nrhs = 1, info = 0;
  dgesv_(&n, &nrhs, A.data(), &n, ipiv.data(), b.data(), &n, &info);
  DRIFT_CHECK(info == 0, "solve_posthoc_coefficients: the snapshots' profiles are linearly dependent (LAPACK dgesv: "
              "info ", info, "); are two snapshots the same (step, sigma_rel)?");
  PosthocCoefficients out;
  out.x = b;
  double sum = 0;
  for (double v : out.x) sum += v;
  DRIFT_CHECK(std::isfinite(sum) && std::abs(sum) > 1e-12, "solve_posthoc_coefficients: the coefficients sum to ", sum);
  for (double& v : out.x) v /= sum;  // an average: weights summing to 1 (as EDM2's code)
  // ||p_rec - p||^2 = x^T A x - 2 x^T b + <p, p>
  const double pp = power_profile_dot(1.0, g_out, 1.0, g_out);
  double xax = 0, xb = 0;
  for (int i = 0; i < n; ++i) {
    xb += out.x[i] * b0[i];
    for (int j = 0; j < n; ++j) xax += out.x[i] * A0[static_cast<size_t>(j) * n + i] * out.x[j];
  }
  out.profile_error = std::sqrt(std::max(0.0, xax - 2 * xb + pp) / pp);
  return out;
}

// ---------------------------------------------------------------- PowerEma
PowerEma::PowerEma(const Module& model, double sigma_rel)
    : sigma_rel_(sigma_rel), gamma_(sigma_rel_to_gamma(sigma_rel)), ema_(model, 0.0) {}

void PowerEma::update(int64_t step) {
  DRIFT_CHECK(step >= 1, "PowerEma::update: the step count must be >= 1 (steps done including this one), got ", step);
  const double t = static_cast<double>(step);
  ema_.set_decay(std::pow(1.0 - 1.0 / t, gamma_ + 1));  // beta_t = (1 - 1/t)^(gamma+1)   (EDM2 eq. 127)
  ema_.update();
}

// ---------------------------------------------------------------- snapshots
std::string save_ema_snapshot(const std::string& dir, const PowerEma& ema, int64_t step,
                              const std::string& config_json) {
  DRIFT_CHECK(step >= 1, "save_ema_snapshot: the step must be >= 1, got ", step);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  DRIFT_CHECK(!ec && std::filesystem::is_directory(dir), "save_ema_snapshot: cannot create the folder '", dir,
              "': ", ec.message());
  char name[96];
  std::snprintf(name, sizeof(name), "/step_%07lld_sigma_rel_%.4f.safetensors", static_cast<long long>(step),
                ema.sigma_rel());
  Metadata meta;
  meta["format"] = kSnapshotFormat;
  meta["step"] = std::to_string(step);
  meta["sigma_rel"] = exact(ema.sigma_rel());
  meta["gamma"] = exact(ema.gamma());
  meta["config"] = config_json;
  const std::string path = dir + name;
  save_safetensors(path, ema.shadow(), meta);
  return path;
}

std::vector<EmaSnapshot> list_ema_snapshots(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  DRIFT_CHECK(fs::is_directory(dir, ec), "no post-hoc EMA snapshots: the folder '", dir,
              "' does not exist (train with posthoc_ema_every > 0 to write them)");
  std::vector<EmaSnapshot> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string path = e.path().string();
    if (e.path().extension() != ".safetensors") continue;  // e.g. a killed run's "*.tmp.<pid>"
    const Metadata meta = load_safetensors_metadata(path);
    const std::string where = str("post-hoc EMA snapshot '", path, "': ");
    auto get = [&](const char* key) -> const std::string& {
      auto it = meta.find(key);
      DRIFT_CHECK(it != meta.end(), where, "no '", key,
                  "' entry in its metadata (not a snapshot written by drift train?)");
      return it->second;
    };
    DRIFT_CHECK(get("format") == kSnapshotFormat, where, "metadata 'format' is '", get("format").substr(0, 60),
                "', expected '", kSnapshotFormat, "'");
    EmaSnapshot s;
    s.path = path;
    DRIFT_CHECK(parse_step(get("step"), s.step) && s.step >= 1, where,
                "metadata 'step' must be a whole number >= 1, found '", get("step").substr(0, 40), "'");
    DRIFT_CHECK(parse_double(get("sigma_rel"), s.sigma_rel), where, "metadata 'sigma_rel' is not a number: '",
                get("sigma_rel").substr(0, 40), "'");
    check_sigma_rel(s.sigma_rel, where + "metadata: ");
    DRIFT_CHECK(parse_double(get("gamma"), s.gamma), where, "metadata 'gamma' is not a number: '",
                get("gamma").substr(0, 40), "'");
    const double expected = sigma_rel_to_gamma(s.sigma_rel);
    DRIFT_CHECK(std::abs(s.gamma - expected) <= 1e-9 * (1 + expected), where, "metadata 'gamma' is ", s.gamma,
                ", but sigma_rel ", s.sigma_rel, " means gamma ", expected);
    s.config_json = get("config");
    out.push_back(std::move(s));
  }
  DRIFT_CHECK(!out.empty(), "no post-hoc EMA snapshots in '", dir, "' (no *.safetensors files)");
  std::sort(out.begin(), out.end(), [](const EmaSnapshot& a, const EmaSnapshot& b) {
    return a.step != b.step ? a.step < b.step : a.sigma_rel < b.sigma_rel;
  });
  for (size_t i = 1; i < out.size(); ++i)
    DRIFT_CHECK(out[i].step != out[i - 1].step || out[i].sigma_rel != out[i - 1].sigma_rel,
                "post-hoc EMA snapshots '", out[i - 1].path, "' and '", out[i].path,
                "' are both step ", out[i].step, ", sigma_rel ", out[i].sigma_rel);
  return out;
}

int remove_ema_snapshots(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  std::vector<fs::path> doomed;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".safetensors" || name.find(".safetensors.tmp.") != std::string::npos)
      doomed.push_back(e.path());
  }
  for (const fs::path& p : doomed) {
    fs::remove(p, ec);
    DRIFT_CHECK(!ec, "cannot delete the earlier run's post-hoc EMA snapshot '", p.string(), "': ", ec.message());
  }
  return static_cast<int>(doomed.size());
}

PosthocEma reconstruct_ema(const std::string& dir, double sigma_rel, int64_t step) {
  PosthocEma r;
  r.sigma_rel = sigma_rel;
  r.gamma = sigma_rel_to_gamma(sigma_rel);  // checks the range
  const std::vector<EmaSnapshot> all = list_ema_snapshots(dir);
  r.step = step < 0 ? all.back().step : step;
  // As EDM2: the target step is a snapshot's, and only snapshots up to it are used.
  const bool found = std::any_of(all.begin(), all.end(), [&](const EmaSnapshot& s) { return s.step == r.step; });
  DRIFT_CHECK(found, "post-hoc EMA: no snapshot of step ", r.step, " in '", dir, "' (", all.size(),
              " snapshots from step ", all.front().step, " to ", all.back().step, ")");
  std::vector<std::pair<double, double>> profiles;
  for (const EmaSnapshot& s : all)
    if (s.step <= r.step) {
      r.used.push_back(s);
      profiles.emplace_back(static_cast<double>(s.step), s.gamma);
    }
  r.config_json = r.used.back().config_json;
  r.coefficients = solve_posthoc_coefficients(profiles, static_cast<double>(r.step), r.gamma);

  // theta = sum_i x_i snapshot_i, summed in double; each file checked against the first.
  NamedTensors reference;  // names, shapes, dtypes of the first snapshot
  std::map<std::string, Tensor> sum;
  for (size_t i = 0; i < r.used.size(); ++i) {
    const std::string& path = r.used[i].path;
    SafetensorsContents c = load_safetensors(path);
    const std::string where = str("post-hoc EMA snapshot '", path, "': ");
    if (i == 0) {
      DRIFT_CHECK(!c.tensors.empty(), where, "holds no tensors");
      for (const auto& [n, t] : c.tensors)
        DRIFT_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, where, "tensor '", n, "' is ",
                    dtype_name(t.dtype()), ", expected F32 or F64 weights");
      reference = c.tensors;
      for (const auto& [n, t] : reference) sum[n] = ops::zeros(t.shape(), DType::Float64);
    }
    DRIFT_CHECK(c.tensors.size() == reference.size(), where, "holds ", c.tensors.size(), " tensors, but '",
                r.used[0].path, "' holds ", reference.size());
    for (const auto& [n, t] : c.tensors) {
      const Tensor ref = find_tensor(reference, n);
      DRIFT_CHECK(ref.defined(), where, "tensor '", n, "' is not in '", r.used[0].path, "'");
      DRIFT_CHECK(t.shape() == ref.shape() && t.dtype() == ref.dtype(), where, "tensor '", n, "' is ",
                  shape_str(t.shape()), " ", dtype_name(t.dtype()), ", expected ", shape_str(ref.shape()), " ",
                  dtype_name(ref.dtype()), " as in '", r.used[0].path, "'");
      Tensor& acc = sum[n];
      acc = ops::add(acc, ops::mul(ops::to(t, DType::Float64), r.coefficients.x[i]));
    }
  }
  for (const auto& [n, t] : reference) r.weights.emplace_back(n, ops::to(sum[n], t.dtype()));
  return r;
}

}  // namespace drift::nn
