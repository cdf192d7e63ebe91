#pragma once
// 2-D convolution through GEMM (im2col / col2im), shared by the portable
// kernels (tensor/cpu/conv.cpp, any dtype, OpenBLAS) and the float32 kernels
// of each ISA level (tensor/cpu/conv_fast.h, drift's GEMM).
//
// Shapes (all contiguous): x [N, C, H, W], w [O, C, kh, kw], y [N, O, Ho, Wo],
//   Ho = (H + 2 ph - kh) / sh + 1,  Wo = (W + 2 pw - kw) / sw + 1.
// With cols[n] = im2col(x[n]) of shape [C*kh*kw, Ho*Wo]:
//   forward          y[n]  = W[O, CKK] @ cols[n]                 (+ bias[o])
//   backward input   dx[n] = col2im(W^T[CKK, O] @ dy[n][O, L])
//   backward weight  dW    = sum_n dy[n][O, L] @ cols[n]^T[L, CKK]
// A 1x1 stride-1 unpadded convolution has cols[n] = x[n]: a plain GEMM.
//
// Work is split into chunks of images; a chunk's columns are side by side
// in one buffer ([CKK, cnt*L]) so that small images still make wide GEMMs.
// Forward and input gradient: with enough images every thread takes whole
// chunks (single-threaded GEMM); otherwise chunks run one after another with a
// threaded GEMM. The weight gradient sums over images, so its chunks always run
// one after another, in image order, with the GEMM split over blocks of dW:
// the same bits on any thread count.
//
// A GEMM functor is called as
//   gemm(trans_a, trans_b, M, N, K, A, lda, B, ldb, accumulate, C, ldc, parallel)
// for C[M, N] = op(A) @ op(B) (+ C), split over the threads when `parallel`.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tensor/allocator.h"
#include "tensor/cpu/isa.h"

namespace drift::cpu {

struct ConvGeom {
  int64_t N, C, H, W, O, kh, kw, Ho, Wo, sh, sw, ph, pw;
  int64_t L() const { return Ho * Wo; }        // output pixels per image
  int64_t CKK() const { return C * kh * kw; }  // GEMM inner dim
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

namespace DRIFT_ISA_NS {

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

// im2col of images [n0, n0+cnt) side by side into cols [CKK, cnt*L].
template <class T>
void im2col_chunk_plain(const T* x, const ConvGeom& g, int64_t n0, int64_t cnt, T* cols, bool parallel) {
  const int64_t L = g.L(), ldc = cnt * L, CKK = g.CKK(), img = g.C * g.H * g.W;
#pragma omp parallel for schedule(static) collapse(2) if (parallel)
  for (int64_t j = 0; j < cnt; ++j)
    for (int64_t r = 0; r < CKK; ++r) im2col_rows(x + (n0 + j) * img, g, cols + j * L, ldc, r, r + 1);
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

// How images are grouped: `chunk` images per chunk, and whether whole chunks
// run on separate threads (single-threaded GEMM) or one after another.
struct Plan {
  int64_t chunk;
  int64_t num_chunks;
  bool threads_over_chunks;
};

// Aim for GEMMs with at least this many columns (output pixels).
constexpr int64_t kTargetCols = 768;

// Whether there are enough images for each thread to take whole images.
inline bool enough_images(int64_t N, int threads) {
  return threads > 1 && (N >= 2 * threads || (N >= threads && N % threads == 0));
}

// sum_over_images: the chunks are added into one result (weight gradient), so
// they depend on the image count only and run one after another.
inline Plan make_plan(const ConvGeom& g, bool sum_over_images) {
  const int64_t threads = omp_get_max_threads();
  Plan p;
  p.chunk = std::clamp<int64_t>((kTargetCols + g.L() - 1) / g.L(), 1, std::max<int64_t>(g.N, 1));
  p.threads_over_chunks = !sum_over_images && enough_images(g.N, static_cast<int>(threads));
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

// Runs body(n0, cnt, tid, parallel_inside) over all chunks.
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

inline int workers(const Plan& plan) { return plan.threads_over_chunks ? omp_get_max_threads() : 1; }

// dst[o, j*L + l] = dy[n0 + j, o, l]: a chunk of dy as one [O, cnt*L] matrix.
template <class T>
void gather_chunk(const T* dy, const ConvGeom& g, int64_t n0, int64_t cnt, T* dst, bool par) {
  const int64_t L = g.L(), O = g.O;
#pragma omp parallel for schedule(static) collapse(2) if (par)
  for (int64_t o = 0; o < O; ++o)
    for (int64_t j = 0; j < cnt; ++j)
      std::memcpy(dst + o * cnt * L + j * L, dy + ((n0 + j) * O + o) * L, static_cast<size_t>(L) * sizeof(T));
}

// y = conv(x, w) (+ bias) through im2col (im2col_chunk(x, g, n0, cnt, cols, par)) and `gemm`.
template <class T, class Gemm, class Im2col>
void conv_forward_im2col(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g, const Gemm& gemm,
                         const Im2col& im2col_chunk) {
  const int64_t L = g.L(), CKK = g.CKK(), O = g.O, img = g.C * g.H * g.W;
  const Plan plan = make_plan(g, false);
  const bool direct_cols = g.pointwise();  // cols[n] = x[n]
  const int64_t cols_size = CKK * plan.chunk * L;
  const int64_t tmp_size = plan.chunk > 1 ? O * plan.chunk * L : 0;
  Workspace<T> ws(workers(plan) * (cols_size + tmp_size));

  for_each_chunk(g, plan, [&](int64_t n0, int64_t cnt, int tid, bool par) {
    T* cols = ws.ptr + tid * (cols_size + tmp_size);
    T* tmp = cols + cols_size;
    // y[n0 .. n0+cnt) as [O, cnt*L] = W[O, CKK] @ cols[CKK, cnt*L]
    T* out = cnt == 1 ? y + n0 * O * L : tmp;
    if (direct_cols && cnt == 1) {
      gemm(false, false, O, L, CKK, w, CKK, x + n0 * img, L, false, out, L, par);
    } else {
      im2col_chunk(x, g, n0, cnt, cols, par);
      gemm(false, false, O, cnt * L, CKK, w, CKK, cols, cnt * L, false, out, cnt * L, par);
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

// dx = col2im(W^T @ dy) with `gemm`.
template <class T, class Gemm>
void conv_backward_input_col2im(const T* dy, const T* w, T* dx, const ConvGeom& g, const Gemm& gemm) {
  const int64_t L = g.L(), CKK = g.CKK(), O = g.O, img = g.C * g.H * g.W;
  const Plan plan = make_plan(g, false);
  const bool pointwise = g.pointwise();
  const int64_t cols_size = CKK * plan.chunk * L, tmp_size = plan.chunk > 1 ? O * plan.chunk * L : 0;
  Workspace<T> ws(workers(plan) * (cols_size + tmp_size));

  for_each_chunk(g, plan, [&](int64_t n0, int64_t cnt, int tid, bool par) {
    T* cols = ws.ptr + tid * (cols_size + tmp_size);
    T* tmp = cols + cols_size;
    const T* A = dy + n0 * O * L;  // dy chunk as [O, cnt*L]
    if (cnt > 1) {
      gather_chunk(dy, g, n0, cnt, tmp, par);
      A = tmp;
    }
    if (pointwise && cnt == 1) {  // dx[n] = W^T[C, O] @ dy[n][O, L]
      gemm(true, false, CKK, L, O, w, CKK, A, L, false, dx + n0 * img, L, par);
      return;
    }
    // cols[CKK, cnt*L] = W^T @ dy_chunk, then scatter-add back to the images.
    gemm(true, false, CKK, cnt * L, O, w, CKK, A, cnt * L, false, cols, cnt * L, par);
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

// dW = sum over chunks, in image order, of dy_chunk[O, cnt*L] @ cols^T[cnt*L, CKK].
// acc_product(n0, cnt, A, dw) adds A @ cols(n0, cnt)^T into dw (threaded over dW's blocks).
template <class T, class AccProduct>
void conv_backward_weight_chunks(const T* dy, T* dw, const ConvGeom& g, const AccProduct& acc_product) {
  const Plan plan = make_plan(g, true);
  const int64_t tmp_size = plan.chunk > 1 ? g.O * plan.chunk * g.L() : 0;
  Workspace<T> ws(tmp_size);
  std::fill(dw, dw + g.O * g.CKK(), T(0));
  for_each_chunk(g, plan, [&](int64_t n0, int64_t cnt, int, bool par) {
    const T* A = dy + n0 * g.O * g.L();
    if (cnt > 1) {
      gather_chunk(dy, g, n0, cnt, ws.ptr, par);
      A = ws.ptr;
    }
    acc_product(n0, cnt, A, dw);
  });
}

}  // namespace DRIFT_ISA_NS
}  // namespace drift::cpu
