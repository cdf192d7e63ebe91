#pragma once
// float32 convolutions on drift's GEMM, written once for any vector width.
// Included ONLY by tensor/cpu/avx2/kernels.cpp and tensor/cpu/avx512/kernels.cpp
// (see gemm_kernel.h); defines that level's entries of isa_kernels.h (sgemm
// and conv2d_*).
//
// Beyond the im2col + GEMM path of conv_common.h, stride-1 convolutions skip
// im2col altogether:
//   forward and weight gradient with Wo > kShiftedMinWo: shifted windows of a
//     padded image (conv_forward_shifted, conv_backward_weight_shifted);
//   other weight gradients: im2col^T packed straight into the GEMM (PackIm2colT);
//   input gradient: the forward conv of dy with the flipped kernel.
// 3x3 stride-1 forward (and so input-gradient) convolutions with enough
// channels and wide enough images take Winograd F(2x2, 3x3) instead
// (winograd.h, the rule in use_winograd), and so do their weight gradients
// where that measured faster (winograd_wgrad.h, use_winograd_wgrad).
#include "tensor/cpu/conv_common.h"
#include "tensor/error.h"
#include "tensor/cpu/gemm_kernel.h"
#include "tensor/cpu/isa_kernels.h"
#include "tensor/cpu/winograd.h"
#include "tensor/cpu/winograd_wgrad.h"

namespace drift::cpu::DRIFT_ISA_NS {

// The shifted-window paths compute Wp - Wo = 2*pw wasted columns per output
// row (the padding), that is (Wp - Wo) / Wo extra work: at most 2/17 = 12% for
// a 3x3 kernel when Wo > 16. Smaller images take im2col (forward) or the
// fused im2col^T packing (weight gradient). Measured on the U-Net's 32x32 and
// 16x16 layers (bench_ops Conv2d*).
constexpr int64_t kShiftedMinWo = 16;

// Pointwise convolutions on images of at least this many pixels run one GEMM
// per image (conv_forward_pointwise); smaller ones are gathered into chunks of
// images first, so that the GEMM has enough columns.
constexpr int64_t kPointwiseMinL = 128;

inline bool use_shifted(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && g.Wo > kShiftedMinWo && !g.pointwise();
}

// The rule for Winograd F(2x2, 3x3) (winograd.h): 3x3 stride-1 convolutions
// with at least kWinogradMinChannels input and output channels (below that the
// transforms, O(C + O) per pixel, outweigh the 2.25x fewer multiplies of the
// GEMMs, O(C * O) per pixel), whose tile rows fill enough of a vector: the
// transforms run on P lanes of VW (P = the tiles of a row rounded up to a power
// of two, at most 16), so they cost VW / P times more per tile on narrow
// images. Taken when P >= VW / 2, or P >= VW / 4 with at least 32 images.
// Measured (bench_ops Conv2dMethod: batch 16, C = O, 2 threads, Zen 5),
// Winograd / GEMM time:
//   AVX2     32@28 0.53, 64@14 0.50, 64@7 0.62, 64@32 0.49, 128@16 0.40, 128@8 0.48, 128@4 0.66
//   AVX-512  32@28 0.60, 64@14 0.69, 64@32 0.48, 128@16 0.49 (P >= 8);
//            64@7 0.9-1.1 and 128@8 0.85-1.0 (P = 4; 0.72 for 64@7 with 64 images), 128@4 1.0-1.5 (P = 2).
// DRIFT_WINOGRAD=0 turns it off (to compare the two methods).
constexpr int64_t kWinogradMinChannels = 16;

inline bool winograd_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("DRIFT_WINOGRAD");
    return !(e != nullptr && e[0] == '0' && e[1] == 0);
  }();
  return on;
}

inline bool use_winograd(const ConvGeom& g) {
  if (!(winograd_enabled() && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.C >= kWinogradMinChannels &&
        g.O >= kWinogradMinChannels))
    return false;
  const int64_t P = WinogradPlan(g).P;
  return 2 * P >= Vec::W || (4 * P >= Vec::W && g.N >= 32);
}

// The weight gradient by Winograd (winograd_wgrad.h) where the forward rule
// holds with P >= VW / 2: its transforms cost the same as the forward pass's,
// but its 16 GEMMs are smaller (O x C, K = a chunk of tiles) and both operands
// are transposed into the GEMM's packed layouts first. Measured (bench_ops
// Conv2dWeightMethod: batch 16, C = O, 2 threads, Zen 5), Winograd / GEMM time:
//   AVX2     32@28 0.53, 64@14 0.50, 64@7 0.56, 64@32 0.47, 128@16 0.52, 128@8 0.78 (P >= 4); 128@4 1.64 (P = 2)
//   AVX-512  32@28 0.65, 64@14 0.85, 64@32 0.52, 128@16 0.74 (P >= 8); 64@7 1.71, 128@8 1.42 (P = 4)
inline bool use_winograd_wgrad(const ConvGeom& g) {
  if (!use_winograd(g)) return false;
  return 2 * WinogradPlan(g).P >= Vec::W;
}

// C = op(A) @ op(B) on plain row-major operands, split over output blocks when `par`.
inline void gemm_plain(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                       int64_t ldb, bool accumulate, float* C, int64_t ldc, bool par) {
  sgemm_parallel(
      ta, M, N, K, A, lda, [&](int64_t j0) { return PackPlainB{tb ? B + j0 * ldb : B + j0, ldb, tb}; }, accumulate, C,
      ldc, par);
}

// ---- im2col fused into the GEMM's packing (weight gradient) ----
// The chunk's im2col matrix is never stored: the GEMM asks for blocks of
// cols^T and gets them written straight into its packed layout.

// Consecutive GEMM columns l' = image*L + oh*Wo + ow that lie in one output row.
struct Segment {
  int64_t j, len, image, oh, ow;
};

// Splits columns [l0, l0 + n) into output-row segments; returns how many (<= n).
inline int64_t make_segments(const ConvGeom& g, int64_t l0, int64_t n, Segment* segs) {
  const int64_t L = g.L();
  int64_t count = 0;
  for (int64_t j = 0; j < n;) {
    const int64_t lp = l0 + j, image = lp / L, l = lp % L, oh = l / g.Wo, ow = l % g.Wo;
    const int64_t len = std::min(n - j, g.Wo - ow);
    segs[count++] = {j, len, image, oh, ow};
    j += len;
  }
  return count;
}

#if defined(__AVX512F__)
// Lanes [lo, hi) of a 16-lane mask (bounds clamped to [0, 16]).
inline __mmask16 lane_mask(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, 16);
  hi = std::clamp<int64_t>(hi, lo, 16);
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}
#endif

// dst[rr * ldd + j] = cols[r0 + rr, l0 + j] for rr < nrows, over the segments of [l0, l0 + n).
inline void im2col_block(const float* x, const ConvGeom& g, int64_t img, const Segment* segs, int64_t nseg, int64_t r0,
                         int64_t nrows, float* dst, int64_t ldd) {
  // (c, ki, kj) of row r, stepped incrementally (no divisions per row).
  int64_t c = r0 / (g.kh * g.kw), ki = (r0 / g.kw) % g.kh, kj = r0 % g.kw;
  for (int64_t rr = 0; rr < nrows; ++rr) {
    int64_t lo, hi;
    valid_range(g.Wo, g.W, g.sw, g.pw, kj, lo, hi);
    float* d = dst + rr * ldd;
    for (int64_t si = 0; si < nseg; ++si) {
      const Segment& sg = segs[si];
      float* ds = d + sg.j;
      const int64_t ih = sg.oh * g.sh - g.ph + ki;
      const bool row_inside = ih >= 0 && ih < g.H;
      // x index of output column ow: base + ow * sw
      const int64_t base = sg.image * img + (c * g.H + ih) * g.W - g.pw + kj;
#if defined(__AVX512F__)
      if (g.sw == 1) {
        // 16 columns at a time; lanes outside [lo, hi) read as 0 (masked loads never fault).
        // The store is a full 16 lanes (masked stores are slow on AMD): lanes past the
        // segment land on columns written later (next segment, next row) or on slack.
        for (int64_t t = 0; t < sg.len; t += 16) {
          const int64_t ow0 = sg.ow + t;
          __m512 v = _mm512_setzero_ps();
          if (row_inside)
            v = _mm512_maskz_loadu_ps(lane_mask(lo - ow0, std::min(hi, sg.ow + sg.len) - ow0), x + base + ow0);
          _mm512_storeu_ps(ds + t, v);
        }
        continue;
      }
#endif
      for (int64_t t = 0; t < sg.len; ++t) {
        const int64_t ow = sg.ow + t;
        ds[t] = row_inside && ow >= lo && ow < hi ? x[base + ow * g.sw] : 0.f;
      }
    }
    if (++kj == g.kw) {
      kj = 0;
      if (++ki == g.kh) {
        ki = 0;
        ++c;
      }
    }
  }
}

// op(B) = cols^T[cnt*L, CKK] from column (cols row) `col0` on (backward weight).
struct PackIm2colT {
  const float* x;
  const ConvGeom* g;
  int64_t img, col0;
  void operator()(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const {
    Segment segs[KC];
    alignas(64) float tmp[NR * KC + 16];  // [NR rows of cols][kc] (+ slack), then transposed into dst
    const int64_t nseg = make_segments(*g, k0, kc, segs);
    for (int64_t s = 0; s * NR < nc; ++s) {
      const int64_t nr = std::min(NR, nc - s * NR);
      float* d = dst + s * kc * NR;
      im2col_block(x, *g, img, segs, nseg, col0 + n0 + s * NR, nr, tmp, kc);
      for (int64_t j = nr; j < NR; ++j) std::fill(tmp + j * kc, tmp + (j + 1) * kc, 0.f);
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8)
        for (int64_t jb = 0; jb < NR; jb += 8) transpose8x8(tmp + jb * kc + k, kc, d + k * NR + jb, NR);
      for (; k < kc; ++k)
        for (int64_t j = 0; j < NR; ++j) d[k * NR + j] = tmp[j * kc + k];
    }
  }
};

// im2col of images [n0, n0+cnt) side by side into cols [CKK, cnt*L] (forward).
inline void im2col_chunk(const float* x, const ConvGeom& g, int64_t n0, int64_t cnt, float* cols, bool parallel) {
#if defined(__AVX512F__)
  const int64_t L = g.L(), ldc = cnt * L, CKK = g.CKK(), img = g.C * g.H * g.W;
  if (g.sw == 1 && g.Wo <= 16) {
    // Small images, stride 1: one masked 16-lane load per output row (lanes
    // outside the image read as 0) and a full 16-lane store; the lanes past
    // Wo land on the next output rows / images of the same cols row, written
    // right after. Only stores that would run past the cols row use a mask
    // (masked stores are slow on AMD), so no store leaves its cols row.
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t r = 0; r < CKK; ++r) {
      const int64_t c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
      int64_t lo, hi;
      valid_range(g.Wo, g.W, 1, g.pw, kj, lo, hi);
      const __mmask16 valid = lane_mask(lo, hi), row_lanes = lane_mask(0, g.Wo);
      for (int64_t j = 0; j < cnt; ++j) {
        const float* xc = x + (n0 + j) * img + c * g.H * g.W;
        float* d = cols + r * ldc + j * L;
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + ki;
          __m512 v = _mm512_setzero_ps();
          if (ih >= 0 && ih < g.H) v = _mm512_maskz_loadu_ps(valid, xc + ih * g.W - g.pw + kj);
          if (j * L + oh * g.Wo + 16 > ldc) {  // would run past this cols row
            _mm512_mask_storeu_ps(d + oh * g.Wo, row_lanes, v);
          } else {
            _mm512_storeu_ps(d + oh * g.Wo, v);
          }
        }
      }
    }
    return;
  }
#endif
  im2col_chunk_plain(x, g, n0, cnt, cols, parallel);
}

// ---- shifted windows (stride 1, no im2col) ----
// With x zero-padded to xpad[C, Hp, Wp] (Hp = H + 2ph, Wp = W + 2pw) and output
// positions counted on the padded width, p = oh*Wp + ow, every im2col row is a
// shifted window of the flat padded image:
//   cols[(c, ki, kj), p] = xpad[c*Hp*Wp + ki*Wp + kj + p]
// so the GEMM packs B with plain contiguous copies. Columns with ow >= Wo are
// computed and dropped (see kShiftedMinWo).
struct PackShifted {
  const float* base;      // xpad
  const int64_t* rowoff;  // [CKK] offsets c*Hp*Wp + ki*Wp + kj
  int64_t col0;
  void operator()(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const {
    for (int64_t s = 0; s * NR < nc; ++s) {
      const int64_t j0 = col0 + n0 + s * NR, nr = std::min(NR, nc - s * NR);
      float* d = dst + s * kc * NR;
      for (int64_t k = 0; k < kc; ++k) copy_strip_row(base + rowoff[k0 + k] + j0, nr, d + k * NR);
    }
  }
};

// op(B)[k, n] = base[rowoff[n] + k]: the transposed shifted windows (weight gradient).
struct PackShiftedT {
  const float* base;
  const int64_t* rowoff;
  int64_t col0;
  void operator()(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const {
    alignas(32) float rows[8 * 8];
    for (int64_t s = 0; s * NR < nc; ++s) {
      const int64_t j0 = col0 + n0 + s * NR, nr = std::min(NR, nc - s * NR);
      float* d = dst + s * kc * NR;
      int64_t k = 0;
      if (nr == NR) {
        for (; k + 8 <= kc; k += 8) {
          for (int64_t jb = 0; jb < NR; jb += 8) {
            // 8 x 8 transpose from 8 independently offset rows
            for (int i = 0; i < 8; ++i)
              _mm256_store_ps(rows + 8 * i, _mm256_loadu_ps(base + rowoff[j0 + jb + i] + k0 + k));
            transpose8x8(rows, 8, d + k * NR + jb, NR);
          }
        }
      }
      for (; k < kc; ++k)
        for (int64_t j = 0; j < NR; ++j) d[k * NR + j] = j < nr ? base[rowoff[j0 + j] + k0 + k] : 0.f;
    }
  }
};

// Shared set-up of the shifted paths: padded geometry and window offsets.
struct Shifted {
  int64_t Hp, Wp, HWp, Np, xpad_size;
  Workspace<int64_t> rowoff;
  explicit Shifted(const ConvGeom& g)
      : Hp(g.H + 2 * g.ph), Wp(g.W + 2 * g.pw), HWp(Hp * Wp), Np(g.Ho * Wp),
        xpad_size(g.C * HWp + g.kw + NR), rowoff(g.CKK()) {
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t ki = 0; ki < g.kh; ++ki)
        for (int64_t kj = 0; kj < g.kw; ++kj) rowoff.ptr[(c * g.kh + ki) * g.kw + kj] = c * HWp + ki * Wp + kj;
  }
  // xpad = image x_n [C, H, W] with zero borders (+ zero slack for the last windows).
  void pad(const float* xn, const ConvGeom& g, float* xpad, bool par) const {
#pragma omp parallel for schedule(static) if (par)
    for (int64_t c = 0; c < g.C; ++c) {
      float* pc = xpad + c * HWp;
      std::fill(pc, pc + g.ph * Wp, 0.f);
      for (int64_t h = 0; h < g.H; ++h) {
        float* row = pc + (g.ph + h) * Wp;
        std::fill(row, row + g.pw, 0.f);
        std::memcpy(row + g.pw, xn + (c * g.H + h) * g.W, static_cast<size_t>(g.W) * sizeof(float));
        std::fill(row + g.pw + g.W, row + Wp, 0.f);
      }
      std::fill(pc + (g.ph + g.H) * Wp, pc + HWp, 0.f);
    }
    std::fill(xpad + g.C * HWp, xpad + xpad_size, 0.f);
  }
};

inline void conv_forward_shifted(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) {
  const Shifted sh(g);
  const int64_t CKK = g.CKK(), O = g.O, L = g.L(), img = g.C * g.H * g.W, Np = sh.Np, Wp = sh.Wp;
  const bool over_images = enough_images(g.N, omp_get_max_threads());
  const int nw = over_images ? omp_get_max_threads() : 1;
  const int64_t per_worker = sh.xpad_size + O * Np;
  Workspace<float> ws(nw * per_worker);

  auto one_image = [&](int64_t n, int tid, bool par) {
    float* xpad = ws.ptr + tid * per_worker;
    float* cpad = xpad + sh.xpad_size;
    sh.pad(x + n * img, g, xpad, par);
    // cpad[O, Ho*Wp] = W[O, CKK] @ cols
    sgemm_parallel(false, O, Np, CKK, w, CKK, [&](int64_t c0) { return PackShifted{xpad, sh.rowoff.ptr, c0}; }, false,
                   cpad, Np, par);
    // y[n, o, oh, ow] = cpad[o, oh*Wp + ow] + bias[o]
#pragma omp parallel for schedule(static) if (par)
    for (int64_t o = 0; o < O; ++o) {
      const float b = bias ? bias[o] : 0.f;
      float* yo = y + (n * O + o) * L;
      const float* co = cpad + o * Np;
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) yo[oh * g.Wo + ow] = co[oh * Wp + ow] + b;
    }
  };

  if (over_images) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < g.N; ++n) one_image(n, omp_get_thread_num(), false);
  } else {
    for (int64_t n = 0; n < g.N; ++n) one_image(n, 0, true);
  }
}

// Stride-1 weight gradient without im2col: with dyw[o, p] = dy[o, oh, ow] on
// the padded width (0 for ow >= Wo),
//   dW[o, (c, ki, kj)] += sum_p dyw[o, p] * xpad[c*Hp*Wp + ki*Wp + kj + p].
// Images are added one after another, each GEMM split over blocks of dW.
inline void conv_backward_weight_shifted(const float* dy, const float* x, float* dw, const ConvGeom& g) {
  const Shifted sh(g);
  const int64_t CKK = g.CKK(), O = g.O, L = g.L(), img = g.C * g.H * g.W, Np = sh.Np, Wp = sh.Wp;
  Workspace<float> ws(sh.xpad_size + O * Np);
  float* xpad = ws.ptr;
  float* dyw = xpad + sh.xpad_size;
  std::fill(dw, dw + O * CKK, 0.f);
  for (int64_t n = 0; n < g.N; ++n) {
    sh.pad(x + n * img, g, xpad, true);
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < O; ++o) {
      const float* src = dy + (n * O + o) * L;
      float* dst = dyw + o * Np;
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        std::memcpy(dst + oh * Wp, src + oh * g.Wo, static_cast<size_t>(g.Wo) * sizeof(float));
        std::fill(dst + oh * Wp + g.Wo, dst + (oh + 1) * Wp, 0.f);
      }
    }
    // dw[O, CKK] += dyw[O, Np] @ windows^T[Np, CKK]
    sgemm_parallel(false, O, CKK, Np, dyw, Np, [&](int64_t c0) { return PackShiftedT{xpad, sh.rowoff.ptr, c0}; },
                   true, dw, CKK, true);
  }
}

// ---- the entries (isa_kernels.h) ----

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
           int64_t ldb, bool accumulate, float* C, int64_t ldc, bool parallel) {
  gemm_plain(trans_a, trans_b, M, N, K, A, lda, B, ldb, accumulate, C, ldc, parallel);
}

// 1x1 stride-1 unpadded convolutions: y[n] = W[O, C] @ x[n][C, L] (+ bias),
// one GEMM per image straight from x into y (no copies into a chunk's
// columns and back), whole images to each thread when there are enough.
inline void conv_forward_pointwise(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) {
  const int64_t L = g.L(), C = g.C, O = g.O;
  auto one_image = [&](int64_t n, bool par) {
    float* yn = y + n * O * L;
    gemm_plain(false, false, O, L, C, w, C, x + n * C * L, L, false, yn, L, par);
    if (bias)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t l = 0; l < L; ++l) yn[o * L + l] += bias[o];
  };
  if (enough_images(g.N, omp_get_max_threads())) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < g.N; ++n) one_image(n, false);
  } else {
    for (int64_t n = 0; n < g.N; ++n) one_image(n, true);
  }
}

void conv2d_forward_gemm(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) {
  if (g.pointwise() && g.L() >= kPointwiseMinL) return conv_forward_pointwise(x, w, bias, y, g);
  if (use_shifted(g)) return conv_forward_shifted(x, w, bias, y, g);
  conv_forward_im2col<float>(x, w, bias, y, g, gemm_plain, im2col_chunk);
}

void conv2d_forward_winograd(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) {
  // (No drift::str here: its templates must not be instantiated with this file's flags.)
  if (!(g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1))
    throw Error("conv2d_forward_winograd: needs a 3x3 kernel with stride 1");
  conv_forward_winograd(x, w, bias, y, g);
}

void conv2d_forward(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) {
  if (use_winograd(g)) return conv_forward_winograd(x, w, bias, y, g);
  conv2d_forward_gemm(x, w, bias, y, g);
}

void conv2d_backward_input(const float* dy, const float* w, float* dx, const ConvGeom& g) {
  // Stride 1: dx is the forward convolution of dy with the flipped, transposed
  // kernel W'[c, o, a, b] = W[o, c, kh-1-a, kw-1-b] and padding k-1-p
  // (the adjoint of a stride-1 correlation), which runs the fast forward paths.
  if (g.sh == 1 && g.sw == 1 && g.ph <= g.kh - 1 && g.pw <= g.kw - 1) {
    const int64_t kk = g.kh * g.kw;
    Workspace<float> wflip(g.O * g.CKK());
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t a = 0; a < g.kh; ++a)
          for (int64_t b = 0; b < g.kw; ++b)
            wflip.ptr[(c * g.O + o) * kk + a * g.kw + b] = w[(o * g.C + c) * kk + (g.kh - 1 - a) * g.kw + (g.kw - 1 - b)];
    const ConvGeom flipped{g.N, g.O, g.Ho, g.Wo, g.C, g.kh, g.kw, g.H, g.W, 1, 1, g.kh - 1 - g.ph, g.kw - 1 - g.pw};
    return conv2d_forward(dy, wflip.ptr, nullptr, dx, flipped);
  }
  conv_backward_input_col2im<float>(dy, w, dx, g, gemm_plain);
}

void conv2d_backward_weight_winograd(const float* dy, const float* x, float* dw, const ConvGeom& g) {
  if (!(g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1))
    throw Error("conv2d_backward_weight_winograd: needs a 3x3 kernel with stride 1");
  conv_backward_weight_winograd(dy, x, dw, g);
}

void conv2d_backward_weight(const float* dy, const float* x, float* dw, const ConvGeom& g) {
  if (use_winograd_wgrad(g)) return conv_backward_weight_winograd(dy, x, dw, g);
  conv2d_backward_weight_gemm(dy, x, dw, g);
}

void conv2d_backward_weight_gemm(const float* dy, const float* x, float* dw, const ConvGeom& g) {
  if (use_shifted(g)) return conv_backward_weight_shifted(dy, x, dw, g);
  const int64_t L = g.L(), CKK = g.CKK(), O = g.O, img = g.C * g.H * g.W;
  // Small stride-1 images on AVX-512: the masked im2col_chunk plus a transposing
  // pack beats packing im2col^T element by element.
  const bool store_cols = Vec::W == 16 && g.sw == 1 && g.Wo <= 16;
  const Plan plan = make_plan(g, true);
  Workspace<float> cols(store_cols ? CKK * plan.chunk * L : 0);
  conv_backward_weight_chunks<float>(dy, dw, g, [&](int64_t n0, int64_t cnt, const float* A, float* acc) {
    const float* xc = x + n0 * img;
    if (g.pointwise() && cnt == 1) {  // cols = x[n]
      gemm_plain(false, true, O, CKK, L, A, L, xc, L, true, acc, CKK, true);
    } else if (store_cols) {
      im2col_chunk(x, g, n0, cnt, cols.ptr, true);
      gemm_plain(false, true, O, CKK, cnt * L, A, cnt * L, cols.ptr, cnt * L, true, acc, CKK, true);
    } else {  // im2col^T packed straight into the GEMM
      sgemm_parallel(false, O, CKK, cnt * L, A, cnt * L, [&](int64_t c0) { return PackIm2colT{xc, &g, img, c0}; },
                     true, acc, CKK, true);
    }
  });
}

}  // namespace drift::cpu::DRIFT_ISA_NS
