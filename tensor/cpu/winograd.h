#pragma once
// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", CVPR 2016), float32, written once for any
// vector width: included only by conv_fast.h (see gemm_kernel.h).
//
// A 2x2 output tile Y of a 3x3 correlation over a 4x4 input patch d is
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A
// with
//   B^T = [1  0 -1  0;  0 1 1 0;  0 -1 1 0;  0 1 0 -1]
//   G   = [1 0 0;  1/2 1/2 1/2;  1/2 -1/2 1/2;  0 0 1]
//   A^T = [1 1 1 0;  0 1 -1 -1]
// Summed over input channels, each of the 16 positions xi of the 4x4
// transformed tile is one GEMM:
//   M[xi][o, t] = sum_c U[xi][o, c] V[xi][c, t],  U = G g G^T, V = B^T d B,
// t running over the tiles of a chunk of images. That is 16*C*O multiplies per
// 4 outputs instead of 9*C*O per output: 2.25x fewer, at the price of the
// transforms (adds only) and a larger rounding error (measured against the
// float64 reference in tests/test_tensor_winograd.cpp).
// Stride 1 only, any padding; Ho, Wo odd is handled by zero padding of the
// input and dropping the outputs past the edge.
#include "tensor/cpu/conv_common.h"
#include "tensor/cpu/gemm_kernel.h"

namespace drift::cpu::DRIFT_ISA_NS {

// Tile counts and the padded input plane of one image channel.
struct WinogradGeom {
  int64_t th, tw, tiles;  // tiles per image: th x tw
  int64_t Hq, Wq;         // padded plane: (2 th + 2) x (2 tw + 2), image at (ph, pw)
  explicit WinogradGeom(const ConvGeom& g)
      : th((g.Ho + 1) / 2), tw((g.Wo + 1) / 2), tiles(th * tw), Hq(2 * th + 2), Wq(2 * tw + 2) {}
};

// U[xi][o, c] = (G g G^T)[xi] for each 3x3 kernel g = w[o, c].
inline void winograd_weights(const float* w, int64_t O, int64_t C, float* U) {
#pragma omp parallel for schedule(static) if (O * C > 4096)
  for (int64_t oc = 0; oc < O * C; ++oc) {
    const float* g = w + oc * 9;
    float t[4][3];  // G g
    for (int j = 0; j < 3; ++j) {
      const float g0 = g[0 * 3 + j], g1 = g[1 * 3 + j], g2 = g[2 * 3 + j];
      t[0][j] = g0;
      t[1][j] = 0.5f * (g0 + g1 + g2);
      t[2][j] = 0.5f * (g0 - g1 + g2);
      t[3][j] = g2;
    }
    for (int i = 0; i < 4; ++i) {  // (G g) G^T
      const float a = t[i][0], b = t[i][1], c = t[i][2];
      const float u[4] = {a, 0.5f * (a + b + c), 0.5f * (a - b + c), c};
      for (int j = 0; j < 4; ++j) U[(i * 4 + j) * O * C + oc] = u[j];
    }
  }
}

// V[xi][c, col0 + t] for the tiles t of one image x_n [C, H, W]; ldv = row stride of V[xi].
// `plane` is scratch of Hq * Wq floats, `rows` of 4 * Wq.
inline void winograd_input(const float* xn, const ConvGeom& g, const WinogradGeom& wg, float* V, int64_t ldv,
                           int64_t col0, int64_t c, float* plane, float* rows) {
  const int64_t Wq = wg.Wq;
  // The zero-padded plane of channel c.
  std::fill(plane, plane + wg.Hq * Wq, 0.f);
  for (int64_t h = 0; h < g.H; ++h)
    std::memcpy(plane + (g.ph + h) * Wq + g.pw, xn + (c * g.H + h) * g.W, static_cast<size_t>(g.W) * sizeof(float));
  const int64_t plane_stride = ldv * g.C;  // V[xi + 1] - V[xi]
  for (int64_t ty = 0; ty < wg.th; ++ty) {
    const float* r0 = plane + (2 * ty) * Wq;
    const float* r1 = r0 + Wq;
    const float* r2 = r1 + Wq;
    const float* r3 = r2 + Wq;
    float* s0 = rows;  // B^T applied down the columns: rows i of B^T d
    float* s1 = rows + Wq;
    float* s2 = rows + 2 * Wq;
    float* s3 = rows + 3 * Wq;
    for (int64_t j = 0; j < Wq; ++j) {
      s0[j] = r0[j] - r2[j];
      s1[j] = r1[j] + r2[j];
      s2[j] = r2[j] - r1[j];
      s3[j] = r1[j] - r3[j];
    }
    // ... then along the rows (d B), tile tx reading columns 2tx .. 2tx+3.
    float* v = V + c * ldv + col0 + ty * wg.tw;
    for (int i = 0; i < 4; ++i) {
      const float* s = rows + i * Wq;
      float* v0 = v + (i * 4 + 0) * plane_stride;
      float* v1 = v + (i * 4 + 1) * plane_stride;
      float* v2 = v + (i * 4 + 2) * plane_stride;
      float* v3 = v + (i * 4 + 3) * plane_stride;
      for (int64_t tx = 0; tx < wg.tw; ++tx) {
        const float a = s[2 * tx], b = s[2 * tx + 1], cc = s[2 * tx + 2], d = s[2 * tx + 3];
        v0[tx] = a - cc;
        v1[tx] = b + cc;
        v2[tx] = cc - b;
        v3[tx] = b - d;
      }
    }
  }
}

// y_n[o] (+ bias) from M[xi][o, col0 + t] (ldm = row stride of M[xi]).
inline void winograd_output(const float* M, int64_t ldm, int64_t col0, int64_t o, const ConvGeom& g,
                            const WinogradGeom& wg, const float* bias, float* yo) {
  const int64_t plane_stride = ldm * g.O;
  const float b = bias ? bias[o] : 0.f;
  for (int64_t ty = 0; ty < wg.th; ++ty) {
    const float* m = M + o * ldm + col0 + ty * wg.tw;
    const float* mi[16];
    for (int k = 0; k < 16; ++k) mi[k] = m + k * plane_stride;
    float* y0 = yo + (2 * ty) * g.Wo;
    float* y1 = y0 + g.Wo;
    const bool row1 = 2 * ty + 1 < g.Ho;
    for (int64_t tx = 0; tx < wg.tw; ++tx) {
      // A^T M: rows a (= M0 + M1 + M2 down the column) and bb (= M1 - M2 - M3)
      float a[4], bb[4];
      for (int j = 0; j < 4; ++j) {
        const float m0 = mi[0 * 4 + j][tx], m1 = mi[1 * 4 + j][tx], m2 = mi[2 * 4 + j][tx], m3 = mi[3 * 4 + j][tx];
        a[j] = m0 + m1 + m2;
        bb[j] = m1 - m2 - m3;
      }
      // ... then A on the right.
      const int64_t x0 = 2 * tx;
      y0[x0] = a[0] + a[1] + a[2] + b;
      if (x0 + 1 < g.Wo) y0[x0 + 1] = a[1] - a[2] - a[3] + b;
      if (row1) {
        y1[x0] = bb[0] + bb[1] + bb[2] + b;
        if (x0 + 1 < g.Wo) y1[x0 + 1] = bb[1] - bb[2] - bb[3] + b;
      }
    }
  }
}

// y = conv3x3(x, w) (+ bias), stride 1, by Winograd F(2x2, 3x3).
inline void conv_forward_winograd(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) {
  const WinogradGeom wg(g);
  const int64_t C = g.C, O = g.O, img = C * g.H * g.W;
  Workspace<float> U(16 * O * C);
  winograd_weights(w, O, C, U.ptr);
  // Chunks of images with at least kTargetCols tiles (GEMM columns) each.
  ConvGeom tile_geom = g;  // make_plan counts Ho * Wo columns per image: use the tiles instead
  tile_geom.Ho = wg.th;
  tile_geom.Wo = wg.tw;
  const Plan plan = make_plan(tile_geom, false);
  const int64_t cols = plan.chunk * wg.tiles;
  const int64_t per_worker = 16 * (C + O) * cols + wg.Hq * wg.Wq + 4 * wg.Wq;
  Workspace<float> ws(workers(plan) * per_worker);

  for_each_chunk(g, plan, [&](int64_t n0, int64_t cnt, int tid, bool par) {
    float* V = ws.ptr + tid * per_worker;  // [16][C][cols]
    float* M = V + 16 * C * cols;          // [16][O][cols]
    float* scratch = M + 16 * O * cols;
    const int64_t T = cnt * wg.tiles;
    if (par) {
#pragma omp parallel
      {
        Workspace<float> s(wg.Hq * wg.Wq + 4 * wg.Wq);
#pragma omp for schedule(static) collapse(2)
        for (int64_t j = 0; j < cnt; ++j)
          for (int64_t c = 0; c < C; ++c)
            winograd_input(x + (n0 + j) * img, g, wg, V, cols, j * wg.tiles, c, s.ptr, s.ptr + wg.Hq * wg.Wq);
      }
    } else {
      for (int64_t j = 0; j < cnt; ++j)
        for (int64_t c = 0; c < C; ++c)
          winograd_input(x + (n0 + j) * img, g, wg, V, cols, j * wg.tiles, c, scratch, scratch + wg.Hq * wg.Wq);
    }
    // M[xi][O, T] = U[xi][O, C] @ V[xi][C, T]
    for (int xi = 0; xi < 16; ++xi) {
      const float* Vx = V + xi * C * cols;
      sgemm_parallel(
          false, O, T, C, U.ptr + xi * O * C, C, [&](int64_t j0) { return PackPlainB{Vx + j0, cols, false}; }, false,
          M + xi * O * cols, cols, par);
    }
#pragma omp parallel for schedule(static) collapse(2) if (par)
    for (int64_t j = 0; j < cnt; ++j)
      for (int64_t o = 0; o < O; ++o)
        winograd_output(M, cols, j * wg.tiles, o, g, wg, bias, y + ((n0 + j) * O + o) * g.L());
  });
}

}  // namespace drift::cpu::DRIFT_ISA_NS
