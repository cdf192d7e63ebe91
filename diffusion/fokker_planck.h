#pragma once
// The Fokker-Planck (Kolmogorov forward) equation of a 1-D SDE
// dx = f(x, t) dt + g(t) dW with linear drift f = a(t) x (VP, sub-VP, VE):
//   dp/dt = -d/dx (f p) + 1/2 g^2 d^2p/dx^2                 (Song et al. 2021, eq. 37)
// solved on a grid by finite differences: conservative fluxes
//   J_{j+1/2} = f_{j+1/2} (p_j + p_{j+1}) / 2 - 1/2 g^2 (p_{j+1} - p_j) / dx,
//   dp_j/dt = -(J_{j+1/2} - J_{j-1/2}) / dx,   J = 0 at both ends (mass is conserved),
// stepped in time with Crank-Nicolson (tridiagonal solve, Thomas algorithm).
#include <cstdint>
#include <vector>

#include "diffusion/sde.h"

namespace drift::diffusion {

class FokkerPlanck1D {
 public:
  // Grid of `points` cell centres on [lo, hi].
  FokkerPlanck1D(const SDE& sde, double lo, double hi, int64_t points);
  // Starts from density p (values at the grid points) at time t.
  void set_density(const std::vector<double>& p, double t);
  // Advances to time t_end with Crank-Nicolson steps of at most dt.
  void advance_to(double t_end, double dt = 1e-3);

  const std::vector<double>& grid() const { return x_; }
  const std::vector<double>& density() const { return p_; }
  double dx() const { return dx_; }
  double time() const { return t_; }
  double mass() const;  // sum p dx (stays 1)

 private:
  void step(double dt);
  const SDE& sde_;
  std::vector<double> x_, p_;
  double dx_, t_ = 0;
};

}  // namespace drift::diffusion
