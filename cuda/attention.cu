// Fused attention (AttentionParams, tensor/op.h), in two variants (cuda/variant.h):
//   in = {q [G, d, Nq], k [G, d, Nk], v [G, dv, Nk]} (each [d, N] matrix
//   contiguous, batch strides s_q, s_k, s_v), out = {o [G, dv, Nq]} contiguous
//   o[:, i] = sum_j P_ij v[:, j],  P_i. = softmax_j(scale q[:, i] . k[:, j])
//
// Fast (float32, d <= 128, dv <= 128): flash-attention style (Dao et al. 2022,
// algorithm 1; the online softmax of Milakov & Gimelshein 2018). A block of
// 4 warps takes 16 queries of one problem g; it streams over the keys in
// tiles of 32 (K and V tiles in shared memory), and each warp keeps, for each
// of its 4 queries, the running max m, the running sum l and the output
// accumulator (lane c holds channels c, c + 32, ...):
//   s_j = scale q . k_j              (lane j of the warp: key j of the tile)
//   m' = max(m, max_j s_j);  p_j = exp(s_j - m');  c = exp(m - m')
//   l  = c l + sum_j p_j;    acc = c acc + sum_j p_j v_j;   m = m'
//   o  = acc / l             (after the last tile)
// The [Nq, Nk] scores never leave the registers: one pass, no global scratch.
// Naive (and float64, larger d): one thread per query, three passes over the
// keys (max, sum, weighted sum), the reference of the fast one.
#include <type_traits>

#include "cuda/block_reduce.cuh"
#include "cuda/variant.h"

namespace drift::cuda {
namespace {

// ---- naive: one thread per (g, i) ------------------------------------------------------
template <class T>
__device__ T score(const T* q, const T* k, int64_t d, int64_t nq, int64_t nk, int64_t i, int64_t j, T scale) {
  T dot = T(0);
  for (int64_t e = 0; e < d; ++e) dot += q[e * nq + i] * k[e * nk + j];
  return scale * dot;
}

template <class T>
__global__ void attention_naive(const T* q, const T* k, const T* v, T* o, AttentionParams p) {
  DRIFT_CUDA_KERNEL_LOOP(row, p.g * p.nq) {
    const int64_t g = row / p.nq, i = row % p.nq;
    const T* qg = q + g * p.s_q;
    const T* kg = k + g * p.s_k;
    const T* vg = v + g * p.s_v;
    T* og = o + g * p.dv * p.nq;
    const T scale = static_cast<T>(p.scale);
    T m = -INFINITY;
    for (int64_t j = 0; j < p.nk; ++j) {
      const T s = score(qg, kg, p.d, p.nq, p.nk, i, j, scale);
      m = s > m ? s : m;
    }
    T l = T(0);
    for (int64_t j = 0; j < p.nk; ++j) l += exp(score(qg, kg, p.d, p.nq, p.nk, i, j, scale) - m);
    for (int64_t c = 0; c < p.dv; ++c) og[c * p.nq + i] = T(0);
    for (int64_t j = 0; j < p.nk; ++j) {
      const T w = exp(score(qg, kg, p.d, p.nq, p.nk, i, j, scale) - m) / l;
      for (int64_t c = 0; c < p.dv; ++c) og[c * p.nq + i] += w * vg[c * p.nk + j];
    }
  }
}

// ---- fast: flash attention ---------------------------------------------------------------
constexpr int kWarps = 4;            // warps per block
constexpr int kQPerWarp = 4;         // queries per warp
constexpr int kBQ = kWarps * kQPerWarp;  // queries per block (16)
constexpr int kBK = 32;              // keys per tile (one per lane)
constexpr int kMaxD = 128;           // d and dv limits of the shared-memory tiles

// DVL = ceil(dv / 32): output channels per lane.
template <int DVL>
__global__ void __launch_bounds__(kWarps * 32) attention_flash(const float* q, const float* k, const float* v,
                                                                float* o, AttentionParams p) {
  __shared__ float qs[kMaxD][kBQ];       // the block's queries, scaled (reused for the output)
  __shared__ float ks[kMaxD][kBK + 1];   // +1: lanes reading a column hit different banks
  __shared__ float vs[kMaxD][kBK + 1];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t g = blockIdx.y, i0 = static_cast<int64_t>(blockIdx.x) * kBQ;
  const float* qg = q + g * p.s_q;
  const float* kg = k + g * p.s_k;
  const float* vg = v + g * p.s_v;
  const float scale = static_cast<float>(p.scale);
  const int d = static_cast<int>(p.d), dv = static_cast<int>(p.dv);

  for (int e = threadIdx.x; e < d * kBQ; e += blockDim.x) {  // consecutive threads: consecutive queries
    const int c = e / kBQ, t = e % kBQ;
    const int64_t i = i0 + t;
    qs[c][t] = i < p.nq ? qg[c * p.nq + i] * scale : 0.f;
  }
  float m[kQPerWarp], l[kQPerWarp], acc[kQPerWarp][DVL];
#pragma unroll
  for (int t = 0; t < kQPerWarp; ++t) {
    m[t] = -INFINITY;
    l[t] = 0.f;
#pragma unroll
    for (int r = 0; r < DVL; ++r) acc[t][r] = 0.f;
  }

  for (int64_t j0 = 0; j0 < p.nk; j0 += kBK) {
    __syncthreads();  // the previous tile is no longer read (and qs is written)
    for (int e = threadIdx.x; e < d * kBK; e += blockDim.x) {
      const int c = e / kBK, jj = e % kBK;
      const int64_t j = j0 + jj;
      ks[c][jj] = j < p.nk ? kg[c * p.nk + j] : 0.f;
    }
    for (int e = threadIdx.x; e < dv * kBK; e += blockDim.x) {
      const int c = e / kBK, jj = e % kBK;
      const int64_t j = j0 + jj;
      vs[c][jj] = j < p.nk ? vg[c * p.nk + j] : 0.f;
    }
    __syncthreads();
    const bool valid = j0 + lane < p.nk;  // lane's key exists (every tile has key 0 at least)
#pragma unroll
    for (int t = 0; t < kQPerWarp; ++t) {
      const int qt = warp * kQPerWarp + t;
      float s = 0.f;
      for (int c = 0; c < d; ++c) s += qs[c][qt] * ks[c][lane];
      s = valid ? s : -INFINITY;
      const float m_new = fmaxf(m[t], warp_allmax(s));  // finite: one valid key per tile
      const float pj = valid ? __expf(s - m_new) : 0.f;
      const float corr = __expf(m[t] - m_new);          // exp(-inf) = 0 on the first tile
      l[t] = l[t] * corr + warp_allsum(pj);
#pragma unroll
      for (int r = 0; r < DVL; ++r) acc[t][r] *= corr;
      for (int jj = 0; jj < kBK; ++jj) {
        const float w = __shfl_sync(0xffffffffu, pj, jj);
#pragma unroll
        for (int r = 0; r < DVL; ++r) {
          const int c = lane + 32 * r;
          if (c < dv) acc[t][r] += w * vs[c][jj];
        }
      }
      m[t] = m_new;
    }
  }

  // Stage the block's outputs in qs ([dv, kBQ]) so the global writes run along queries.
  __syncthreads();
#pragma unroll
  for (int t = 0; t < kQPerWarp; ++t) {
    const float inv = 1.f / l[t];
#pragma unroll
    for (int r = 0; r < DVL; ++r) {
      const int c = lane + 32 * r;
      if (c < dv) qs[c][warp * kQPerWarp + t] = acc[t][r] * inv;
    }
  }
  __syncthreads();
  float* og = o + g * p.dv * p.nq;
  for (int e = threadIdx.x; e < dv * kBQ; e += blockDim.x) {
    const int c = e / kBQ, t = e % kBQ;
    const int64_t i = i0 + t;
    if (i < p.nq) og[c * p.nq + i] = qs[c][t];
  }
}

void run_attention(const KernelArgs& args) {
  const AttentionParams& p = args.p<AttentionParams>();
  Tensor& out = *args.out[0];
  check_contiguous_out(out, "Attention");
  DRIFT_CHECK(out.numel() == p.g * p.dv * p.nq, "CUDA Attention: out has ", out.numel(), " elements, expected [",
              p.g, ", ", p.dv, ", ", p.nq, "]");
  if (out.numel() == 0) return;
  dispatch_float(out.dtype(), "Attention", [&](auto tag) {
    using T = decltype(tag);
    const T* q = static_cast<const T*>(args.in[0]->data_ptr());
    const T* k = static_cast<const T*>(args.in[1]->data_ptr());
    const T* v = static_cast<const T*>(args.in[2]->data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    const bool flash = std::is_same<T, float>::value && kernel_variant() == KernelVariant::Fast && p.d <= kMaxD &&
                       p.dv <= kMaxD && p.g <= 65535;
    if constexpr (std::is_same<T, float>::value) {
      if (flash) {
        const dim3 grid(static_cast<unsigned>((p.nq + kBQ - 1) / kBQ), static_cast<unsigned>(p.g));
        const int dvl = static_cast<int>((p.dv + 31) / 32);
        switch (dvl) {
          case 1: attention_flash<1><<<grid, kWarps * 32, 0, current_stream()>>>(q, k, v, o, p); break;
          case 2: attention_flash<2><<<grid, kWarps * 32, 0, current_stream()>>>(q, k, v, o, p); break;
          case 3: attention_flash<3><<<grid, kWarps * 32, 0, current_stream()>>>(q, k, v, o, p); break;
          default: attention_flash<4><<<grid, kWarps * 32, 0, current_stream()>>>(q, k, v, o, p); break;
        }
        DRIFT_CUDA_CHECK_LAUNCH();
        return;
      }
    }
    attention_naive<T><<<blocks_for(p.g * p.nq), kThreads, 0, current_stream()>>>(q, k, v, o, p);
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_attention_kernels(Backend& b) { b.kernels[static_cast<int>(OpKind::Attention)] = run_attention; }

}  // namespace drift::cuda
