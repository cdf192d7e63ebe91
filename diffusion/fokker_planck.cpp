#include "diffusion/fokker_planck.h"

#include <cmath>

#include "tensor/error.h"

namespace drift::diffusion {

FokkerPlanck1D::FokkerPlanck1D(const SDE& sde, double lo, double hi, int64_t points) : sde_(sde) {
  DRIFT_CHECK(points >= 3 && hi > lo, "FokkerPlanck1D: expected at least 3 points on an interval lo < hi, got ",
              points, " points on [", lo, ", ", hi, "]");
  dx_ = (hi - lo) / double(points);
  x_.resize(static_cast<size_t>(points));
  for (int64_t j = 0; j < points; ++j) x_[j] = lo + (double(j) + 0.5) * dx_;  // cell centres
  p_.assign(x_.size(), 0.0);
}

void FokkerPlanck1D::set_density(const std::vector<double>& p, double t) {
  DRIFT_CHECK(p.size() == x_.size(), "FokkerPlanck1D: expected ", x_.size(), " density values, got ", p.size());
  p_ = p;
  t_ = t;
}

double FokkerPlanck1D::mass() const {
  double m = 0;
  for (double v : p_) m += v * dx_;
  return m;
}

void FokkerPlanck1D::advance_to(double t_end, double dt) {
  DRIFT_CHECK(t_end >= t_ && dt > 0, "FokkerPlanck1D::advance_to: expected t_end >= current time ", t_,
              " and dt > 0, got t_end = ", t_end, ", dt = ", dt);
  const int64_t n = static_cast<int64_t>(std::ceil((t_end - t_) / dt - 1e-12));
  if (n <= 0) return;
  const double h = (t_end - t_) / double(n);
  for (int64_t i = 0; i < n; ++i) step(h);
  t_ = t_end;
}

void FokkerPlanck1D::step(double h) {
  const size_t M = p_.size();
  const double tm = t_ + 0.5 * h;  // coefficients at the midpoint (second order in time)
  const double a = sde_.drift_scale(tm), g = sde_.diffusion(tm);
  const double D = 0.5 * g * g;    // diffusion coefficient 1/2 g^2
  // L p: lower[j] p_{j-1} + diag[j] p_j + upper[j] p_{j+1}, from the fluxes
  // J_{j+1/2} = A_{j+1/2} p_j + B_{j+1/2} p_{j+1}, A = f/2 + D/dx, B = f/2 - D/dx.
  std::vector<double> lower(M, 0.0), diag(M, 0.0), upper(M, 0.0);
  for (size_t j = 0; j + 1 < M; ++j) {
    const double f = a * 0.5 * (x_[j] + x_[j + 1]);  // f(x_{j+1/2}) = a(t) x
    const double A = 0.5 * f + D / dx_, B = 0.5 * f - D / dx_;
    // J_{j+1/2} leaves cell j and enters cell j+1.
    diag[j] -= A / dx_;
    upper[j] -= B / dx_;
    lower[j + 1] += A / dx_;
    diag[j + 1] += B / dx_;
  }
  // Crank-Nicolson: (I - h/2 L) p_new = (I + h/2 L) p
  std::vector<double> rhs(M), sub(M), dia(M), sup(M);
  for (size_t j = 0; j < M; ++j) {
    double lp = diag[j] * p_[j];
    if (j > 0) lp += lower[j] * p_[j - 1];
    if (j + 1 < M) lp += upper[j] * p_[j + 1];
    rhs[j] = p_[j] + 0.5 * h * lp;
    sub[j] = -0.5 * h * lower[j];
    dia[j] = 1.0 - 0.5 * h * diag[j];
    sup[j] = -0.5 * h * upper[j];
  }
  // Thomas algorithm (tridiagonal Gaussian elimination).
  for (size_t j = 1; j < M; ++j) {
    const double w = sub[j] / dia[j - 1];
    dia[j] -= w * sup[j - 1];
    rhs[j] -= w * rhs[j - 1];
  }
  p_[M - 1] = rhs[M - 1] / dia[M - 1];
  for (size_t j = M - 1; j-- > 0;) p_[j] = (rhs[j] - sup[j] * p_[j + 1]) / dia[j];
  t_ += h;
}

}  // namespace drift::diffusion
