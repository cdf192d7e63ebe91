// RandUniform and RandNormal from the counter-based Philox4x32-10 generator,
// with exactly the element -> (block, lane) mapping of tensor/rng.h, so the
// same (seed, offset) gives the same tensor as the CPU backend:
//   element i uses block offset + i/4, lane i%4 of philox(counter, seed).
// One thread computes one Philox block and writes its (up to) 4 elements.
// Uniforms and float64 normals are computed in double, float32 normals in
// float with the CPU's polynomials; every operation uses an explicit
// round-to-nearest intrinsic so that nvcc does not fuse a*b+c into an FMA (the
// host code never does), which makes the results bit-identical to the CPU's.
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

// float64 Box-Muller on lanes (0,1) and (2,3):
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

// ---- float32 normal: the CPU's float Box-Muller, operation for operation ----------
// tensor/cpu/random.cpp computes float32 normals in float with Cephes-style
// polynomials for ln and sin/cos(2 pi t). To give the same bits, the same
// operations run here in the same order, each with an explicit round-to-nearest
// intrinsic (no FMA contraction).
__device__ __forceinline__ float fmul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float fadd(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float fsub(float a, float b) { return __fsub_rn(a, b); }

// ln(x) for x in (0, 1]: x = m 2^e, degree-8 polynomial in m - 1 (Cephes logf).
__device__ __forceinline__ float log_f32(float x) {
  int32_t bits = __float_as_int(x);
  float e = static_cast<float>(((bits >> 23) & 0xff) - 126);
  float m = __int_as_float((bits & 0x007fffff) | 0x3f000000);  // [0.5, 1)
  bool small = m < 0.707106781186547524f;
  e = small ? fsub(e, 1.0f) : e;
  m = small ? fsub(fadd(m, m), 1.0f) : fsub(m, 1.0f);
  float z = fmul(m, m);
  float y = 7.0376836292e-2f;
  y = fsub(fmul(y, m), 1.1514610310e-1f);
  y = fadd(fmul(y, m), 1.1676998740e-1f);
  y = fsub(fmul(y, m), 1.2420140846e-1f);
  y = fadd(fmul(y, m), 1.4249322787e-1f);
  y = fsub(fmul(y, m), 1.6668057665e-1f);
  y = fadd(fmul(y, m), 2.0000714765e-1f);
  y = fsub(fmul(y, m), 2.4999993993e-1f);
  y = fadd(fmul(y, m), 3.3333331174e-1f);
  y = fmul(fmul(y, m), z);
  y = fadd(y, fmul(-2.12194440e-4f, e));
  y = fadd(y, fmul(-0.5f, z));
  return fadd(fadd(m, y), fmul(0.693359375f, e));
}

// sin and cos of 2 pi t, t in [0, 1): exact reduction to the nearest quarter
// turn, Cephes sinf/cosf polynomials on [-pi/4, pi/4], then the rotation.
__device__ __forceinline__ void sincos_2pi_f32(float t, float& s_out, float& c_out) {
  float q = fsub(fadd(fmul(t, 4.0f), 12582912.0f), 12582912.0f);  // round(4t)
  float a = fmul(fsub(t, fmul(q, 0.25f)), 6.28318530717958647692f);
  float z = fmul(a, a);
  float s = fadd(fmul(fmul(fsub(fmul(fadd(fmul(-1.9515295891e-4f, z), 8.3321608736e-3f), z), 1.6666654611e-1f), z), a), a);
  float c = fadd(fsub(fmul(fmul(fadd(fmul(fsub(fmul(2.443315711809948e-5f, z), 1.388731625493765e-3f), z),
                                     4.166664568298827e-2f),
                                z),
                           z),
                      fmul(0.5f, z)),
                 1.0f);
  int qi = static_cast<int>(q) & 3;
  s_out = qi == 0 ? s : (qi == 1 ? c : (qi == 2 ? -s : -c));
  c_out = qi == 0 ? c : (qi == 1 ? -s : (qi == 2 ? -c : s));
}

// z_even = mean + std * sqrt(-2 ln u1) cos(2 pi u2), z_odd = ... sin(2 pi u2)
__global__ void normal_f32_kernel(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float stdev) {
  int64_t nblocks = (n + 3) / 4;
  DRIFT_CUDA_KERNEL_LOOP(blk, nblocks) {
    Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(blk), seed);
#pragma unroll
    for (int pair = 0; pair < 2; ++pair) {
      float u1 = fmul(fadd(static_cast<float>(r.v[2 * pair] >> 8), 1.0f), 1.0f / 16777216.0f);  // (0, 1]
      float u2 = fmul(static_cast<float>(r.v[2 * pair + 1] >> 8), 1.0f / 16777216.0f);        // [0, 1)
      float radius = __fsqrt_rn(fmul(-2.0f, log_f32(u1)));
      float s, c;
      sincos_2pi_f32(u2, s, c);
      float z[2] = {fadd(mean, fmul(fmul(stdev, radius), c)), fadd(mean, fmul(fmul(stdev, radius), s))};
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        int64_t i = blk * 4 + 2 * pair + j;
        if (i < n) out[i] = z[j];
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
    uniform_kernel<T><<<blocks_for((n + 3) / 4), kThreads, 0, current_stream()>>>(static_cast<T*>(out.data_ptr()), n, p.seed,
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
  if (out.dtype() == DType::Float32) {
    normal_f32_kernel<<<blocks_for((n + 3) / 4), kThreads, 0, current_stream()>>>(static_cast<float*>(out.data_ptr()), n, p.seed, p.offset,
                                                             static_cast<float>(p.a), static_cast<float>(p.b));
    DRIFT_CUDA_CHECK_LAUNCH();
    return;
  }
  DRIFT_CHECK(out.dtype() == DType::Float64, "CUDA RandNormal: expected a float32 or float64 output, got ",
              dtype_name(out.dtype()));
  normal_kernel<double><<<blocks_for((n + 3) / 4), kThreads, 0, current_stream()>>>(static_cast<double*>(out.data_ptr()), n, p.seed,
                                                               p.offset, p.a, p.b);
  DRIFT_CUDA_CHECK_LAUNCH();
}

}  // namespace

void register_random_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::RandUniform)] = rand_uniform;
  b.kernels[static_cast<int>(OpKind::RandNormal)] = rand_normal;
}

}  // namespace drift::cuda
