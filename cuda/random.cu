// RandUniform and RandNormal from the counter-based Philox4x32-10 generator,
// with exactly the element -> (block, lane) mapping of tensor/rng.h, so the
// same (seed, offset) gives the same tensor as the CPU backend:
//   element i uses block offset + i/4, lane i%4 of philox(counter, seed).
// One thread computes one Philox block and writes its (up to) 4 elements.
// Arithmetic is done in double with explicit round-to-nearest intrinsics so
// that nvcc does not fuse a*b+c into an FMA (the host code never does).
#include <type_traits>

#include "cuda/common.cuh"
#include "tensor/rng.h"

namespace drift::cuda {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr double k2pow24inv = 1.0 / 16777216.0;  // 2^-24

// u = (r >> 8) * 2^-24 in [0, 1)
__device__ __forceinline__ double uniform01(uint32_t r) { return static_cast<double>(r >> 8) * k2pow24inv; }

template <class T>
__device__ __forceinline__ T cast_value(double v) {
  if constexpr (std::is_same<T, int64_t>::value) return static_cast<int64_t>(floor(v));
  else return static_cast<T>(v);
}

// value = a + (b - a) * u  (uniform on [a, b))
template <class T>
__global__ void uniform_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, double a, double b) {
  int64_t nblocks = (n + 3) / 4;
  double width = __dadd_rn(b, -a);
  DRIFT_CUDA_KERNEL_LOOP(blk, nblocks) {
    Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(blk), seed);
#pragma unroll
    for (int lane = 0; lane < 4; ++lane) {
      int64_t i = blk * 4 + lane;
      if (i < n) out[i] = cast_value<T>(__dadd_rn(a, __dmul_rn(width, uniform01(r.v[lane]))));
    }
  }
}

// Box-Muller on lanes (0,1) and (2,3):
//   u1 = ((r_even >> 8) + 1) 2^-24 in (0,1], u2 = (r_odd >> 8) 2^-24
//   z_even = sqrt(-2 ln u1) cos(2 pi u2), z_odd = sqrt(-2 ln u1) sin(2 pi u2)
//   value = mean + std * z
template <class T>
__global__ void normal_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double stdev) {
  int64_t nblocks = (n + 3) / 4;
  DRIFT_CUDA_KERNEL_LOOP(blk, nblocks) {
    Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(blk), seed);
#pragma unroll
    for (int pair = 0; pair < 2; ++pair) {
      double u1 = static_cast<double>((r.v[2 * pair] >> 8) + 1) * k2pow24inv;
      double u2 = uniform01(r.v[2 * pair + 1]);
      double radius = sqrt(__dmul_rn(-2.0, log(u1)));
      double angle = __dmul_rn(kTwoPi, u2);
      double z[2] = {__dmul_rn(radius, cos(angle)), __dmul_rn(radius, sin(angle))};
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        int64_t i = blk * 4 + 2 * pair + j;
        if (i < n) out[i] = cast_value<T>(__dadd_rn(mean, __dmul_rn(stdev, z[j])));
      }
    }
  }
}

void rand_uniform(const KernelArgs& args) {
  Tensor& out = *args.out[0];
  check_contiguous_out(out, "RandUniform");
  const RandParams& p = args.p<RandParams>();
  int64_t n = out.numel();
  if (n == 0) return;
  dispatch_all(out.dtype(), "RandUniform", [&](auto tag) {
    using T = decltype(tag);
    uniform_kernel<T><<<blocks_for((n + 3) / 4), kThreads>>>(static_cast<T*>(out.data_ptr()), n, p.seed,
                                                              p.offset, p.a, p.b);
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

void rand_normal(const KernelArgs& args) {
  Tensor& out = *args.out[0];
  check_contiguous_out(out, "RandNormal");
  const RandParams& p = args.p<RandParams>();
  int64_t n = out.numel();
  if (n == 0) return;
  dispatch_float(out.dtype(), "RandNormal", [&](auto tag) {
    using T = decltype(tag);
    normal_kernel<T><<<blocks_for((n + 3) / 4), kThreads>>>(static_cast<T*>(out.data_ptr()), n, p.seed,
                                                             p.offset, p.a, p.b);
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_random_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::RandUniform)] = rand_uniform;
  b.kernels[static_cast<int>(OpKind::RandNormal)] = rand_normal;
}

}  // namespace drift::cuda
