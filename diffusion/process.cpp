#include "diffusion/process.h"

#include <algorithm>

namespace drift::diffusion {

double Process::prior_std() const {
  const double a = alpha(t_max()), s = sigma(t_max());
  return std::sqrt(a * a + s * s);  // 1 for a VP process
}

namespace {
// Central difference of f on [t_min, t_max] (one-sided at the ends), step h.
template <class F>
double derivative(const Process& p, F f, double t) {
  const double h = 1e-4 * (p.t_max() - p.t_min());
  const double lo = std::max(p.t_min(), t - h), hi = std::min(p.t_max(), t + h);
  return (f(hi) - f(lo)) / (hi - lo);
}
}  // namespace

double Process::drift_scale(double t) const {
  // d log alpha / dt
  return derivative(*this, [&](double u) { return std::log(alpha(u)); }, t);
}

double Process::diffusion(double t) const {
  // g^2 = d sigma^2 / dt - 2 (d log alpha / dt) sigma^2
  const double s = sigma(t);
  const double ds2 = derivative(*this, [&](double u) { return sigma(u) * sigma(u); }, t);
  return std::sqrt(std::max(0.0, ds2 - 2.0 * drift_scale(t) * s * s));
}

double Process::dalpha(double t) const {
  return derivative(*this, [&](double u) { return alpha(u); }, t);
}
double Process::dsigma(double t) const {
  return derivative(*this, [&](double u) { return sigma(u); }, t);
}

double Process::time_for_sigma_ve(double s) const {
  // sigma / alpha increases with t: bisection on [t_min, t_max], ends clamped.
  double lo = t_min(), hi = t_max();
  if (s <= sigma_ve(lo)) return lo;
  if (s >= sigma_ve(hi)) return hi;
  for (int it = 0; it < 200 && hi - lo > 1e-15 * (1.0 + std::abs(hi)); ++it) {
    const double mid = 0.5 * (lo + hi);
    if (sigma_ve(mid) < s) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

Process::Discretized Process::discretize(double t, double dt) const {
  return {drift_scale(t) * dt, diffusion(t) * std::sqrt(dt)};  // Euler-Maruyama
}

}  // namespace drift::diffusion
