#pragma once
// The weight gradient of a 3x3 stride-1 convolution by Winograd F(2x2, 3x3),
// float32, written once for any vector width: included only by conv_fast.h
// after winograd.h (same tiles, same input transform).
//
// The forward pass is y_t = A^T [ U .* V_t ] A summed over c, U = G g G^T,
// V_t = B^T d_t B (winograd.h). It is linear in U, so for a tile's output
// gradient dY_t (2x2, 0 past the edges)
//   dU[o, c] = sum_t (A dY_t[o] A^T) .* V_t[c]       (4x4 each)
//   dW[o, c] = G^T dU[o, c] G                          (3x3)
// and each of the 16 positions xi of dU is one GEMM over the tiles:
//   dU[xi][O, C] = sum_t Wd[xi][O, t] V[xi][C, t]^T,   Wd = A dY A^T.
// The tiles are taken in chunks of TBW columns (whole tile rows, laid out as
// in the forward pass), transformed into plain rows [xi][c][TBW] and
// [xi][o][TBW], and each chunk adds 16 GEMMs (K = TBW) to dU.
//
// The sum over tiles is split into kWgradGroups fixed ranges of tile rows,
// each summed (chunk after chunk) into its own dU by one thread; the groups'
// dU are then added in group order. The split depends on the shapes only, so
// the bits do not depend on the thread count.
#include "tensor/cpu/winograd.h"

namespace drift::cpu::DRIFT_ISA_NS {

constexpr int64_t kWgradGroups = 4;

// What the output-gradient transform of a unit needs in every channel: its 2
// rows of dy (-1 past Ho) and, per chunk q, the 2 loads of each row (columns
// 2k and 2k + VW of its tiles k) with the lanes inside Wo and inside the unit's
// tiles: lanes of the other tiles must be 0 here, or they would add to dU.
struct DyLoads {
  const float* image;  // dy[n]
  int64_t lane0;
  int64_t row[2];
  int64_t col[kWinoChunks][2];
  LaneMask keep[kWinoChunks][2];
};

inline void dy_loads(const float* dy, const ConvGeom& g, const WinogradPlan& wp, int64_t u, int64_t lane0,
                     DyLoads& dl) {
  const Unit un = unit_of(u, wp);
  dl.image = dy + un.n * g.O * g.L();
  dl.lane0 = lane0;
  for (int i = 0; i < 2; ++i) dl.row[i] = 2 * un.ty + i < g.Ho ? (2 * un.ty + i) * g.Wo : -1;
  for (int64_t q = 0; q * wp.Q < wp.P; ++q) {
    const int64_t first = 2 * (un.tx0 + q * wp.Q);
    // raw lanes j hold column first + j of tile q*Q + j/2 of the unit
    const int64_t hi = std::min(g.Wo - first, 2 * (wp.tws - q * wp.Q));
    for (int k = 0; k < 2; ++k) {
      dl.col[q][k] = first + k * VW;
      dl.keep[q][k] = lanes_between(0, hi - k * VW);
    }
  }
}

// Requests (into L2) unit dl's rows of dy in channel o (see prefetch_unit_rows).
inline void prefetch_dy_rows(const ConvGeom& g, const DyLoads& dl, int64_t o) {
  if (dl.row[0] < 0) return;
  const char* p0 = reinterpret_cast<const char*>(dl.image + o * g.L() + dl.row[0]);
  const char* p1 = reinterpret_cast<const char*>(dl.image + o * g.L() + (dl.row[1] < 0 ? dl.row[0] : dl.row[1]) + g.Wo);
  for (const char* p = p0; p < p1 + 63; p += 64) _mm_prefetch(p, _MM_HINT_T1);
}

// Wd = A dY A^T of unit dl's tiles for output channel o, rows of `to` (row o).
// With dY = [a b; c d] (a, b = columns 2k, 2k+1 of row 2ty; c, d of row 2ty+1):
//   A dY (4x2) rows:   [a, b], [a + c, b + d], [a - c, b - d], [-c, -d]
//   (.) A^T, row [p, q] -> [p, p + q, p - q, -q].
inline void winograd_dy_unit(const ConvGeom& g, const WinogradPlan& wp, const DyLoads& dl, int64_t o,
                             const float* dy_begin, const float* dy_end, const TileLayout& to, float* Wb) {
  const float* dyo = dl.image + o * g.L();
  float* base = Wb + o * to.row + dl.lane0;
  for (int64_t q = 0; q * wp.Q < wp.P; ++q) {
    VR e[2], od[2];  // columns 2k, 2k+1 of the two rows
    for (int i = 0; i < 2; ++i) {
      if (dl.row[i] < 0) {
        e[i] = od[i] = Vec::zero();
        continue;
      }
      const float* r = dyo + dl.row[i];
      deinterleave(load_kept(r + dl.col[q][0], dl.keep[q][0], dy_begin, dy_end),
                   load_kept(r + dl.col[q][1], dl.keep[q][1], dy_begin, dy_end), e[i], od[i]);
    }
    const VR rows[4][2] = {{e[0], od[0]},
                           {Vec::add(e[0], e[1]), Vec::add(od[0], od[1])},
                           {v_sub(e[0], e[1]), v_sub(od[0], od[1])},
                           {v_sub(Vec::zero(), e[1]), v_sub(Vec::zero(), od[1])}};
    float* dst = base + q * wp.Q;
    for (int i = 0; i < 4; ++i) {
      const VR p = rows[i][0], qv = rows[i][1];
      float* di = dst + (i * 4) * to.plane;
      Vec::store(di, p);
      Vec::store(di + to.plane, Vec::add(p, qv));
      Vec::store(di + 2 * to.plane, v_sub(p, qv));
      Vec::store(di + 3 * to.plane, v_sub(Vec::zero(), qv));
    }
  }
}

// dst[p][k][MR] = src[p*MR + i][k] for k < K: MR-row panels of a row-major
// matrix whose rows are readable up to a multiple of 8 (8 x 8 transposes; with
// MR = 6 each transposed row of 8 is stored in full and its last 2 floats are
// overwritten by the next: dst needs 2 floats of slack). K is a multiple of 8.
inline void pack_panels(const float* src, int64_t ld, int64_t panels, int64_t K, float* dst) {
  alignas(32) float t[8 * 8];
  for (int64_t p = 0; p < panels; ++p) {
    float* dp = dst + p * K * MR;
    for (int64_t k = 0; k < K; k += 8) {
      if (MR == 8) {
        transpose8x8(src + p * MR * ld + k, ld, dp + k * MR, MR);
        continue;
      }
      transpose8x8(src + p * MR * ld + k, ld, t, 8);
      for (int64_t kk = 0; kk < 8; ++kk) _mm256_storeu_ps(dp + (k + kk) * MR, _mm256_load_ps(t + kk * 8));
    }
  }
}

// The GEMM tile of the weight gradient: MR x NRW with NRW = 2 vectors, 32
// columns on AVX-512 (not 48: the U-Net's 32, 64 and 128 channels fill whole
// strips) and 16 on AVX2 (as the other GEMMs).
constexpr int64_t NVW = 2, NRW = NVW * VW;

// dst[s][k][NRW] = src[s*NRW + j][k] for k < K: NRW-column strips of op(B) =
// src^T, src row-major with its rows readable up to strips * NRW (8 x 8
// transposes). K is a multiple of 8.
inline void pack_strips(const float* src, int64_t ld, int64_t strips, int64_t K, float* dst) {
  for (int64_t s = 0; s < strips; ++s)
    for (int64_t k = 0; k < K; k += 8)
      for (int64_t jb = 0; jb < NRW; jb += 8)
        transpose8x8(src + (s * NRW + jb) * ld + k, ld, dst + s * K * NRW + k * NRW + jb, NRW);
}

// dW = conv3x3 weight gradient of dy [N, O, Ho, Wo] and x [N, C, H, W], stride 1, any padding.
inline void conv_backward_weight_winograd(const float* dy, const float* x, float* dw, const ConvGeom& g) {
  const WinogradPlan wp(g);
  const int64_t C = g.C, O = g.O;
  // A chunk: whole units, a multiple of 8 columns (the GEMM's transposing pack), <= KC.
  const int64_t step = std::max<int64_t>(wp.P, 8);
  const int64_t groups = std::min<int64_t>(kWgradGroups, wp.units);
  const int64_t per_group = (wp.units + groups - 1) / groups;
  const int64_t group_cols = (per_group * wp.P + step - 1) / step * step;  // no wider than a group needs
  const int64_t TBW = std::min(group_cols, std::max<int64_t>(step, std::min<int64_t>(KC, 16384 / (C + O)) / step * step));
  const int64_t per_chunk = TBW / wp.P;
  // Wd's rows are padded to a multiple of 8 (pack_panels reads 8 at a time), and so is dU's O (panels
  // of MR rows) and C (strips of NRW columns): dU's rows and columns past O and C are dropped at the end.
  const int64_t O8 = (wp.panels * MR + 7) / 8 * 8 + 8, strips = (C + NRW - 1) / NRW, Cp = strips * NRW;
  const TileLayout vl{TBW, 0, Cp * TBW + VW}, wl{TBW, 0, O8 * TBW + VW};  // + slack for stores of Q < VW lanes
  const int64_t du_plane = wp.panels * MR * Cp, du_size = 16 * du_plane;
  const int nt = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), groups));
  const int64_t pack_size = wp.panels * MR * TBW + 8 + strips * NRW * TBW;
  const int64_t per_worker = 16 * (vl.plane + wl.plane) + pack_size;
  Workspace<float> du(groups * du_size);
  Workspace<float> ws(nt * per_worker);
  Workspace<UnitLoads> xunits(nt * 2 * per_chunk);
  Workspace<DyLoads> dyunits(nt * 2 * per_chunk);
  const float *x_end = x + g.N * C * g.H * g.W, *dy_end = dy + g.N * O * g.L();

#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num();
    float* Vb = ws.ptr + tid * per_worker;
    float* Wb = Vb + 16 * vl.plane;
    float* Ap = Wb + 16 * wl.plane;               // Wd[xi] in MR-row panels [p][TBW][MR]
    float* Bp = Ap + wp.panels * MR * TBW + 8;    // V[xi]^T in NRW-column strips [s][TBW][NRW]
    std::fill(Vb, Vb + 16 * vl.plane, 0.f);       // (rows C .. Cp and O .. O8 stay 0 or finite)
    std::fill(Wb, Wb + 16 * wl.plane, 0.f);
    UnitLoads* ul = xunits.ptr + tid * 2 * per_chunk;
    DyLoads* dl = dyunits.ptr + tid * 2 * per_chunk;
#pragma omp for schedule(static)
    for (int64_t grp = 0; grp < groups; ++grp) {
      float* dU = du.ptr + grp * du_size;  // [16][panels * MR][Cp]
      std::fill(dU, dU + du_size, 0.f);
      const int64_t g0 = grp * per_group, g1 = std::min(wp.units, g0 + per_group);
      for (int64_t u0 = g0; u0 < g1; u0 += per_chunk) {
        const int64_t u1 = std::min(g1, u0 + per_chunk);
        if (u1 - u0 < per_chunk) {  // a partial chunk: the missing tiles are 0 in both operands
          std::fill(Vb, Vb + 16 * vl.plane, 0.f);
          std::fill(Wb, Wb + 16 * wl.plane, 0.f);
        }
        // this chunk's units, then the next chunk's (prefetched channel by channel, as in the forward pass)
        const int64_t u2 = std::min(g1, u1 + per_chunk);
        for (int64_t u = u0; u < u2; ++u) {
          unit_loads(x, g, wp, u, (u - u0) * wp.P, ul[u - u0]);
          dy_loads(dy, g, wp, u, (u - u0) * wp.P, dl[u - u0]);
        }
        for (int64_t c = 0; c < C; ++c) {
          for (int64_t u = u1; u < u2; ++u) prefetch_unit_rows(g, ul[u - u0], c);
          for (int64_t u = u0; u < u1; ++u) winograd_input_unit(g, wp, ul[u - u0], c, x, x_end, vl, Vb);
        }
        for (int64_t o = 0; o < O; ++o) {
          for (int64_t u = u1; u < u2; ++u) prefetch_dy_rows(g, dl[u - u0], o);
          for (int64_t u = u0; u < u1; ++u) winograd_dy_unit(g, wp, dl[u - u0], o, dy, dy_end, wl, Wb);
        }
        // dU[xi][O, C] += Wd[xi][O, TBW] @ V[xi][C, TBW]^T
        for (int xi = 0; xi < 16; ++xi) {
          pack_panels(Wb + xi * wl.plane, TBW, wp.panels, TBW, Ap);
          pack_strips(Vb + xi * vl.plane, TBW, strips, TBW, Bp);
          float* dUx = dU + xi * du_plane;
          for (int64_t sn = 0; sn < strips; ++sn)
            for (int64_t p = 0; p < wp.panels; ++p)
              micro_kernel<NVW>(TBW, Ap + p * TBW * MR, Bp + sn * TBW * NRW, dUx + p * MR * Cp + sn * NRW, Cp, true);
        }
      }
    }
    // dW[o, c] = G^T (sum of the groups' dU[o, c]) G
    //   G^T rows: [1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]
#pragma omp for schedule(static)
    for (int64_t oc = 0; oc < O * C; ++oc) {
      const int64_t at = (oc / C) * Cp + oc % C;
      float u[16];
      for (int xi = 0; xi < 16; ++xi) {
        float sum = 0.f;
        for (int64_t grp = 0; grp < groups; ++grp) sum += du.ptr[grp * du_size + xi * du_plane + at];
        u[xi] = sum;
      }
      float t[3][4];  // G^T dU
      for (int j = 0; j < 4; ++j) {
        const float u0 = u[0 * 4 + j], u1 = u[1 * 4 + j], u2 = u[2 * 4 + j], u3 = u[3 * 4 + j];
        t[0][j] = u0 + 0.5f * (u1 + u2);
        t[1][j] = 0.5f * (u1 - u2);
        t[2][j] = 0.5f * (u1 + u2) + u3;
      }
      float* d = dw + oc * 9;
      for (int a = 0; a < 3; ++a) {  // (G^T dU) G
        const float* r = t[a];
        d[a * 3 + 0] = r[0] + 0.5f * (r[1] + r[2]);
        d[a * 3 + 1] = 0.5f * (r[1] - r[2]);
        d[a * 3 + 2] = 0.5f * (r[1] + r[2]) + r[3];
      }
    }
  }
}

}  // namespace drift::cpu::DRIFT_ISA_NS
