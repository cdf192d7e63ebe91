// Softmax and LogSoftmax over the middle dim of a contiguous [outer, n, inner]
// view, in two variants (cuda/variant.h):
//   Naive: one thread per row (o, i): three passes over its n elements.
//   Fast:  inner == 1: one warp per row, the max and the sum by warp shuffles;
//          inner  > 1: the one-thread-per-row kernel, whose threads read
//          neighbouring addresses (coalesced), so it is already the fast one.
//   softmax:     y = exp(x - max) / sum exp(x - max)
//   log_softmax: y = x - max - log(sum exp(x - max))
#include "cuda/block_reduce.cuh"
#include "cuda/variant.h"

namespace drift::cuda {
namespace {

template <class T, bool Log>
__global__ void softmax_naive(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  DRIFT_CUDA_KERNEL_LOOP(row, outer * inner) {
    int64_t o = row / inner, i = row % inner;
    const T* xp = x + o * n * inner + i;
    T* yp = y + o * n * inner + i;
    T mx = xp[0];
    for (int64_t j = 1; j < n; ++j) mx = xp[j * inner] > mx ? xp[j * inner] : mx;
    T sum = T(0);
    for (int64_t j = 0; j < n; ++j) sum += exp(xp[j * inner] - mx);
    if (Log) {
      T lse = mx + log(sum);
      for (int64_t j = 0; j < n; ++j) yp[j * inner] = xp[j * inner] - lse;
    } else {
      T inv = T(1) / sum;
      for (int64_t j = 0; j < n; ++j) yp[j * inner] = exp(xp[j * inner] - mx) * inv;
    }
  }
}

// inner == 1: warp w handles rows w, w + nwarps, ...
template <class T, bool Log>
__global__ void softmax_warp(const T* x, T* y, int64_t rows, int64_t n) {
  int lane = threadIdx.x % 32;
  int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  int64_t nwarps = static_cast<int64_t>(gridDim.x) * blockDim.x / 32;
  for (int64_t row = warp; row < rows; row += nwarps) {
    const T* xp = x + row * n;
    T* yp = y + row * n;
    T mx = -INFINITY;
    for (int64_t j = lane; j < n; j += 32) mx = xp[j] > mx ? xp[j] : mx;
    mx = warp_allmax(mx);
    T sum = T(0);
    for (int64_t j = lane; j < n; j += 32) sum += exp(xp[j] - mx);
    sum = warp_allsum(sum);
    if (Log) {
      T lse = mx + log(sum);
      for (int64_t j = lane; j < n; j += 32) yp[j] = xp[j] - lse;
    } else {
      T inv = T(1) / sum;
      for (int64_t j = lane; j < n; j += 32) yp[j] = exp(xp[j] - mx) * inv;
    }
  }
}

template <bool Log>
void run_softmax(const KernelArgs& args, const char* name) {
  const Tensor& x = *args.in[0];
  Tensor& y = *args.out[0];
  check_contiguous_out(y, name);
  const SoftmaxParams& p = args.p<SoftmaxParams>();
  DRIFT_CHECK(p.outer * p.n * p.inner == x.numel() && x.numel() == y.numel(), "CUDA ", name, ": [outer, n, inner] = [",
              p.outer, ", ", p.n, ", ", p.inner, "] does not match ", x.numel(), " elements");
  if (y.numel() == 0) return;
  DeviceBuffer scratch;
  dispatch_float(y.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = contiguous_ptr<T>(x, scratch);
    T* yp = static_cast<T*>(y.data_ptr());
    if (kernel_variant() == KernelVariant::Fast && p.inner == 1)
      softmax_warp<T, Log><<<blocks_for(p.outer * 32), kThreads, 0, current_stream()>>>(xp, yp, p.outer, p.n);
    else
      softmax_naive<T, Log><<<blocks_for(p.outer * p.inner), kThreads, 0, current_stream()>>>(xp, yp, p.outer, p.n, p.inner);
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_softmax_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Softmax)] = [](const KernelArgs& a) { run_softmax<false>(a, "Softmax"); };
  b.kernels[static_cast<int>(OpKind::LogSoftmax)] = [](const KernelArgs& a) { run_softmax<true>(a, "LogSoftmax"); };
}

}  // namespace drift::cuda
