// 2-D convolution on the CPU through GEMM (im2col / col2im + BLAS).
//
// Shapes (all contiguous, prepared by the frontend in tensor/ops_linalg.cpp):
//   x [N, C, H, W], w [O, C, kh, kw], y [N, O, Ho, Wo],
//   Ho = (H + 2 ph - kh) / sh + 1,  Wo = (W + 2 pw - kw) / sw + 1.
// Kernel arguments:
//   Conv2d:               in = {x, w, bias or null}, out = {y}
//   Conv2dBackwardInput:  in = {dy, w},              out = {dx}
//   Conv2dBackwardWeight: in = {dy, x},              out = {dw}
//
// With cols[n] = im2col(x[n]) of shape [C*kh*kw, Ho*Wo]:
//   forward          y[n]  = W[O, CKK] @ cols[n]                 (+ bias[o])
//   backward input   dx[n] = col2im(W^T[CKK, O] @ dy[n][O, L])
//   backward weight  dW    = sum_n dy[n][O, L] @ cols[n]^T[L, CKK]
// A 1x1 stride-1 unpadded convolution has cols[n] = x[n]: a plain GEMM.
//
// Work is split into chunks of images; a chunk's columns are side by side
// in one buffer ([CKK, cnt*L]) so that small images still make wide GEMMs.
// With enough images every thread takes whole chunks with single-threaded
// BLAS (no synchronisation inside a chunk, buffers stay in its cache);
// otherwise chunks run one after another with threaded BLAS and OpenMP
// im2col / col2im.
//
// float32 on an AVX-512 build uses drift's own GEMM (sgemm_avx512.h; OpenBLAS
// is pinned to AVX2 here) and, for stride 1, skips im2col altogether:
//   forward / weight gradient with Wo >= 12: shifted windows of a padded image
//     (conv_forward_shifted, conv_backward_weight_shifted);
//   other weight gradients: im2col^T packed straight into the GEMM (PackIm2colT);
//   input gradient: the forward conv of dy with the flipped kernel.
// float64 (gradient checks) and non-AVX-512 builds take the OpenBLAS path.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "tensor/cpu/blas.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/sgemm_avx512.h"

namespace drift::cpu {
namespace {

struct ConvGeom {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo, sh, sw, ph, pw;
  int64_t L() const { return Ho * Wo; }           // output pixels per image
  int64_t CKK() const { return C * kh * kw; }     // GEMM inner dim
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

ConvGeom make_geom(const Tensor& x_like, const Tensor& w_like, const Tensor& y_like, const Conv2dParams& p) {
  ConvGeom g;
  g.N = x_like.size(0);
  g.C = x_like.size(1);
  g.H = x_like.size(2);
  g.W = x_like.size(3);
  g.O = w_like.size(0);
  g.kh = w_like.size(2);
  g.kw = w_like.size(3);
  g.Ho = y_like.size(2);
  g.Wo = y_like.size(3);
  g.sh = p.stride_h;
  g.sw = p.stride_w;
  g.ph = p.pad_h;
  g.pw = p.pad_w;
  return g;
}

// Scratch memory from the caching CPU allocator, released on scope exit.
template <class T>
struct Workspace {
  T* ptr = nullptr;
  size_t bytes = 0;
  explicit Workspace(int64_t count) : bytes(static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T)) {
    ptr = static_cast<T*>(cpu_allocator().allocate(bytes));
  }
  ~Workspace() { cpu_allocator().deallocate(ptr, bytes); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
};

// Output columns [lo, hi) of an output row for kernel column kj read input
// columns iw = ow*sw - pw + kj inside [0, W); the rest read padding.
inline void valid_range(int64_t Wo, int64_t W, int64_t sw, int64_t pw, int64_t kj, int64_t& lo, int64_t& hi) {
  const int64_t first = pw - kj;  // ow*sw >= first
  lo = first > 0 ? (first + sw - 1) / sw : 0;
  const int64_t last = W - 1 + pw - kj;  // ow*sw <= last
  hi = last >= 0 ? std::min(Wo, last / sw + 1) : 0;
  lo = std::min(lo, Wo);
  hi = std::max(hi, lo);
}

// cols[r, l] (row stride ldc) for one image x [C, H, W], rows r in [r0, r1),
// r = (c*kh + ki)*kw + kj, l = oh*Wo + ow:  cols[r, l] = x[c, oh*sh-ph+ki, ow*sw-pw+kj] (0 outside).
template <class T>
void im2col_rows(const T* x, const ConvGeom& g, T* cols, int64_t ldc, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / (g.kh * g.kw), ki = (r / g.kw) % g.kh, kj = r % g.kw;
    const T* xc = x + c * g.H * g.W;
    T* dst = cols + r * ldc;
    int64_t lo, hi;
    valid_range(g.Wo, g.W, g.sw, g.pw, kj, lo, hi);
    // Plain loops rather than memcpy / fill: rows are short (Wo = 7 .. 32) and
    // library calls per row cost more than the copy.
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      T* d = dst + oh * g.Wo;
      const int64_t ih = oh * g.sh - g.ph + ki;
      if (ih < 0 || ih >= g.H) {
        for (int64_t ow = 0; ow < g.Wo; ++ow) d[ow] = T(0);
        continue;
      }
      const int64_t base = ih * g.W - g.pw + kj;  // x[c, ih, ow*sw - pw + kj] = xc[base + ow*sw]
      for (int64_t ow = 0; ow < lo; ++ow) d[ow] = T(0);
      if (g.sw == 1) {
        for (int64_t ow = lo; ow < hi; ++ow) d[ow] = xc[base + ow];
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) d[ow] = xc[base + ow * g.sw];
      }
      for (int64_t ow = hi; ow < g.Wo; ++ow) d[ow] = T(0);
    }
  }
}

// The adjoint of im2col for channels [c0, c1): dx[c, ih, iw] += cols[r, l]
// over every (r, l) that im2col read from (c, ih, iw). dx must be zeroed first.
template <class T>
void col2im_channels(const T* cols, const ConvGeom& g, int64_t ldc, T* dx, int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; ++c) {
    T* dxc = dx + c * g.H * g.W;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const T* src = cols + ((c * g.kh + ki) * g.kw + kj) * ldc;
        int64_t lo, hi;
        valid_range(g.Wo, g.W, g.sw, g.pw, kj, lo, hi);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + ki;
          if (ih < 0 || ih >= g.H) continue;
          const T* s = src + oh * g.Wo;
          T* dr = dxc + ih * g.W - g.pw + kj;
          if (g.sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) dr[ow] += s[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dr[ow * g.sw] += s[ow];
          }
        }
      }
    }
  }
}

// C[M, N] = op(A) @ op(B) (+ C when accumulate). float32 goes to the AVX-512
// GEMM when available (split over threads by column blocks when `parallel`),
// everything else to OpenBLAS (which threads by itself outside a parallel region).
template <class T>
void conv_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
               bool accumulate, T* C, int64_t ldc, bool parallel) {
  if constexpr (std::is_same_v<T, float>) {
    if (fast_sgemm_available()) {
      if (parallel)
        fast_sgemm_threaded(ta, tb, M, N, K, A, lda, B, ldb, accumulate, C, ldc);
      else
        fast_sgemm(ta, tb, M, N, K, A, lda, B, ldb, accumulate, C, ldc);
      return;
    }
  }
  gemm<T>(ta, tb, M, N, K, T(1), A, lda, B, ldb, accumulate ? T(1) : T(0), C, ldc);
}

#if defined(DRIFT_HAVE_AVX512_SGEMM)
// ---- im2col fused into the GEMM's packing (float32, AVX-512) ----
// For the weight gradient the chunk's im2col matrix is never stored: the
// GEMM asks for blocks of cols^T and gets them written straight into its
// packed layout (saving the big cols buffer and a transposing pack).

// Consecutive GEMM columns l' = image*L + oh*Wo + ow that lie in one output row.
struct Segment {
  int64_t j, len, image, oh, ow;
};

// Splits columns [l0, l0 + n) into output-row segments; returns how many (<= n).
int64_t make_segments(const ConvGeom& g, int64_t l0, int64_t n, Segment* segs) {
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

// Lanes [lo, hi) of a 16-lane mask (bounds clamped to [0, 16]).
inline __mmask16 lane_mask(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, 16);
  hi = std::clamp<int64_t>(hi, lo, 16);
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// dst[rr * ldd + j] = cols[r0 + rr, l0 + j] for rr < nrows, over the segments of [l0, l0 + n).
void im2col_block(const float* x, const ConvGeom& g, int64_t img, const Segment* segs, int64_t nseg, int64_t r0,
                  int64_t nrows, float* dst, int64_t ldd) {
  // (c, ki, kj) of row r, stepped incrementally (no divisions per row).
  int64_t c = r0 / (g.kh * g.kw), ki = (r0 / g.kw) % g.kh, kj = r0 % g.kw;
  const __m512 zero = _mm512_setzero_ps();
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
      if (g.sw == 1) {
        // 16 columns at a time; lanes outside [lo, hi) read as 0 (masked loads never fault).
        // The store is a full 16 lanes (masked stores are slow on AMD): lanes past the
        // segment land on columns written later (next segment, next row) or on slack.
        for (int64_t t = 0; t < sg.len; t += 16) {
          const int64_t ow0 = sg.ow + t;
          __m512 v = zero;
          if (row_inside) v = _mm512_maskz_loadu_ps(lane_mask(lo - ow0, std::min(hi, sg.ow + sg.len) - ow0), x + base + ow0);
          _mm512_storeu_ps(ds + t, v);
        }
      } else {
        for (int64_t t = 0; t < sg.len; ++t) {
          const int64_t ow = sg.ow + t;
          ds[t] = row_inside && ow >= lo && ow < hi ? x[base + ow * g.sw] : 0.f;
        }
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
    using avx512::KC;
    using avx512::NR;
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
        for (int64_t jb = 0; jb < NR; jb += 8) avx512::transpose8x8(tmp + jb * kc + k, kc, d + k * NR + jb, NR);
      for (; k < kc; ++k)
        for (int64_t j = 0; j < NR; ++j) d[k * NR + j] = tmp[j * kc + k];
    }
  }
};

// C[M, N] (+)= op(A) @ op(B) with op(B) from make_packer(first column), split
// over threads by 48-column blocks when `parallel`.
template <class MakePacker>
void sgemm_fused(bool trans_a, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                 const MakePacker& make_packer, bool accumulate, float* C, int64_t ldc, bool parallel) {
  if (!parallel) {
    avx512::sgemm(trans_a, M, N, K, A, lda, make_packer(0), accumulate, C, ldc);
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t per = ((N + nt - 1) / nt + avx512::NR - 1) / avx512::NR * avx512::NR;
    const int64_t j0 = std::min(N, tid * per), j1 = std::min(N, j0 + per);
    if (j1 > j0) avx512::sgemm(trans_a, M, j1 - j0, K, A, lda, make_packer(j0), accumulate, C + j0, ldc);
  }
}
#endif  // DRIFT_HAVE_AVX512_SGEMM

// im2col of images [n0, n0+cnt) side by side into cols [CKK, cnt*L].
template <class T>
void im2col_chunk(const T* x, const ConvGeom& g, int64_t n0, int64_t cnt, T* cols, bool parallel) {
  const int64_t L = g.L(), ldc = cnt * L, CKK = g.CKK(), img = g.C * g.H * g.W;
#if defined(DRIFT_HAVE_AVX512_SGEMM)
  if constexpr (std::is_same_v<T, float>) {
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
  }
#endif
#pragma omp parallel for schedule(static) collapse(2) if (parallel)
  for (int64_t j = 0; j < cnt; ++j)
    for (int64_t r = 0; r < CKK; ++r) im2col_rows(x + (n0 + j) * img, g, cols + j * L, ldc, r, r + 1);
}

// How images are grouped: `chunk` images per chunk, and whether whole chunks
// run on separate threads (single-threaded BLAS) or one after another.
struct Plan {
  int64_t chunk;
  int64_t num_chunks;
  bool threads_over_chunks;
};

// Aim for GEMMs with at least this many columns (output pixels).
constexpr int64_t kTargetCols = 768;

Plan make_plan(const ConvGeom& g) {
  const int64_t threads = omp_get_max_threads();
  Plan p;
  p.chunk = std::clamp<int64_t>((kTargetCols + g.L() - 1) / g.L(), 1, std::max<int64_t>(g.N, 1));
  p.threads_over_chunks = threads > 1 && (g.N >= 2 * threads || (g.N >= threads && g.N % threads == 0));
  if (p.threads_over_chunks) {
    // At least one chunk per thread, and a multiple of the thread count when cheap.
    p.chunk = std::min(p.chunk, (g.N + threads - 1) / threads);
    int64_t chunks = (g.N + p.chunk - 1) / p.chunk;
    chunks = std::min(g.N, (chunks + threads - 1) / threads * threads);
    p.chunk = (g.N + chunks - 1) / chunks;
  }
  p.num_chunks = g.N == 0 ? 0 : (g.N + p.chunk - 1) / p.chunk;
  return p;
}

// Runs body(chunk_index, n0, cnt, tid, parallel_inside) over all chunks.
template <class F>
void for_each_chunk(const ConvGeom& g, const Plan& plan, F body) {
  if (plan.threads_over_chunks) {
#pragma omp parallel
    {
      const int tid = omp_get_thread_num();
#pragma omp for schedule(static)
      for (int64_t ci = 0; ci < plan.num_chunks; ++ci) {
        const int64_t n0 = ci * plan.chunk, cnt = std::min(plan.chunk, g.N - n0);
        body(n0, cnt, tid, false);
      }
    }
  } else {
    for (int64_t ci = 0; ci < plan.num_chunks; ++ci) {
      const int64_t n0 = ci * plan.chunk, cnt = std::min(plan.chunk, g.N - n0);
      body(n0, cnt, 0, true);
    }
  }
}

int workers(const Plan& plan) { return plan.threads_over_chunks ? omp_get_max_threads() : 1; }

// ----------------------------------------------------------------- forward
#if defined(DRIFT_HAVE_AVX512_SGEMM)
// Stride-1 forward without im2col (float32, AVX-512). With x zero-padded to
// xpad[C, Hp, Wp] (Hp = H + 2ph, Wp = W + 2pw) and output positions counted
// on the padded width, p = oh*Wp + ow, every im2col row is a shifted window
// of the flat padded image:
//   cols[(c, ki, kj), p] = xpad[c*Hp*Wp + ki*Wp + kj + p]
// so the GEMM packs B with plain contiguous copies. Columns with ow >= Wo
// are computed and dropped ((Wp - Wo) / Wo extra work, small for Wo >= 12).
struct PackShifted {
  const float* base;      // xpad
  const int64_t* rowoff;  // [CKK] offsets c*Hp*Wp + ki*Wp + kj
  int64_t col0;
  void operator()(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const {
    using avx512::NR;
    for (int64_t s = 0; s * NR < nc; ++s) {
      const int64_t j0 = col0 + n0 + s * NR, nr = std::min(NR, nc - s * NR);
      float* d = dst + s * kc * NR;
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = base + rowoff[k0 + k] + j0;
        float* dk = d + k * NR;
        if (nr == NR) {
          _mm512_storeu_ps(dk, _mm512_loadu_ps(src));
          _mm512_storeu_ps(dk + 16, _mm512_loadu_ps(src + 16));
          _mm512_storeu_ps(dk + 32, _mm512_loadu_ps(src + 32));
        } else {
          for (int64_t j = 0; j < NR; ++j) dk[j] = j < nr ? src[j] : 0.f;
        }
      }
    }
  }
};

bool use_shifted_forward(const ConvGeom& g) { return g.sh == 1 && g.sw == 1 && g.Wo > 16 && !g.pointwise(); }

void conv_forward_shifted(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) {
  const int64_t Hp = g.H + 2 * g.ph, Wp = g.W + 2 * g.pw, HWp = Hp * Wp;
  const int64_t CKK = g.CKK(), O = g.O, L = g.L(), img = g.C * g.H * g.W;
  const int64_t Np = g.Ho * Wp;                          // GEMM columns per image
  const int64_t xpad_size = g.C * HWp + g.kw + avx512::NR;  // slack for the last windows
  std::vector<int64_t> rowoff(static_cast<size_t>(CKK));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) rowoff[(c * g.kh + ki) * g.kw + kj] = c * HWp + ki * Wp + kj;
  const int threads = omp_get_max_threads();
  const bool over_images = threads > 1 && (g.N >= 2 * threads || (g.N >= threads && g.N % threads == 0));
  const int nw = over_images ? threads : 1;
  const int64_t per_worker = xpad_size + O * Np;
  Workspace<float> ws(nw * per_worker);

  auto one_image = [&](int64_t n, int tid, bool par) {
    float* xpad = ws.ptr + tid * per_worker;
    float* cpad = xpad + xpad_size;
    const float* xn = x + n * img;
    // xpad = x with zero borders
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
    // cpad[O, Ho*Wp] = W[O, CKK] @ cols
    sgemm_fused(false, O, Np, CKK, w, CKK, [&](int64_t c0) { return PackShifted{xpad, rowoff.data(), c0}; }, false,
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

// op(B)[k, n] = base[rowoff[n] + k]: the transposed shifted windows (weight gradient).
struct PackShiftedT {
  const float* base;
  const int64_t* rowoff;
  int64_t col0;
  void operator()(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const {
    using avx512::NR;
    for (int64_t s = 0; s * NR < nc; ++s) {
      const int64_t j0 = col0 + n0 + s * NR, nr = std::min(NR, nc - s * NR);
      float* d = dst + s * kc * NR;
      int64_t k = 0;
      if (nr == NR) {
        for (; k + 8 <= kc; k += 8) {
          for (int64_t jb = 0; jb < NR; jb += 8) {
            // 8 x 8 transpose from 8 independently offset rows
            __m256 r[8];
            for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(base + rowoff[j0 + jb + i] + k0 + k);
            __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
            __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
            __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
            __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
            __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
            __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
            __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
            __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
            __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
            __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
            __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
            __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
            float* o = d + k * NR + jb;
            _mm256_storeu_ps(o + 0 * NR, _mm256_permute2f128_ps(s0, s4, 0x20));
            _mm256_storeu_ps(o + 1 * NR, _mm256_permute2f128_ps(s1, s5, 0x20));
            _mm256_storeu_ps(o + 2 * NR, _mm256_permute2f128_ps(s2, s6, 0x20));
            _mm256_storeu_ps(o + 3 * NR, _mm256_permute2f128_ps(s3, s7, 0x20));
            _mm256_storeu_ps(o + 4 * NR, _mm256_permute2f128_ps(s0, s4, 0x31));
            _mm256_storeu_ps(o + 5 * NR, _mm256_permute2f128_ps(s1, s5, 0x31));
            _mm256_storeu_ps(o + 6 * NR, _mm256_permute2f128_ps(s2, s6, 0x31));
            _mm256_storeu_ps(o + 7 * NR, _mm256_permute2f128_ps(s3, s7, 0x31));
          }
        }
      }
      for (; k < kc; ++k)
        for (int64_t j = 0; j < NR; ++j) d[k * NR + j] = j < nr ? base[rowoff[j0 + j] + k0 + k] : 0.f;
    }
  }
};

// Stride-1 weight gradient without im2col: with dyw[o, p] = dy[o, oh, ow] on
// the padded width (0 for ow >= Wo),
//   dW[o, (c, ki, kj)] += sum_p dyw[o, p] * xpad[c*Hp*Wp + ki*Wp + kj + p].
void conv_backward_weight_shifted(const float* dy, const float* x, float* dw, const ConvGeom& g) {
  const int64_t Hp = g.H + 2 * g.ph, Wp = g.W + 2 * g.pw, HWp = Hp * Wp;
  const int64_t CKK = g.CKK(), O = g.O, L = g.L(), img = g.C * g.H * g.W, wsize = O * CKK;
  const int64_t Np = g.Ho * Wp;
  const int64_t xpad_size = g.C * HWp + g.kw + 16;
  std::vector<int64_t> rowoff(static_cast<size_t>(CKK));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) rowoff[(c * g.kh + ki) * g.kw + kj] = c * HWp + ki * Wp + kj;
  const int threads = omp_get_max_threads();
  const bool over_images = threads > 1 && (g.N >= 2 * threads || (g.N >= threads && g.N % threads == 0));
  const int nw = over_images ? threads : 1;
  const int64_t per_worker = xpad_size + O * Np + wsize;
  Workspace<float> ws(nw * per_worker);
  for (int t = 0; t < nw; ++t) std::fill(ws.ptr + t * per_worker + xpad_size + O * Np, ws.ptr + (t + 1) * per_worker, 0.f);

  auto one_image = [&](int64_t n, int tid, bool par) {
    float* xpad = ws.ptr + tid * per_worker;
    float* dyw = xpad + xpad_size;
    float* acc = dyw + O * Np;
    const float* xn = x + n * img;
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
#pragma omp parallel for schedule(static) if (par)
    for (int64_t o = 0; o < O; ++o) {
      const float* src = dy + (n * O + o) * L;
      float* dst = dyw + o * Np;
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        std::memcpy(dst + oh * Wp, src + oh * g.Wo, static_cast<size_t>(g.Wo) * sizeof(float));
        std::fill(dst + oh * Wp + g.Wo, dst + (oh + 1) * Wp, 0.f);
      }
    }
    // acc[O, CKK] += dyw[O, Np] @ windows^T[Np, CKK]
    sgemm_fused(false, O, CKK, Np, dyw, Np, [&](int64_t c0) { return PackShiftedT{xpad, rowoff.data(), c0}; }, true,
                acc, CKK, par);
  };

  if (over_images) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < g.N; ++n) one_image(n, omp_get_thread_num(), false);
  } else {
    for (int64_t n = 0; n < g.N; ++n) one_image(n, 0, true);
  }
  // dw = sum of the workers' accumulators
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < wsize; ++i) {
    float sum = 0.f;
    for (int t = 0; t < nw; ++t) sum += ws.ptr[t * per_worker + xpad_size + O * Np + i];
    dw[i] = sum;
  }
}
#endif  // DRIFT_HAVE_AVX512_SGEMM

// y [N, O, Ho, Wo] = conv(x [N, C, H, W], w [O, C, kh, kw]) (+ bias).
template <class T>
void conv_forward_impl(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g) {
#if defined(DRIFT_HAVE_AVX512_SGEMM)
  if constexpr (std::is_same_v<T, float>) {
    if (use_shifted_forward(g)) return conv_forward_shifted(x, w, bias, y, g);
  }
#endif
  const int64_t L = g.L(), CKK = g.CKK(), O = g.O, img = g.C * g.H * g.W;
  const Plan plan = make_plan(g);
  const bool direct_cols = g.pointwise();  // cols[n] = x[n]
  // (Packing im2col straight into the GEMM's B panels measured slower here
  // than one im2col pass followed by contiguous packing, so forward keeps it.)
  const int64_t cols_size = CKK * plan.chunk * L;
  const int64_t tmp_size = plan.chunk > 1 ? O * plan.chunk * L : 0;
  Workspace<T> ws(workers(plan) * (cols_size + tmp_size));

  for_each_chunk(g, plan, [&](int64_t n0, int64_t cnt, int tid, bool par) {
    T* cols = ws.ptr + tid * (cols_size + tmp_size);
    T* tmp = cols + cols_size;
    // y[n0 .. n0+cnt) as [O, cnt*L] = W[O, CKK] @ cols[CKK, cnt*L]
    T* out = cnt == 1 ? y + n0 * O * L : tmp;
    if (direct_cols && cnt == 1) {
      conv_gemm<T>(false, false, O, L, CKK, w, CKK, x + n0 * img, L, false, out, L, par);
    } else {
      im2col_chunk(x, g, n0, cnt, cols, par);
      conv_gemm<T>(false, false, O, cnt * L, CKK, w, CKK, cols, cnt * L, false, out, cnt * L, par);
    }
    // Scatter [O, cnt, L] -> y[n0 + j, O, L] and add the bias.
#pragma omp parallel for schedule(static) collapse(2) if (par)
    for (int64_t j = 0; j < cnt; ++j) {
      for (int64_t o = 0; o < O; ++o) {
        T* yr = y + ((n0 + j) * O + o) * L;
        if (cnt > 1) std::memcpy(yr, tmp + o * cnt * L + j * L, static_cast<size_t>(L) * sizeof(T));
        if (bias) {
          const T b = bias[o];
          for (int64_t l = 0; l < L; ++l) yr[l] += b;
        }
      }
    }
  });
}

template <class T>
void conv2d_forward(const KernelArgs& args) {
  const Tensor& xt = *args.in[0];
  const Tensor& wt = *args.in[1];
  Tensor& yt = *args.out[0];
  const ConvGeom g = make_geom(xt, wt, yt, args.p<Conv2dParams>());
  conv_forward_impl<T>(xt.data<T>(), wt.data<T>(), args.in[2] ? args.in[2]->data<T>() : nullptr, yt.data<T>(), g);
}

// ----------------------------------------------------------- backward input
template <class T>
void conv2d_backward_input(const KernelArgs& args) {
  const Tensor& dyt = *args.in[0];
  const Tensor& wt = *args.in[1];
  Tensor& dxt = *args.out[0];
  const ConvGeom g = make_geom(dxt, wt, dyt, args.p<Conv2dParams>());
  const T* dy = dyt.data<T>();
  const T* w = wt.data<T>();
  T* dx = dxt.data<T>();
  const int64_t L = g.L(), CKK = g.CKK(), O = g.O, img = g.C * g.H * g.W;
#if defined(DRIFT_HAVE_AVX512_SGEMM)
  // Stride 1: dx is the forward convolution of dy with the flipped, transposed
  // kernel W'[c, o, a, b] = W[o, c, kh-1-a, kw-1-b] and padding k-1-p
  // (the adjoint of a stride-1 correlation), which runs the fused forward path.
  if (std::is_same_v<T, float> && g.sh == 1 && g.sw == 1 && g.ph <= g.kh - 1 && g.pw <= g.kw - 1) {
    Workspace<T> wflip(g.O * CKK);
    const int64_t kk = g.kh * g.kw;
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t a = 0; a < g.kh; ++a)
          for (int64_t b = 0; b < g.kw; ++b)
            wflip.ptr[(c * g.O + o) * kk + a * g.kw + b] = w[(o * g.C + c) * kk + (g.kh - 1 - a) * g.kw + (g.kw - 1 - b)];
    const ConvGeom flipped{g.N, g.O, g.Ho, g.Wo, g.C, g.kh, g.kw, g.H, g.W, 1, 1, g.kh - 1 - g.ph, g.kw - 1 - g.pw};
    conv_forward_impl<T>(dy, wflip.ptr, nullptr, dx, flipped);
    return;
  }
#endif
  const Plan plan = make_plan(g);
  const bool pointwise = g.pointwise();
  const int64_t cols_size = CKK * plan.chunk * L, tmp_size = plan.chunk > 1 ? O * plan.chunk * L : 0;
  Workspace<T> ws(workers(plan) * (cols_size + tmp_size));

  for_each_chunk(g, plan, [&](int64_t n0, int64_t cnt, int tid, bool par) {
    T* cols = ws.ptr + tid * (cols_size + tmp_size);
    T* tmp = cols + cols_size;
    // dy chunk as [O, cnt*L]
    const T* A = dy + n0 * O * L;
    if (cnt > 1) {
#pragma omp parallel for schedule(static) collapse(2) if (par)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t j = 0; j < cnt; ++j)
          std::memcpy(tmp + o * cnt * L + j * L, dy + ((n0 + j) * O + o) * L, static_cast<size_t>(L) * sizeof(T));
      A = tmp;
    }
    if (pointwise && cnt == 1) {  // dx[n] = W^T[C, O] @ dy[n][O, L]
      conv_gemm<T>(true, false, CKK, L, O, w, CKK, A, L, false, dx + n0 * img, L, par);
      return;
    }
    // cols[CKK, cnt*L] = W^T @ dy_chunk, then scatter-add back to the images.
    conv_gemm<T>(true, false, CKK, cnt * L, O, w, CKK, A, cnt * L, false, cols, cnt * L, par);
#pragma omp parallel for schedule(static) collapse(2) if (par)
    for (int64_t j = 0; j < cnt; ++j) {
      for (int64_t c = 0; c < g.C; ++c) {
        T* dxn = dx + (n0 + j) * img;
        std::fill(dxn + c * g.H * g.W, dxn + (c + 1) * g.H * g.W, T(0));
        col2im_channels(cols + j * L, g, cnt * L, dxn, c, c + 1);
      }
    }
  });
}

// ---------------------------------------------------------- backward weight
template <class T>
void conv2d_backward_weight(const KernelArgs& args) {
  const Tensor& dyt = *args.in[0];
  const Tensor& xt = *args.in[1];
  Tensor& dwt = *args.out[0];
  const ConvGeom g = make_geom(xt, dwt, dyt, args.p<Conv2dParams>());
  const T* dy = dyt.data<T>();
  const T* x = xt.data<T>();
  T* dw = dwt.data<T>();
#if defined(DRIFT_HAVE_AVX512_SGEMM)
  if constexpr (std::is_same_v<T, float>) {
    if (use_shifted_forward(g)) return conv_backward_weight_shifted(dy, x, dw, g);
  }
#endif
  const int64_t L = g.L(), CKK = g.CKK(), O = g.O, img = g.C * g.H * g.W;
  const int64_t wsize = O * CKK;
  const Plan plan = make_plan(g);
  const bool direct_cols = g.pointwise();
  const int nw = workers(plan);
#if defined(DRIFT_HAVE_AVX512_SGEMM)
  // im2col^T inside the GEMM's packing, except where the vectorised
  // im2col_chunk (small stride-1 images) plus a transposing pack is faster.
  const bool fused = std::is_same_v<T, float> && !(g.sw == 1 && g.Wo <= 16);
#else
  const bool fused = false;
#endif
  const int64_t cols_size = fused ? 0 : CKK * plan.chunk * L;
  const int64_t tmp_size = plan.chunk > 1 ? O * plan.chunk * L : 0;
  // Per-worker accumulators (worker 0 writes dw itself), summed at the end.
  const int64_t acc_size = wsize;
  const int64_t per_worker = cols_size + tmp_size + acc_size;
  Workspace<T> ws(nw * per_worker);
  std::vector<char> used(static_cast<size_t>(nw), 0);
  std::fill(dw, dw + wsize, T(0));

  for_each_chunk(g, plan, [&](int64_t n0, int64_t cnt, int tid, bool par) {
    T* cols = ws.ptr + tid * per_worker;
    T* tmp = cols + cols_size;
    T* acc = tid == 0 ? dw : tmp + tmp_size;
    if (!used[tid]) {
      if (tid != 0) std::fill(acc, acc + wsize, T(0));
      used[tid] = 1;
    }
    const T* A = dy + n0 * O * L;
    if (cnt > 1) {
#pragma omp parallel for schedule(static) collapse(2) if (par)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t j = 0; j < cnt; ++j)
          std::memcpy(tmp + o * cnt * L + j * L, dy + ((n0 + j) * O + o) * L, static_cast<size_t>(L) * sizeof(T));
      A = tmp;
    }
    // acc[O, CKK] += dy_chunk[O, cnt*L] @ cols^T[cnt*L, CKK]
    if (direct_cols && cnt == 1) {
      conv_gemm<T>(false, true, O, CKK, L, A, L, x + n0 * img, L, true, acc, CKK, par);
    } else if (fused) {
#if defined(DRIFT_HAVE_AVX512_SGEMM)
      if constexpr (std::is_same_v<T, float>) {
        const float* xc = x + n0 * img;
        sgemm_fused(false, O, CKK, cnt * L, A, cnt * L, [&](int64_t c0) { return PackIm2colT{xc, &g, img, c0}; }, true,
                    acc, CKK, par);
      }
#endif
    } else {
      im2col_chunk(x, g, n0, cnt, cols, par);
      conv_gemm<T>(false, true, O, CKK, cnt * L, A, cnt * L, cols, cnt * L, true, acc, CKK, par);
    }
  });

  // dw += the other workers' accumulators.
  for (int t = 1; t < nw; ++t) {
    if (!used[t]) continue;
    const T* acc = ws.ptr + t * per_worker + cols_size + tmp_size;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < wsize; ++i) dw[i] += acc[i];
  }
}

template <template <class> class K>
void by_dtype(const KernelArgs& args, const char* what) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: return K<float>::run(args);
    case DType::Float64: return K<double>::run(args);
    default: throw Error(str(what, ": expected float32 or float64, got ", dtype_name(args.out[0]->dtype())));
  }
}
template <class T> struct Fwd { static void run(const KernelArgs& a) { conv2d_forward<T>(a); } };
template <class T> struct BwdIn { static void run(const KernelArgs& a) { conv2d_backward_input<T>(a); } };
template <class T> struct BwdW { static void run(const KernelArgs& a) { conv2d_backward_weight<T>(a); } };

void conv2d(const KernelArgs& a) { by_dtype<Fwd>(a, "conv2d"); }
void conv2d_bwd_input(const KernelArgs& a) { by_dtype<BwdIn>(a, "conv2d_backward_input"); }
void conv2d_bwd_weight(const KernelArgs& a) { by_dtype<BwdW>(a, "conv2d_backward_weight"); }

}  // namespace

void register_conv_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Conv2d)] = conv2d;
  b.kernels[static_cast<int>(OpKind::Conv2dBackwardInput)] = conv2d_bwd_input;
  b.kernels[static_cast<int>(OpKind::Conv2dBackwardWeight)] = conv2d_bwd_weight;
}

}  // namespace drift::cpu
