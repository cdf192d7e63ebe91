// Adaptive Dormand-Prince RK45 for a state made of several tensors (the
// probability-flow ODE sampler and the likelihood use it).
#include <algorithm>
#include <cmath>

#include "diffusion/samplers.h"

namespace drift::diffusion {

namespace {

// y + h * sum_j c_j k_j, component by component.
OdeState combine(const OdeState& y, double h, const std::vector<const OdeState*>& ks, const std::vector<double>& c) {
  OdeState out(y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    Tensor acc;
    for (size_t j = 0; j < ks.size(); ++j) {
      if (c[j] == 0.0) continue;
      Tensor term = mul((*ks[j])[i], h * c[j]);
      acc = acc.defined() ? add(acc, term) : term;
    }
    out[i] = acc.defined() ? add(y[i], acc) : y[i];
  }
  return out;
}

// sqrt(mean((e / (atol + rtol * max(|a|, |b|)))^2)) over every element of every component.
double rms_norm(const OdeState& e, const OdeState& a, const OdeState& b, double rtol, double atol) {
  double total = 0;
  int64_t count = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    Tensor scale = add(mul(maximum(abs(a[i]), abs(b[i])), rtol), atol);
    total += ops::item(sum(square(div(e[i], scale))));
    count += e[i].numel();
  }
  return std::sqrt(total / double(std::max<int64_t>(count, 1)));
}

}  // namespace

OdeState rk45_integrate(const OdeFn& f, OdeState y, double t0, double t1, double rtol, double atol,
                        Rk45Stats* stats) {
  // Dormand-Prince 5(4) tableau (Dormand & Prince 1980; Hairer, Norsett & Wanner, table 5.2).
  static const double c[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
  static const std::vector<std::vector<double>> A = {
      {},
      {1.0 / 5},
      {3.0 / 40, 9.0 / 40},
      {44.0 / 45, -56.0 / 15, 32.0 / 9},
      {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
      {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
      {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
  // error weights b5 - b4
  static const std::vector<double> E = {71.0 / 57600,  0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200,
                                        22.0 / 525, -1.0 / 40};
  Rk45Stats st;
  const double dir = t1 > t0 ? 1.0 : -1.0;
  const double span = std::abs(t1 - t0);
  OdeState k1 = f(t0, y);
  ++st.nfe;
  // Initial step (Hairer, Norsett & Wanner, sec. II.4; as scipy's select_initial_step).
  double h;
  {
    const double d0 = rms_norm(y, y, y, rtol, atol), d1 = rms_norm(k1, y, y, rtol, atol);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    h0 = std::min(h0, span);
    OdeState y1 = combine(y, dir * h0, {&k1}, {1.0});
    OdeState f1 = f(t0 + dir * h0, y1);
    ++st.nfe;
    OdeState diff = combine(f1, -1.0, {&k1}, {1.0});
    const double d2 = rms_norm(diff, y, y, rtol, atol) / h0;
    const double h1 = std::max(d1, d2) <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / std::max(d1, d2), 0.2);
    h = std::min({100 * h0, h1, span});
  }
  double t = t0;
  while (dir * (t1 - t) > 1e-12 * span) {
    h = std::min(h, std::abs(t1 - t));
    const double hs = dir * h;
    std::vector<OdeState> k(8);  // k[0..6] stages, k[7] = y_new
    k[0] = k1;
    std::vector<const OdeState*> ks = {&k[0]};
    for (int s = 1; s < 7; ++s) {
      OdeState ys = combine(y, hs, ks, A[s]);  // s = 6: the 5th-order solution y_new
      k[s] = f(t + c[s] * hs, ys);             // k[6] = f(y_new) is reused as the next k1 (FSAL)
      ++st.nfe;
      ks.push_back(&k[s]);
      if (s == 6) k[7] = ys;
    }
    OdeState y_new = k[7];
    OdeState zeros;
    for (auto& v : y) zeros.push_back(ops::zeros_like(v));
    OdeState err = combine(zeros, hs, ks, E);  // local error estimate h sum_j (b5_j - b4_j) k_j
    const double en = rms_norm(err, y, y_new, rtol, atol);
    if (en <= 1.0) {
      t += hs;
      y = y_new;
      k1 = k[6];
      ++st.accepted;
      const double factor = en == 0 ? 10.0 : std::min(10.0, 0.9 * std::pow(en, -0.2));
      h *= factor;
    } else {
      ++st.rejected;
      h *= std::max(0.2, 0.9 * std::pow(en, -0.2));
      DRIFT_CHECK(h > 1e-12 * span, "rk45_integrate: step size underflow at t = ", t);
    }
  }
  if (stats) *stats = st;
  return y;
}

}  // namespace drift::diffusion
