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
// That is 16*C*O multiplies per 4 outputs instead of 9*C*O per output: 2.25x
// fewer, at the price of the transforms (adds only) and a larger rounding
// error (measured against the float64 reference in tests/test_tensor_winograd.cpp).
//
// Fused and blocked (as NNPACK and oneDNN do): the GEMM columns t are tiles,
// laid out by "tile rows" (one image, one row of tiles, at most 16 tiles wide;
// wider rows are cut into segments) of P lanes each, P = the next power of two
// of the tiles in a segment (so P divides the GEMM strip width NR, and at most
// 1/8 of the lanes are padding on the U-Net's 28, 14, 7, 32, 16, 8 and 4 wide
// images). Each thread takes whole blocks of TB = strips*NR columns and, with
// everything in its L2 cache:
//   1. transforms the inputs straight into the GEMM's packed B layout
//      (vectorised over the tiles of a row: rows first, B^T d, on contiguous
//      image rows; then the columns, d B, on even/odd de-interleaved rows);
//   2. runs the 16 GEMMs with the micro-kernel on the pre-packed U panels
//      (K = C in one sweep: each output is one sum over c in a fixed order);
//   3. transforms the 16 products back to 2x2 outputs (+ bias) into y.
// Blocks never share an output, so the bits do not depend on the thread count.
#include "tensor/cpu/conv_common.h"
#include "tensor/cpu/gemm_kernel.h"

namespace drift::cpu::DRIFT_ISA_NS {

using VR = typename Vec::R;
constexpr int64_t VW = Vec::W;
constexpr int64_t kWinoMaxP = 16;  // lanes of one tile-row segment at most

inline VR v_sub(VR a, VR b) {
#if defined(__AVX512F__)
  return _mm512_sub_ps(a, b);
#else
  return _mm256_sub_ps(a, b);
#endif
}

#if defined(__AVX512F__)
using LaneMask = __mmask16;
inline LaneMask lanes_between(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, VW);
  hi = std::clamp<int64_t>(hi, lo, VW);
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}
inline VR keep_lanes(VR v, LaneMask m) { return _mm512_maskz_mov_ps(m, v); }
#else
using LaneMask = __m256;  // all-ones lanes are kept
inline LaneMask lanes_between(int64_t lo, int64_t hi) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_castsi256_ps(
      _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(lo, 0, VW)) - 1)),
                       _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(hi, 0, VW))), lane)));
}
inline VR keep_lanes(VR v, LaneMask m) { return _mm256_and_ps(m, v); }
#endif

// The first n lanes of v to dst (n in [0, VW]).
inline void store_lanes(float* dst, VR v, int64_t n) {
  if (n >= VW) return Vec::store(dst, v);
  if (n <= 0) return;
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(dst, lanes_between(0, n), v);
#else
  _mm256_maskstore_ps(dst, _mm256_castps_si256(lanes_between(0, n)), v);
#endif
}

// lo = [e0 o0 e1 o1 ...] (lanes 0 .. VW/2 of e and o), hi = the rest.
inline void interleave(VR e, VR o, VR& lo, VR& hi) {
#if defined(__AVX512F__)
  const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i ih = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  lo = _mm512_permutex2var_ps(e, il, o);
  hi = _mm512_permutex2var_ps(e, ih, o);
#else
  const __m256 t0 = _mm256_unpacklo_ps(e, o), t1 = _mm256_unpackhi_ps(e, o);  // [e0 o0 e1 o1 | e4 o4 e5 o5], [e2..|e6..]
  lo = _mm256_permute2f128_ps(t0, t1, 0x20);
  hi = _mm256_permute2f128_ps(t0, t1, 0x31);
#endif
}

// The tile layout and blocking of one convolution.
struct WinogradPlan {
  int64_t th, tw;          // tile rows and columns of one image's output
  int64_t seg, tws, P, Q;  // segments per tile row, tiles per segment, lanes per segment, lanes per vector op
  int64_t units;           // tile-row segments in all: N * th * seg (P GEMM columns each)
  int64_t strips, TB;      // a block: `strips` strips of NR columns, TB = strips * NR (whole units)
  int64_t blocks, panels;  // blocks over all units; MR-row panels of U (O padded)
  int64_t sstride, vstride, mstride;  // floats per strip of V, per xi plane of V and of M (per block)
  WinogradPlan(const ConvGeom& g) {
    th = (g.Ho + 1) / 2;
    tw = (g.Wo + 1) / 2;
    seg = (tw + kWinoMaxP - 1) / kWinoMaxP;
    tws = (tw + seg - 1) / seg;
    P = 1;
    while (P < tws) P *= 2;
    Q = std::min<int64_t>(P, VW);
    units = g.N * th * seg;
    panels = (g.O + MR - 1) / MR;
    // Keep a block's V and M (16 * (C + O) * TB floats) within ~512 KiB of L2.
    const int64_t per_strip = 16 * (g.C + panels * MR) * NR * 4;
    strips = std::clamp<int64_t>((512 << 10) / per_strip, 1, 8);
    TB = strips * NR;
    const int64_t per_block = TB / P;
    blocks = (units + per_block - 1) / per_block;
    sstride = g.C * NR + VW;  // + slack: a vector store of Q < VW lanes runs past its lanes
    vstride = strips * sstride;
    mstride = panels * MR * TB;
  }
};

// Up[xi][p][c][MR] = (G g G^T)[xi] of g = w[o = p*MR + i, c] (0 for o >= O): U in the
// micro-kernel's packed A layout, written panel by panel so that every store
// is MR contiguous floats.
// Called inside a parallel region: the panels are shared out over its threads.
inline void winograd_weights(const float* w, const ConvGeom& g, const WinogradPlan& wp, float* Up) {
  const int64_t O = g.O, C = g.C, pstride = wp.panels * C * MR;
#pragma omp for schedule(static)
  for (int64_t pc = 0; pc < wp.panels * C; ++pc) {
    const int64_t p = pc / C, c = pc % C;
    float u[16][MR];
    for (int64_t i = 0; i < MR; ++i) {
      const int64_t o = p * MR + i;
      if (o >= O) {
        for (int xi = 0; xi < 16; ++xi) u[xi][i] = 0.f;
        continue;
      }
      const float* k = w + (o * C + c) * 9;
      float t[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        const float g0 = k[0 * 3 + j], g1 = k[1 * 3 + j], g2 = k[2 * 3 + j];
        t[0][j] = g0;
        t[1][j] = 0.5f * (g0 + g1 + g2);
        t[2][j] = 0.5f * (g0 - g1 + g2);
        t[3][j] = g2;
      }
      for (int r = 0; r < 4; ++r) {  // (G g) G^T
        const float a = t[r][0], b = t[r][1], cc = t[r][2];
        u[r * 4 + 0][i] = a;
        u[r * 4 + 1][i] = 0.5f * (a + b + cc);
        u[r * 4 + 2][i] = 0.5f * (a - b + cc);
        u[r * 4 + 3][i] = cc;
      }
    }
    float* dst = Up + pc * MR;  // (p * C + c) * MR
    for (int xi = 0; xi < 16; ++xi) std::memcpy(dst + xi * pstride, u[xi], sizeof(u[xi]));
  }
}

// Where unit u (a tile-row segment) sits: image n, tile row ty, first tile column tx0.
struct Unit {
  int64_t n, ty, tx0;
};
inline Unit unit_of(int64_t u, const WinogradPlan& wp) {
  const int64_t s = u % wp.seg, r = u / wp.seg;
  return {r / wp.th, r % wp.th, s * wp.tws};
}

// even[k] = the 2k-th, odd[k] = the (2k+1)-th float of the 2*VW floats [a, b].
inline void deinterleave(VR a, VR b, VR& even, VR& odd) {
#if defined(__AVX512F__)
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  even = _mm512_permutex2var_ps(a, ie, b);
  odd = _mm512_permutex2var_ps(a, io, b);
#else
  // [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 b0 b2 b4 b6]
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
#endif
}

constexpr int64_t kWinoChunks = (kWinoMaxP + VW - 1) / VW;  // vector chunks of a unit's lanes at most

// What the input transform of a unit needs in every channel, worked out once per block:
// the offsets of its 4 input rows (-1 outside the image) and, per chunk q of Q lanes,
// the 4 loads of each row: columns 2k (+VW) and 2k + 2 (+VW) of its tiles k, with
// the lanes that fall inside the image.
struct UnitLoads {
  Unit un;
  const float* image;  // x[n]
  int64_t lane0;       // first GEMM column of the unit in the block
  int64_t row[4];
  int64_t rows_begin, rows_end;  // the span of the rows inside the image (offsets in a channel plane)
  int64_t col[kWinoChunks][4];
  LaneMask keep[kWinoChunks][4];
};

inline void unit_loads(const float* x, const ConvGeom& g, const WinogradPlan& wp, int64_t u, int64_t lane0,
                       UnitLoads& ul) {
  const Unit un = unit_of(u, wp);
  ul.un = un;
  ul.image = x + un.n * g.C * g.H * g.W;
  ul.lane0 = lane0;
  for (int i = 0; i < 4; ++i) {
    const int64_t h = 2 * un.ty + i - g.ph;
    ul.row[i] = h >= 0 && h < g.H ? h * g.W : -1;
  }
  ul.rows_begin = std::clamp<int64_t>(2 * un.ty - g.ph, 0, g.H) * g.W;
  ul.rows_end = std::clamp<int64_t>(2 * un.ty + 4 - g.ph, 0, g.H) * g.W;
  for (int64_t q = 0; q * wp.Q < wp.P; ++q)
    for (int k = 0; k < 4; ++k) {
      // input column of the load's lane 0: tile column tx0 + q*Q, offset 0, VW, 2, VW + 2
      const int64_t first = 2 * (un.tx0 + q * wp.Q) - g.pw + (k & 1) * VW + (k >> 1) * 2;
      ul.col[q][k] = first;
      ul.keep[q][k] = lanes_between(-first, g.W - first);
    }
}

// VW floats of x at src with the lanes outside `keep` zeroed. A plain load (a
// masked load that misses the cache is several times slower on AMD's Zen 5,
// measured: the whole convolution ran at 0.65x), except where the vector would
// leave x's buffer.
inline VR load_kept(const float* src, LaneMask keep, const float* begin, const float* end) {
  if (src < begin || src + VW > end) {
#if defined(__AVX512F__)
    return _mm512_maskz_loadu_ps(keep, src);
#else
    return _mm256_maskload_ps(src, _mm256_castps_si256(keep));
#endif
  }
  VR v = Vec::load(src);
  __asm__("" : "+x"(v));  // keeps the compiler from folding load and mask into a masked load
  return keep_lanes(v, keep);
}

// Where the transformed tiles go: column l of channel c's row of V[xi] is at
// xi * plane + (l / row) * strip + c * row + l % row (the GEMM's packed strips,
// row = NR, in the forward pass; plain rows, row = the chunk width, for the
// weight gradient).
struct TileLayout {
  int64_t row, strip, plane;
};

// V = B^T d B of unit ul's tiles in channel c into the block's V (laid out as
// `to` says). Vectorised over the tiles k of the unit: with E, O, E1, O1 =
// columns 2k, 2k+1, 2k+2, 2k+3 of an input row (de-interleaved straight from
// the loads),
//   B^T d (down the 4 rows):  s0 = d0 - d2, s1 = d1 + d2, s2 = d2 - d1, s3 = d1 - d3
//   (.) B (along the row):    v0 = E - E1,  v1 = O + E1,  v2 = E1 - O,  v3 = O - O1.
inline void winograd_input_unit(const ConvGeom& g, const WinogradPlan& wp, const UnitLoads& ul, int64_t c,
                                const float* x_begin, const float* x_end, const TileLayout& to, float* Vb) {
  const float* xc = ul.image + c * g.H * g.W;
  const int64_t strip = ul.lane0 / to.row, lane = ul.lane0 % to.row;
  float* base = Vb + strip * to.strip + c * to.row + lane;
  for (int64_t q = 0; q * wp.Q < wp.P; ++q) {
    VR d[4][4];  // d[i][j]: row i, columns E, O, E1, O1
    for (int i = 0; i < 4; ++i) {
      if (ul.row[i] < 0) {
        for (int j = 0; j < 4; ++j) d[i][j] = Vec::zero();
        continue;
      }
      const float* r = xc + ul.row[i];
      const VR a = load_kept(r + ul.col[q][0], ul.keep[q][0], x_begin, x_end);
      const VR b = load_kept(r + ul.col[q][1], ul.keep[q][1], x_begin, x_end);
      const VR a2 = load_kept(r + ul.col[q][2], ul.keep[q][2], x_begin, x_end);
      const VR b2 = load_kept(r + ul.col[q][3], ul.keep[q][3], x_begin, x_end);
      deinterleave(a, b, d[i][0], d[i][1]);
      deinterleave(a2, b2, d[i][2], d[i][3]);
    }
    float* dst = base + q * wp.Q;
    for (int a = 0; a < 4; ++a) {
      VR s[4];  // row a of B^T d, columns E, O, E1, O1
      for (int j = 0; j < 4; ++j) {
        switch (a) {
          case 0: s[j] = v_sub(d[0][j], d[2][j]); break;
          case 1: s[j] = Vec::add(d[1][j], d[2][j]); break;
          case 2: s[j] = v_sub(d[2][j], d[1][j]); break;
          default: s[j] = v_sub(d[1][j], d[3][j]); break;
        }
      }
      float* da = dst + (a * 4) * to.plane;
      Vec::store(da, v_sub(s[0], s[2]));
      Vec::store(da + to.plane, Vec::add(s[1], s[2]));
      Vec::store(da + 2 * to.plane, v_sub(s[2], s[1]));
      Vec::store(da + 3 * to.plane, v_sub(s[1], s[3]));
    }
  }
}

// A block reads a few rows of every channel plane: too short a run for the
// hardware prefetcher, so while a block transforms channel c, the rows of
// channel c that the next block will read are requested (into L2).
inline void prefetch_unit_rows(const ConvGeom& g, const UnitLoads& ul, int64_t c) {
  const char* p0 = reinterpret_cast<const char*>(ul.image + c * g.H * g.W + ul.rows_begin);
  const char* p1 = reinterpret_cast<const char*>(ul.image + c * g.H * g.W + ul.rows_end);
  for (const char* p = p0; p < p1 + 63; p += 64) _mm_prefetch(p, _MM_HINT_T1);
}

// y[n, o] (+ bias) of unit un's tiles from M[xi][o, lane0 .. lane0 + P) (Mb + xi * mstride, row stride TB).
inline void winograd_output_unit(const float* Mb, const ConvGeom& g, const WinogradPlan& wp, const Unit& un, int64_t o,
                                 int64_t lane0, float bias, float* y) {
  const float* m = Mb + o * wp.TB + lane0;
  float* yo = y + (un.n * g.O + o) * g.L();
  const int64_t oh = 2 * un.ty;
  const bool row1 = oh + 1 < g.Ho;
  const VR b = Vec::set1(bias);
  for (int64_t q = 0; q < wp.Q * ((wp.tws + wp.Q - 1) / wp.Q); q += wp.Q) {
    VR t0[4], t1[4];  // A^T M: rows m0 + m1 + m2 and m1 - m2 - m3, column j
    for (int j = 0; j < 4; ++j) {
      const VR m0 = Vec::load(m + (0 * 4 + j) * wp.mstride + q), m1 = Vec::load(m + (1 * 4 + j) * wp.mstride + q);
      const VR m2 = Vec::load(m + (2 * 4 + j) * wp.mstride + q), m3 = Vec::load(m + (3 * 4 + j) * wp.mstride + q);
      t0[j] = Vec::add(Vec::add(m0, m1), m2);
      t1[j] = v_sub(v_sub(m1, m2), m3);
    }
    // ... then A on the right: Y[r][0] = t0 + t1 + t2, Y[r][1] = t1 - t2 - t3.
    const VR y00 = Vec::add(Vec::add(Vec::add(t0[0], t0[1]), t0[2]), b);
    const VR y01 = Vec::add(v_sub(v_sub(t0[1], t0[2]), t0[3]), b);
    const VR y10 = Vec::add(Vec::add(Vec::add(t1[0], t1[1]), t1[2]), b);
    const VR y11 = Vec::add(v_sub(v_sub(t1[1], t1[2]), t1[3]), b);
    // Output columns 2*(tx0 + q) ..: the valid ones are those of this segment's tiles inside Wo.
    const int64_t ow0 = 2 * (un.tx0 + q);
    const int64_t n_out = std::min(2 * std::min(wp.Q, wp.tws - q), g.Wo - ow0);
    VR lo, hi;
    interleave(y00, y01, lo, hi);
    store_lanes(yo + oh * g.Wo + ow0, lo, n_out);
    store_lanes(yo + oh * g.Wo + ow0 + VW, hi, n_out - VW);
    if (row1) {
      interleave(y10, y11, lo, hi);
      store_lanes(yo + (oh + 1) * g.Wo + ow0, lo, n_out);
      store_lanes(yo + (oh + 1) * g.Wo + ow0 + VW, hi, n_out - VW);
    }
  }
}

// y = conv3x3(x, w) (+ bias), stride 1, any padding, by Winograd F(2x2, 3x3).
inline void conv_forward_winograd(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) {
  const WinogradPlan wp(g);
  const int64_t C = g.C, per_block = wp.TB / wp.P;
  Workspace<float> Up(16 * wp.panels * C * MR);
  const int nt = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), wp.blocks));
  const int64_t per_worker = 16 * (wp.vstride + wp.mstride) + VW;  // + slack: vector loads of Q < VW lanes of M
  Workspace<float> ws(nt * per_worker);
  Workspace<UnitLoads> units(nt * 2 * per_block);
  const float* x_end = x + g.N * C * g.H * g.W;
  const TileLayout packed{NR, wp.sstride, wp.vstride};

#pragma omp parallel num_threads(nt)
  {
    winograd_weights(w, g, wp, Up.ptr);  // (ends with a barrier)
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < wp.blocks; ++blk) {
      float* Vb = ws.ptr + omp_get_thread_num() * per_worker;
      float* Mb = Vb + 16 * wp.vstride;
      UnitLoads* ul = units.ptr + omp_get_thread_num() * 2 * per_block;  // this block's units, then the next's
      const int64_t u0 = blk * per_block, u1 = std::min(wp.units, u0 + per_block);
      // 1. inputs, channel by channel, so that the image rows are read in order
      //    (a store of Q < VW lanes may run into the next lanes or the next
      //    channel's row, written later, or the strip's slack).
      if (u1 - u0 < per_block)
        for (int xi = 0; xi < 16; ++xi) std::fill(Vb + xi * wp.vstride, Vb + (xi + 1) * wp.vstride, 0.f);
      const int64_t u2 = std::min(wp.units, u1 + per_block);  // the next block's units
      for (int64_t u = u0; u < u2; ++u) unit_loads(x, g, wp, u, (u - u0) * wp.P, ul[u - u0]);
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t u = u1; u < u2; ++u) prefetch_unit_rows(g, ul[u - u0], c);
        for (int64_t u = u0; u < u1; ++u) winograd_input_unit(g, wp, ul[u - u0], c, x, x_end, packed, Vb);
      }
      // 2. M[xi][O, TB] = U[xi][O, C] @ V[xi][C, TB]: strip by strip (the strip stays in L1).
      const int64_t strips_used = ((u1 - u0) * wp.P + NR - 1) / NR;
      for (int xi = 0; xi < 16; ++xi)
        for (int64_t s = 0; s < strips_used; ++s) {
          const float* bs = Vb + xi * wp.vstride + s * wp.sstride;
          for (int64_t p = 0; p < wp.panels; ++p)
            micro_kernel(C, Up.ptr + (xi * wp.panels + p) * C * MR, bs, Mb + xi * wp.mstride + p * MR * wp.TB + s * NR,
                         wp.TB, false);
        }
      // 3. outputs
      for (int64_t o = 0; o < g.O; ++o)
        for (int64_t u = u0; u < u1; ++u)
          winograd_output_unit(Mb, g, wp, ul[u - u0].un, o, (u - u0) * wp.P, bias ? bias[o] : 0.f, y);
    }
  }  // omp parallel
}

}  // namespace drift::cpu::DRIFT_ISA_NS
