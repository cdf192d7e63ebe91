#pragma once
// Warp- and block-level sum/max used by the softmax and norm kernels.
#include "cuda/common.cuh"

namespace drift::cuda {

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int delta = 16; delta > 0; delta >>= 1) v += __shfl_down_sync(0xffffffffu, v, delta);
  return v;
}
template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int delta = 16; delta > 0; delta >>= 1) {
    T o = __shfl_down_sync(0xffffffffu, v, delta);
    v = o > v ? o : v;
  }
  return v;
}
// Every lane gets the warp total (lane 0's result, broadcast).
template <class T> __device__ __forceinline__ T warp_allsum(T v) { return __shfl_sync(0xffffffffu, warp_sum(v), 0); }
template <class T> __device__ __forceinline__ T warp_allmax(T v) { return __shfl_sync(0xffffffffu, warp_max(v), 0); }

// Sum over all threads of the block; every thread gets the result.
// `shared` holds at least 32 T. blockDim.x must be a multiple of 32.
template <class T>
__device__ T block_allsum(T v, T* shared) {
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // shared may still be read from a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T total = T(0);
  for (int w = 0; w < nwarps; ++w) total += shared[w];
  return total;
}

}  // namespace drift::cuda
