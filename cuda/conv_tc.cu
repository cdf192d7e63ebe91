// Conv2d forward for 16-bit operands (bfloat16 / float16, autocast's
// convolutions) on tensor cores: an implicit GEMM with WMMA 16x16x16
// fragments, float32 accumulation, the result rounded once to the output's
// 16-bit type. Part of the conv family (cuda/conv.cu calls it); the float32
// im2col + cuBLAS path of conv.cu, on the operands widened to float32, stays
// the reference (KernelVariant::Naive runs it; tests/test_cuda_half.cpp).
//
// The GEMM (the whole batch at once; K = Ci kh kw, P = Ho Wo):
//   y[n, co, p] = sum_k W[co, k] col[k, (n, p)] + bias[co]
//   col[(ci, i, j), (n, oh, ow)] = x[n, ci, oh sh - ph + i, ow sw - pw + j]   (0 outside the image)
// The col matrix is never stored: each block gathers its [BK, BN] tile of it
// from x straight into shared memory. Block tile BM x BN = 64 output channels
// x 64 output pixels, BK = 32; 4 warps, each 32 x 32 = 2 x 2 fragments.
// Needs compute capability 8.0 (bf16 WMMA); run_conv2d_tensor_cores says
// false on older GPUs and the caller widens instead.
#include <mma.h>

#include "cuda/common.cuh"

namespace drift::cuda {

struct ConvTcGeom {
  int64_t n, ci, h, w, co, kh, kw, ho, wo, sh, sw, ph, pw;
};

namespace {

constexpr int kBM = 64, kBN = 64, kBK = 32;
constexpr int kPadA = 8, kPadB = 8, kPadC = 4;  // row padding (WMMA wants ldm % 8 == 0 for 16-bit)
constexpr int kTcThreads = 128;

template <class T>
__global__ void __launch_bounds__(kTcThreads) conv_wmma(const T* x, const T* wt, const T* bias, T* y, ConvTcGeom g) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
  using namespace nvcuda;
  __shared__ __align__(32) T as[kBM][kBK + kPadA];   // W tile   [co, k]
  __shared__ __align__(32) T bs[kBK][kBN + kPadB];   // col tile [k, pixel]
  __shared__ __align__(32) float cs[kBM][kBN + kPadC];
  const int64_t K = g.ci * g.kh * g.kw, P = g.ho * g.wo, NP = g.n * P;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kBM;   // first output channel
  const int64_t q0 = static_cast<int64_t>(blockIdx.x) * kBN;   // first output pixel (over the batch)
  const int warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  const T zero = from_f32<T>(0.f);

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int a = 0; a < 2; ++a)
#pragma unroll
    for (int b = 0; b < 2; ++b) wmma::fill_fragment(acc[a][b], 0.f);

  for (int64_t k0 = 0; k0 < K; k0 += kBK) {
    // W tile: consecutive threads read consecutive k of one row (coalesced).
    for (int e = threadIdx.x; e < kBM * kBK; e += kTcThreads) {
      const int r = e / kBK, kk = e % kBK;
      const int64_t co = m0 + r, k = k0 + kk;
      as[r][kk] = (co < g.co && k < K) ? wt[co * K + k] : zero;
    }
    // col tile, gathered from x: consecutive threads take consecutive pixels.
    for (int e = threadIdx.x; e < kBK * kBN; e += kTcThreads) {
      const int kk = e / kBN, c = e % kBN;
      const int64_t k = k0 + kk, q = q0 + c;
      T v = zero;
      if (k < K && q < NP) {
        const int64_t ci = k / (g.kh * g.kw), ij = k % (g.kh * g.kw), i = ij / g.kw, j = ij % g.kw;
        const int64_t n = q / P, p = q % P, oh = p / g.wo, ow = p % g.wo;
        const int64_t ih = oh * g.sh - g.ph + i, iw = ow * g.sw - g.pw + j;
        if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) v = x[((n * g.ci + ci) * g.h + ih) * g.w + iw];
      }
      bs[kk][c] = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb[2];
#pragma unroll
      for (int a = 0; a < 2; ++a) wmma::load_matrix_sync(fa[a], &as[wm * 32 + a * 16][kk], kBK + kPadA);
#pragma unroll
      for (int b = 0; b < 2; ++b) wmma::load_matrix_sync(fb[b], &bs[kk][wn * 32 + b * 16], kBN + kPadB);
#pragma unroll
      for (int a = 0; a < 2; ++a)
#pragma unroll
        for (int b = 0; b < 2; ++b) wmma::mma_sync(acc[a][b], fa[a], fb[b], acc[a][b]);
    }
    __syncthreads();  // the tiles are overwritten next
  }
#pragma unroll
  for (int a = 0; a < 2; ++a)
#pragma unroll
    for (int b = 0; b < 2; ++b)
      wmma::store_matrix_sync(&cs[wm * 32 + a * 16][wn * 32 + b * 16], acc[a][b], kBN + kPadC, wmma::mem_row_major);
  __syncthreads();
  // y[n, co, p] = cs + bias, rounded once; consecutive threads write consecutive pixels.
  for (int e = threadIdx.x; e < kBM * kBN; e += kTcThreads) {
    const int r = e / kBN, c = e % kBN;
    const int64_t co = m0 + r, q = q0 + c;
    if (co >= g.co || q >= NP) continue;
    const int64_t n = q / P, p = q % P;
    const float v = cs[r][c] + (bias ? to_f32<T>(bias[co]) : 0.f);
    y[(n * g.co + co) * P + p] = from_f32<T>(v);
  }
#else
  __trap();  // not built for this GPU: the host checks the compute capability first
#endif
}

bool device_has_bf16_tensor_cores() {
  static const bool ok = [] {
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return major >= 8;
  }();
  return ok;
}

}  // namespace

// Runs the tensor-core forward on contiguous 16-bit operands (bias may be
// null); false when the GPU has no bf16 tensor cores (nothing is launched).
bool run_conv2d_tensor_cores(DType dtype, const void* x, const void* w, const void* bias, void* y,
                             const ConvTcGeom& g) {
  if (!device_has_bf16_tensor_cores()) return false;
  const int64_t np = g.n * g.ho * g.wo;
  const dim3 grid(static_cast<unsigned>((np + kBN - 1) / kBN), static_cast<unsigned>((g.co + kBM - 1) / kBM));
  DRIFT_CHECK(grid.y <= 65535, "CUDA Conv2d (tensor cores): ", g.co, " output channels are too many for one grid");
  if (dtype == DType::BFloat16) {
    conv_wmma<__nv_bfloat16><<<grid, kTcThreads, 0, current_stream()>>>(
        static_cast<const __nv_bfloat16*>(x), static_cast<const __nv_bfloat16*>(w),
        static_cast<const __nv_bfloat16*>(bias), static_cast<__nv_bfloat16*>(y), g);
  } else {
    DRIFT_CHECK(dtype == DType::Float16, "CUDA Conv2d (tensor cores): expected bfloat16 or float16, got ",
                dtype_name(dtype));
    conv_wmma<__half><<<grid, kTcThreads, 0, current_stream()>>>(static_cast<const __half*>(x),
                                                                 static_cast<const __half*>(w),
                                                                 static_cast<const __half*>(bias),
                                                                 static_cast<__half*>(y), g);
  }
  DRIFT_CUDA_CHECK_LAUNCH();
  return true;
}

}  // namespace drift::cuda
