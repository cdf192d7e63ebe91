#pragma once
// drift's single-precision GEMM, written once for any vector width.
//
// Included ONLY by the ISA-specific files tensor/cpu/avx2/*.cpp (Vec = 8 x
// float, AVX2+FMA) and tensor/cpu/avx512/*.cpp (Vec = 16 x float, AVX-512F);
// everything here lives in the namespace drift::cpu::DRIFT_ISA_NS (avx2 or
// avx512, set by CMake per directory), so the two copies never meet at link
// time. No standard-library container is used here for the same reason.
//
// A GotoBLAS/BLIS-style GEMM (Goto & van de Geijn, "Anatomy of high-performance
// matrix multiplication", TOMS 2008):
//   pack all of op(A) into MR-row panels ([kc][MR] per KC-deep slice);
//   for each NC-wide column block and each KC-deep slice:
//     pack op(B)[kc, nc] into NR-wide strips ([kc][NR], zero-padded),
//     for each A panel, for each B strip: an MR x NR register tile.
// Tiles: AVX-512 8 x 48 (24 zmm accumulators + 3 B loads + 1 broadcast of 32
// registers), AVX2 6 x 16 (12 ymm accumulators + 2 B + 1 broadcast of 16).
//
// Every element of C is one sum over k in a fixed order (KC slices one after
// another, each summed from zero and then added to C), whatever the block,
// strip or thread it falls in: splitting the work over output blocks gives
// the same bits on any thread count.
//
// op(B) is produced by a packing functor, so a convolution can pack its
// im2col matrix straight from the image without materialising it:
//   pack_b(k0, kc, n0, nc, dst)  writes op(B)[k0 .. k0+kc, n0 .. n0+nc) as
//   ceil(nc / NR) strips dst[s][k][j] = op(B)[k0 + k, n0 + s*NR + j] (s-th
//   strip at dst + s*kc*NR), columns past nc set to 0. A packer may write
//   up to 16 floats past the end of the block (the buffer has slack).
#if !defined(__AVX2__) || !defined(__FMA__)
#error "gemm_kernel.h is for the AVX2 / AVX-512 kernel files only"
#endif
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "tensor/cpu/isa.h"

namespace drift::cpu::DRIFT_ISA_NS {

#if defined(__AVX512F__)
struct Vec {
  using R = __m512;
  static constexpr int64_t W = 16;
  static R zero() { return _mm512_setzero_ps(); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static R set1(float x) { return _mm512_set1_ps(x); }
  static R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
};
constexpr int64_t MR = 8, NV = 3;
#else
struct Vec {
  using R = __m256;
  static constexpr int64_t W = 8;
  static R zero() { return _mm256_setzero_ps(); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static R set1(float x) { return _mm256_set1_ps(x); }
  static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
};
constexpr int64_t MR = 6, NV = 2;
#endif
constexpr int64_t NR = NV * Vec::W;     // 48 or 16 columns per strip
constexpr int64_t KC = 256, NC = 384;   // B block kc x nc = 384 KiB stays in L2

// dst[j * ldd + i] = src[i * lds + j] for an 8 x 8 block (AVX, both levels).
inline void transpose8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r0 = _mm256_loadu_ps(src + 0 * lds), r1 = _mm256_loadu_ps(src + 1 * lds);
  __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
  __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
  __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}

// Packs rows [i0, i0+mr) x cols [k0, k0+kc) of op(A) as [kc][MR] (rows >= mr zero).
inline void pack_a_panel(const float* A, int64_t lda, bool trans, int64_t i0, int64_t mr, int64_t k0, int64_t kc,
                         float* dst) {
  if (trans) {  // op(A)[i, k] = A[k, i]: mr contiguous floats per k
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = A + (k0 + k) * lda + i0;
      for (int64_t i = 0; i < MR; ++i) dst[k * MR + i] = i < mr ? src[i] : 0.f;
    }
    return;
  }
  int64_t k = 0;
  if (MR == 8 && mr == MR) {  // rows of A are contiguous in k: transpose 8 x 8 blocks
    for (; k + 8 <= kc; k += 8) transpose8x8(A + i0 * lda + k0 + k, lda, dst + k * MR, MR);
  }
  for (int64_t i = 0; i < MR; ++i) {
    const float* src = A + (i0 + i) * lda + k0;
    for (int64_t kk = k; kk < kc; ++kk) dst[kk * MR + i] = i < mr ? src[kk] : 0.f;
  }
}

// Copies one NR-wide row of a strip: nr valid floats from src, the rest 0.
inline void copy_strip_row(const float* src, int64_t nr, float* dst) {
  if (nr == NR) {
    for (int64_t v = 0; v < NV; ++v) Vec::store(dst + v * Vec::W, Vec::load(src + v * Vec::W));
  } else {
    for (int64_t j = 0; j < NR; ++j) dst[j] = j < nr ? src[j] : 0.f;
  }
}

// op(B) from a row-major matrix B (trans: op(B) = B^T).
struct PackPlainB {
  const float* B;
  int64_t ldb;
  bool trans;
  void operator()(int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) const {
    for (int64_t s = 0; s * NR < nc; ++s) {
      const int64_t j0 = n0 + s * NR, nr = std::min(NR, nc - s * NR);
      float* d = dst + s * kc * NR;
      if (!trans) {  // op(B) rows are contiguous in n
        for (int64_t k = 0; k < kc; ++k) copy_strip_row(B + (k0 + k) * ldb + j0, nr, d + k * NR);
        continue;
      }
      // op(B)[k, n] = B[n, k]: transpose 8 x 8 blocks (rows n of B are contiguous in k);
      // in a partial strip the columns past the last whole 8 are copied one by one, then zeroed.
      const int64_t full = nr / 8 * 8;
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8) {
        for (int64_t jb = 0; jb < full; jb += 8) transpose8x8(B + (j0 + jb) * ldb + k0 + k, ldb, d + k * NR + jb, NR);
        if (full == NR) continue;  // a whole strip: no tail
        for (int64_t kk = k; kk < k + 8; ++kk) {
          for (int64_t j = full; j < nr; ++j) d[kk * NR + j] = B[(j0 + j) * ldb + k0 + kk];
          for (int64_t j = nr; j < NR; ++j) d[kk * NR + j] = 0.f;
        }
      }
      for (; k < kc; ++k)
        for (int64_t j = 0; j < NR; ++j) d[k * NR + j] = j < nr ? B[(j0 + j) * ldb + k0 + k] : 0.f;
    }
  }
};

// C[MR, NR] (+)= A panel [kc][MR] @ B strip [kc][NR]; NVX < NV vectors per row
// makes a narrower tile (strips of NVX * Vec::W columns).
template <int64_t NVX = NV>
inline void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                         int64_t ldc, bool accumulate) {
  typename Vec::R acc[MR][NVX];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < NVX; ++v) acc[i][v] = Vec::zero();
  for (int64_t k = 0; k < kc; ++k) {
    typename Vec::R bv[NVX];
#pragma GCC unroll 3
    for (int v = 0; v < NVX; ++v) bv[v] = Vec::load(b + v * Vec::W);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const typename Vec::R ai = Vec::set1(a[i]);
#pragma GCC unroll 3
      for (int v = 0; v < NVX; ++v) acc[i][v] = Vec::fmadd(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += NVX * Vec::W;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* cr = c + i * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < NVX; ++v) {
      typename Vec::R r = acc[i][v];
      if (accumulate) r = Vec::add(r, Vec::load(cr + v * Vec::W));
      Vec::store(cr + v * Vec::W, r);
    }
  }
}

// A growable 64-byte aligned scratch buffer (plain C allocation: no std template
// is instantiated in this ISA-specific code).
struct Scratch {
  float* ptr = nullptr;
  int64_t size = 0;
  float* get(int64_t n) {
    if (n > size) {
      std::free(ptr);
      const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
      ptr = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!ptr) throw std::bad_alloc();
      size = n;
    }
    return ptr;
  }
  ~Scratch() { std::free(ptr); }
};
// Each thread keeps its own packed-operand buffers (grown once).
inline Scratch& pack_a_buffer() {
  thread_local Scratch s;
  return s;
}
inline Scratch& pack_b_buffer() {
  thread_local Scratch s;
  return s;
}

// C[M, N] = op(A) @ op(B)  (+ C when accumulate); op(B) comes from pack_b. Single-threaded.
template <class PackB>
void sgemm(bool trans_a, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const PackB& pack_b,
           bool accumulate, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, static_cast<size_t>(N) * sizeof(float));
    return;
  }
  const int64_t panels = (M + MR - 1) / MR, m_pad = panels * MR;
  float* ap = pack_a_buffer().get(m_pad * K);
  float* bp = pack_b_buffer().get(KC * ((NC + NR - 1) / NR) * NR + 16);  // slack: packers may store 16 lanes past

  // All of op(A), once: slice pc (depth kc) starts at pc * m_pad, panel p at p * MR * kc.
  for (int64_t pc = 0; pc < K; pc += KC) {
    const int64_t kc = std::min(KC, K - pc);
    for (int64_t p = 0; p < panels; ++p)
      pack_a_panel(A, lda, trans_a, p * MR, std::min(MR, M - p * MR), pc, kc, ap + pc * m_pad + p * MR * kc);
  }

  alignas(64) float edge[MR * NR];
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const bool acc = accumulate || pc > 0;
      pack_b(pc, kc, jc, nc, bp);
      for (int64_t p = 0; p < panels; ++p) {
        const float* a_panel = ap + pc * m_pad + p * MR * kc;
        const int64_t i0 = p * MR, mr = std::min(MR, M - i0);
        for (int64_t s = 0; s * NR < nc; ++s) {
          const int64_t j0 = jc + s * NR, nr = std::min(NR, nc - s * NR);
          float* c = C + i0 * ldc + j0;
          if (mr == MR && nr == NR) {
            micro_kernel(kc, a_panel, bp + s * kc * NR, c, ldc, acc);
          } else {  // partial tile: compute into `edge`, then add the valid part
            micro_kernel(kc, a_panel, bp + s * kc * NR, edge, NR, false);
            for (int64_t i = 0; i < mr; ++i)
              for (int64_t j = 0; j < nr; ++j) c[i * ldc + j] = (acc ? c[i * ldc + j] : 0.f) + edge[i * NR + j];
          }
        }
      }
    }
  }
}

// The same over the OpenMP threads (when `parallel` and outside a parallel
// region), split over OUTPUT blocks only: whole NR-column strips of C, or
// whole MR-row panels when there are fewer strips than threads. Never over k,
// so the bits do not depend on the thread count. make_packer(j0) returns the
// packer of op(B)'s columns from j0 on.
template <class MakePacker>
void sgemm_parallel(bool trans_a, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                    const MakePacker& make_packer, bool accumulate, float* C, int64_t ldc, bool parallel) {
  const int nt = parallel && !omp_in_parallel() ? omp_get_max_threads() : 1;
  const int64_t strips = (N + NR - 1) / NR, panels = (M + MR - 1) / MR;
  if (nt <= 1 || (strips < 2 && panels < 2)) {
    sgemm(trans_a, M, N, K, A, lda, make_packer(0), accumulate, C, ldc);
    return;
  }
  const bool by_columns = strips >= nt || strips >= panels;
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), n_threads = omp_get_num_threads();
    if (by_columns) {
      const int64_t per = (strips + n_threads - 1) / n_threads * NR;
      const int64_t j0 = std::min(N, t * per), j1 = std::min(N, j0 + per);
      if (j1 > j0) sgemm(trans_a, M, j1 - j0, K, A, lda, make_packer(j0), accumulate, C + j0, ldc);
    } else {
      const int64_t per = (panels + n_threads - 1) / n_threads * MR;
      const int64_t i0 = std::min(M, t * per), i1 = std::min(M, i0 + per);
      const float* Ai = trans_a ? A + i0 : A + i0 * lda;
      if (i1 > i0) sgemm(trans_a, i1 - i0, N, K, Ai, lda, make_packer(0), accumulate, C + i0 * ldc, ldc);
    }
  }
}

}  // namespace drift::cpu::DRIFT_ISA_NS
