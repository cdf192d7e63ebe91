#pragma once
// A single-precision GEMM with AVX-512, used by the convolution kernels.
//
// Why: the environment pins OpenBLAS to its Haswell (AVX2) kernels
// (OPENBLAS_CORETYPE=Haswell, see ../shared/bench/README.md), which caps
// sgemm at half the fp32 peak of a core with full-width AVX-512. This is a
// small GotoBLAS/BLIS-style GEMM (Goto & van de Geijn, "Anatomy of
// high-performance matrix multiplication", TOMS 2008):
//   pack all of op(A) into MR-row panels ([kc][MR] per KC-deep slice);
//   for each NC-wide column block and each KC-deep slice:
//     pack op(B)[kc, nc] into NR-wide strips ([kc][NR], zero-padded),
//     for each A panel, for each B strip: an MR x NR register tile.
// The tile is 8 x 48: 24 zmm accumulators, 3 loads of B and 8 broadcasts
// of A per k step. Single-threaded; callers parallelise.
//
// op(B) is produced by a packing functor, so a convolution can pack its
// im2col matrix straight from the image without materialising it:
//   pack_b(k0, kc, n0, nc, dst)  writes op(B)[k0 .. k0+kc, n0 .. n0+nc) as
//   ceil(nc / NR) strips dst[s][k][j] = op(B)[k0 + k, n0 + s*NR + j] (s-th
//   strip at dst + s*kc*NR), columns past nc set to 0. A packer may write
//   up to 16 floats past the end of the block (the buffer has slack).
// Only compiled when the compiler targets AVX-512 (-march=native on such a
// machine); check DRIFT_HAVE_AVX512_SGEMM.
#if defined(__AVX512F__)
#define DRIFT_HAVE_AVX512_SGEMM 1

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace drift::cpu::avx512 {

constexpr int64_t MR = 8, NR = 48;
constexpr int64_t KC = 256, NC = 384;  // B block kc x nc = 384 KiB stays in L2

// dst[j * ldd + i] = src[i * lds + j] for an 8 x 8 block.
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
  if (mr == MR && trans) {  // op(A)[i, k] = A[k, i]: 8 contiguous floats per k
    for (int64_t k = 0; k < kc; ++k) _mm256_storeu_ps(dst + k * MR, _mm256_loadu_ps(A + (k0 + k) * lda + i0));
    return;
  }
  int64_t k = 0;
  if (mr == MR) {  // rows of A are contiguous in k: transpose 8 x 8 blocks
    for (; k + 8 <= kc; k += 8) transpose8x8(A + i0 * lda + k0 + k, lda, dst + k * MR, MR);
  }
  for (; k < kc; ++k)
    for (int64_t i = 0; i < MR; ++i) {
      const int64_t r = i0 + i, kk = k0 + k;
      dst[k * MR + i] = i < mr ? (trans ? A[kk * lda + r] : A[r * lda + kk]) : 0.f;
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
        for (int64_t k = 0; k < kc; ++k) {
          const float* src = B + (k0 + k) * ldb + j0;
          float* dk = d + k * NR;
          if (nr == NR) {
            _mm512_storeu_ps(dk, _mm512_loadu_ps(src));
            _mm512_storeu_ps(dk + 16, _mm512_loadu_ps(src + 16));
            _mm512_storeu_ps(dk + 32, _mm512_loadu_ps(src + 32));
          } else {
            for (int64_t j = 0; j < NR; ++j) dk[j] = j < nr ? src[j] : 0.f;
          }
        }
        continue;
      }
      // op(B)[k, n] = B[n, k]: transpose 8 x 8 blocks (rows n of B are contiguous in k).
      int64_t k = 0;
      if (nr == NR) {
        for (; k + 8 <= kc; k += 8)
          for (int64_t jb = 0; jb < NR; jb += 8) transpose8x8(B + (j0 + jb) * ldb + k0 + k, ldb, d + k * NR + jb, NR);
      }
      for (; k < kc; ++k)
        for (int64_t j = 0; j < NR; ++j) d[k * NR + j] = j < nr ? B[(j0 + j) * ldb + k0 + k] : 0.f;
    }
  }
};

// C[8, 48] (+)= A panel [kc][8] @ B strip [kc][48].
inline void micro_8x48(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                       int64_t ldc, bool accumulate) {
  __m512 c0[MR], c1[MR], c2[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = c2[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
      c2[i] = _mm512_fmadd_ps(ai, b2, c2[i]);
    }
    a += MR;
    b += NR;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* cr = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(cr));
      c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(cr + 16));
      c2[i] = _mm512_add_ps(c2[i], _mm512_loadu_ps(cr + 32));
    }
    _mm512_storeu_ps(cr, c0[i]);
    _mm512_storeu_ps(cr + 16, c1[i]);
    _mm512_storeu_ps(cr + 32, c2[i]);
  }
}

// Scratch for the packed operands; each thread keeps its own (grown once).
struct PackBuffers {
  std::vector<float> a, b;
};
inline PackBuffers& pack_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// C[M, N] = op(A) @ op(B)  (+ C when accumulate); op(B) comes from pack_b.
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
  PackBuffers& buf = pack_buffers();
  if (static_cast<int64_t>(buf.a.size()) < m_pad * K) buf.a.resize(static_cast<size_t>(m_pad * K));
  const int64_t b_size = KC * ((NC + NR - 1) / NR) * NR + 16;  // slack: packers may store 16 lanes past a row
  if (static_cast<int64_t>(buf.b.size()) < b_size) buf.b.resize(static_cast<size_t>(b_size));
  float* ap = buf.a.data();
  float* bp = buf.b.data();

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
            micro_8x48(kc, a_panel, bp + s * kc * NR, c, ldc, acc);
          } else {  // partial tile: compute into `edge`, then add the valid part
            micro_8x48(kc, a_panel, bp + s * kc * NR, edge, NR, false);
            for (int64_t i = 0; i < mr; ++i)
              for (int64_t j = 0; j < nr; ++j) c[i * ldc + j] = (acc ? c[i * ldc + j] : 0.f) + edge[i * NR + j];
          }
        }
      }
    }
  }
}

}  // namespace drift::cpu::avx512

#endif  // __AVX512F__
