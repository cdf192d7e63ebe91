#pragma once
// GroupNorm (Wu & He 2018), forward and backward, written once: compiled for
// float64 and the portable level in tensor/cpu/norm.cpp and for float32 at
// each vector level in tensor/cpu/avx2|avx512/norm.cpp (so the loops below
// vectorise at that level's width). LayerNorm (Ba et al. 2016)
// runs through the same kernels (tensor/ops_nn.cpp: x [M, D] as [N = M, C = D,
// S = 1] with one group).
//
// x [N, C, S] contiguous, G groups of C/G channels; per (n, g):
//   mu = mean(x), var = mean((x - mu)^2) (biased), rstd = 1/sqrt(var + eps)
//   xhat = (x - mu) * rstd,  y[n, c, s] = xhat * w[c] + b[c]
//   GroupNorm:         in = {x, w or null, b or null},     out = {y, mean [N, G], rstd [N, G]}
//   GroupNormBackward: in = {dy, x, mean, rstd, w or null}, out = {dx, dw or null, db or null}
// Backward, over the elements of one group (K of them), with g = dy * w:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
//   dw[c] = sum dy * xhat,  db[c] = sum dy  (over everything but c).
// Statistics are accumulated in double (two passes: mean, then squared deviations).
//
// With NormParams::silu the SiLU that follows the norm in the U-Net is fused
// in (one pass fewer over the activations each way):
//   forward:  y = silu(z), z = xhat * w + b (z is not stored)
//   backward: in[5] = b (or null); z is recomputed from x, mean, rstd, w, b and
//             dy is replaced by dz = dy silu'(z) group by group before the
//             formulas above (so dw, db are the norm's own gradients).
// float32 silu and silu' come from the active ISA level (tensor/cpu/vecmath.h).
#include <omp.h>

#include <cmath>
#include <cstdint>

#include "tensor/cpu/conv_common.h"  // Workspace
#include "tensor/cpu/isa_kernels.h"  // GroupNormShape
#include "tensor/cpu/vecmath.h"

namespace drift::cpu::DRIFT_ISA_NS {


// sum x[i]; eight independent double lanes so that the loop vectorises.
template <class T>
inline double sum_of(const T* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += double(x[i + l]);
  double s = 0;
  for (; i < n; ++i) s += double(x[i]);
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}

// sum (x[i] - mu)^2
template <class T>
inline double sq_dev(const T* x, int64_t n, double mu) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) {
      const double d = double(x[i + l]) - mu;
      acc[l] += d * d;
    }
  double s = 0;
  for (; i < n; ++i) {
    const double d = double(x[i]) - mu;
    s += d * d;
  }
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}

// sum a[i] * b[i]
template <class T>
inline double dot_of(const T* a, const T* b, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += double(a[i + l]) * double(b[i + l]);
  double s = 0;
  for (; i < n; ++i) s += double(a[i]) * double(b[i]);
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}

// y = silu(y) in place, and dz = dy silu'(z), for n contiguous values.
inline void silu_inplace(float* y, int64_t n, const VecMath& vm) { vm.unary[static_cast<int>(VecFn::Silu)](y, y, n); }
inline void silu_inplace(double* y, int64_t n, const VecMath&) {
  for (int64_t i = 0; i < n; ++i) y[i] = silu_ref(y[i]);
}
inline void silu_grad(const float* dy, const float* z, float* dz, int64_t n, const VecMath& vm) { vm.silu_backward(dy, z, dz, n); }
inline void silu_grad(const double* dy, const double* z, double* dz, int64_t n, const VecMath&) {
  for (int64_t i = 0; i < n; ++i) dz[i] = silu_backward_ref(dy[i], z[i]);
}

template <class T>
void group_norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, const GroupNormShape& p,
                        const VecMath& vm) {
  const int64_t G = p.groups, cpg = p.c / G, S = p.s, K = cpg * S;
#pragma omp parallel for schedule(static) if (p.n * p.c * p.s > 4096)
  for (int64_t ng = 0; ng < p.n * G; ++ng) {
    const int64_t n = ng / G, g = ng % G;
    const T* xg = x + (n * p.c + g * cpg) * S;
    T* yg = y + (n * p.c + g * cpg) * S;
    const double mu = K > 0 ? sum_of(xg, K) / double(K) : 0.0;
    const double var = K > 0 ? sq_dev(xg, K, mu) / double(K) : 0.0;
    const double rs = 1.0 / std::sqrt(var + p.eps);
    mean[ng] = T(mu);
    rstd[ng] = T(rs);
    for (int64_t cl = 0; cl < cpg; ++cl) {
      const int64_t c = g * cpg + cl;
      // y = (x - mu) * rstd * w + b = x * a + (b - mu * a)
      const double a = rs * (w ? double(w[c]) : 1.0);
      const T ta = T(a), tb = T((b ? double(b[c]) : 0.0) - mu * a);
      const T* xc = xg + cl * S;
      T* yc = yg + cl * S;
      for (int64_t s = 0; s < S; ++s) yc[s] = xc[s] * ta + tb;
      if (p.silu) silu_inplace(yc, S, vm);
    }
  }
}

template <class T>
void group_norm_backward(const T* dy, const T* x, const T* mean, const T* rstd, const T* w, const T* b, T* dx, T* dw,
                         T* db, const GroupNormShape& p, const VecMath& vm) {
  const int64_t N = p.n, C = p.c, G = p.groups, cpg = C / G, S = p.s, K = cpg * S;
  // dw[c] = sum_n rstd * (sum_s dy*x - mu * sum_s dy),  db[c] = sum_n sum_s dy:
  // each (n, c) term is kept apart and the terms are added in n order at the
  // end, so the bits do not depend on which thread took which group.
  Workspace<double> terms(2 * N * C);
  double* tw = terms.ptr;
  double* tb_n = terms.ptr + N * C;
#pragma omp parallel if (N * C * S > 4096)
  {
    Workspace<double> sums(2 * cpg);
    double* dyx = sums.ptr;
    double* dys = sums.ptr + cpg;
    Workspace<T> dz(p.silu ? K : 0);  // the group's dz (fused silu)
#pragma omp for schedule(static)
    for (int64_t ng = 0; ng < N * G; ++ng) {
      const int64_t n = ng / G, g = ng % G;
      const double mu = mean[ng], rs = rstd[ng];
      const T* dyg = dy + (n * C + g * cpg) * S;  // this group's gradient, [cpg, S]
      if (p.silu) {  // z = x a + (b - mu a), as the forward computed it; dz = dy silu'(z)
        const T* xg = x + (n * C + g * cpg) * S;
        for (int64_t cl = 0; cl < cpg; ++cl) {
          const int64_t c = g * cpg + cl;
          const double a = rs * (w ? double(w[c]) : 1.0);
          const T ta = T(a), tb = T((b ? double(b[c]) : 0.0) - mu * a);
          for (int64_t s = 0; s < S; ++s) dz.ptr[cl * S + s] = xg[cl * S + s] * ta + tb;
        }
        silu_grad(dyg, dz.ptr, dz.ptr, K, vm);
        dyg = dz.ptr;
      }
      double sum_g = 0, sum_gx = 0;  // sum over the group of dy*w and dy*w*x
      for (int64_t cl = 0; cl < cpg; ++cl) {
        const int64_t c = g * cpg + cl;
        const T* dyc = dyg + cl * S;
        const T* xc = x + (n * C + c) * S;
        const double sx = S == 1 ? double(dyc[0]) * double(xc[0]) : dot_of(dyc, xc, S);
        const double s1 = S == 1 ? double(dyc[0]) : sum_of(dyc, S);
        dyx[cl] = sx;
        dys[cl] = s1;
        const double wc = w ? double(w[c]) : 1.0;
        sum_g += wc * s1;
        sum_gx += wc * sx;
        tw[n * C + c] = rs * (sx - mu * s1);
        tb_n[n * C + c] = s1;
      }
      // mean(g) and mean(g * xhat), xhat = (x - mu) * rs
      const double m1 = K > 0 ? sum_g / double(K) : 0.0;
      const double m2 = K > 0 ? rs * (sum_gx - mu * sum_g) / double(K) : 0.0;
      // dx = rs*w*dy - rs*m1 - rs*m2*(x - mu)*rs = a_c*dy + bx*x + c0
      const T tb = T(-rs * rs * m2), tc = T(-rs * m1 + rs * rs * m2 * mu);
      for (int64_t cl = 0; cl < cpg; ++cl) {
        const int64_t c = g * cpg + cl;
        const T a = T(rs * (w ? double(w[c]) : 1.0));
        const T* dyc = dyg + cl * S;
        const T* xc = x + (n * C + c) * S;
        T* dxc = dx + (n * C + c) * S;
        for (int64_t s = 0; s < S; ++s) dxc[s] = a * dyc[s] + tb * xc[s] + tc;
      }
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    double sw = 0, sb = 0;
    for (int64_t n = 0; n < N; ++n) {
      sw += tw[n * C + c];
      sb += tb_n[n * C + c];
    }
    if (dw) dw[c] = T(sw);
    if (db) db[c] = T(sb);
  }
}

}  // namespace drift::cpu::DRIFT_ISA_NS
