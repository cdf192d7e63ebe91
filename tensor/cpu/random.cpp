// CPU kernels: RandUniform and RandNormal from Philox4x32-10, with exactly the
// element -> (counter, lane) mapping of tensor/rng.h, so CPU and CUDA agree:
//   element i uses block offset + i / 4, lane i % 4.
// The output is contiguous (the frontend allocates it). Work is split over
// blocks of 4 elements; each block is one Philox call.
//
// Value formulas (uniform in double, normal in the output's precision):
//   uniform:  a + (b - a) * u,               u = (r >> 8) * 2^-24 in [0, 1)
//             int64 output: floor(a + (b - a) * u), integers in [a, b)
//   normal:   a + b * z, z from Box-Muller on lanes (0,1) and (2,3):
//             u1 = ((r_even >> 8) + 1) * 2^-24 in (0, 1], u2 = (r_odd >> 8) * 2^-24
//             z_even = sqrt(-2 ln u1) cos(2 pi u2), z_odd = sqrt(-2 ln u1) sin(2 pi u2)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "tensor/cpu/isa_kernels.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/random_impl.h"
#include "tensor/cpu/loops.h"
#include "tensor/rng.h"

namespace drift::cpu {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

using generic::kBatchBlocks;
using generic::kInv2Pow24;
using generic::philox_batch;

template <class T>
void uniform_typed(T* out, int64_t n, const RandParams& p) {
  const int64_t blocks = (n + 3) / 4;
  const int64_t batches = (blocks + kBatchBlocks - 1) / kBatchBlocks;
  const double a = p.a, scale = p.b - p.a;
  parallel_for(0, batches, std::max<int64_t>(1, kGrain / (4 * 4 * kBatchBlocks)), [&](int64_t q0, int64_t q1) {
    if constexpr (std::is_same_v<T, float>) {
#if defined(DRIFT_X86_KERNELS)
      switch (active_isa()) {
        case CpuIsa::Avx512: return avx512::uniform_f32_batches(out, n, p.seed, p.offset, a, scale, q0, q1);
        case CpuIsa::Avx2: return avx2::uniform_f32_batches(out, n, p.seed, p.offset, a, scale, q0, q1);
        case CpuIsa::Generic: break;
      }
#endif
    }
    generic::uniform_batches<T>(out, n, p.seed, p.offset, a, scale, q0, q1);
  });
}

// ---- float32 normal: batches of 16 Philox blocks, vectorizable Box-Muller ------------
// ln(x) for x in (0, 1] (Cephes logf: x = m 2^e, m in [sqrt(1/2), sqrt(2)), a degree-8
// polynomial in m - 1; about 1 ulp). Branch-free so the loop over a batch vectorizes.
inline float log_f32(float x) {
  int32_t bits = __builtin_bit_cast(int32_t, x);
  float e = static_cast<float>(((bits >> 23) & 0xff) - 126);
  float m = __builtin_bit_cast(float, (bits & 0x007fffff) | 0x3f000000);  // [0.5, 1)
  bool small = m < 0.707106781186547524f;
  e = small ? e - 1.0f : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += -2.12194440e-4f * e;
  y += -0.5f * z;
  return m + y + 0.693359375f * e;
}

// sin and cos of 2 pi t for t in [0, 1). t - q/4 (q the nearest quarter) is exact
// for t = k 2^-24, so the reduced angle a = 2 pi (t - q/4) in [-pi/4, pi/4] carries
// no reduction error; sin a and cos a by the Cephes sinf/cosf polynomials, then
// rotated by q quarter turns.
inline void sincos_2pi_f32(float t, float& s_out, float& c_out) {
  float q = (t * 4.0f + 12582912.0f) - 12582912.0f;  // round(4t) in {0, .., 4}
  float a = (t - q * 0.25f) * 6.28318530717958647692f;
  float z = a * a;
  float s = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * a + a;
  float c = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z -
            0.5f * z + 1.0f;
  int qi = static_cast<int>(q) & 3;
  // quarter turns: (sin, cos) -> (cos, -sin) -> (-sin, -cos) -> (-cos, sin)
  float sr = qi == 0 ? s : (qi == 1 ? c : (qi == 2 ? -s : -c));
  float cr = qi == 0 ? c : (qi == 1 ? -s : (qi == 2 ? -c : s));
  s_out = sr;
  c_out = cr;
}

void normal_f32(float* out, int64_t n, const RandParams& p) {
  const int64_t blocks = (n + 3) / 4;
  const float mean = static_cast<float>(p.a), stdev = static_cast<float>(p.b);
  const int64_t batches = (blocks + kBatchBlocks - 1) / kBatchBlocks;
  parallel_for(0, batches, std::max<int64_t>(1, kGrain / (16 * 4 * kBatchBlocks)), [&](int64_t q0, int64_t q1) {
    uint32_t words[4 * kBatchBlocks];
    float z[4 * kBatchBlocks];
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t blk0 = q * kBatchBlocks;
      philox_batch(p.seed, p.offset, blk0, words);
      for (int64_t j = 0; j < 2 * kBatchBlocks; ++j) {  // pair j = elements (2j, 2j+1)
        // z_even = sqrt(-2 ln u1) cos(2 pi u2), z_odd = sqrt(-2 ln u1) sin(2 pi u2)
        float u1 = (static_cast<float>(words[2 * j] >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1], exact
        float u2 = static_cast<float>(words[2 * j + 1] >> 8) * (1.0f / 16777216.0f);       // [0, 1), exact
        float radius = std::sqrt(-2.0f * log_f32(u1));
        float s, c;
        sincos_2pi_f32(u2, s, c);
        z[2 * j] = mean + stdev * radius * c;
        z[2 * j + 1] = mean + stdev * radius * s;
      }
      const int64_t base = blk0 * 4, count = std::min<int64_t>(4 * kBatchBlocks, n - base);
      std::memcpy(out + base, z, static_cast<size_t>(count) * sizeof(float));
    }
  });
}

// float64: the same formulas with the C library in double.
void normal_f64(double* out, int64_t n, const RandParams& p) {
  const int64_t blocks = (n + 3) / 4;
  parallel_for(0, blocks, kGrain / 16, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      Philox4 r = philox4x32_10(p.offset + static_cast<uint64_t>(blk), p.seed);
      double z[4];
      for (int pair = 0; pair < 2; ++pair) {
        double u1 = (static_cast<double>(r.v[2 * pair] >> 8) + 1.0) * kInv2Pow24;  // (0, 1]
        double u2 = static_cast<double>(r.v[2 * pair + 1] >> 8) * kInv2Pow24;       // [0, 1)
        double radius = std::sqrt(-2.0 * std::log(u1));
        z[2 * pair] = radius * std::cos(kTwoPi * u2);
        z[2 * pair + 1] = radius * std::sin(kTwoPi * u2);
      }
      for (int lane = 0; lane < 4 && blk * 4 + lane < n; ++lane) out[blk * 4 + lane] = p.a + p.b * z[lane];
    }
  });
}

void check_out(const Tensor& out, const char* op) {
  DRIFT_CHECK(out.is_contiguous(), op, ": output must be contiguous, got strides ", shape_str(out.strides()),
              " for shape ", shape_str(out.shape()));
}

void rand_uniform_kernel(const KernelArgs& args) {
  Tensor& out = *args.out[0];
  check_out(out, "RandUniform");
  const RandParams& p = args.p<RandParams>();
  switch (out.dtype()) {
    case DType::Float32: uniform_typed(out.data<float>(), out.numel(), p); break;
    case DType::Float64: uniform_typed(out.data<double>(), out.numel(), p); break;
    case DType::Int64: uniform_typed(out.data<int64_t>(), out.numel(), p); break;
    default: kernel_dtype_error("random.cpp", out.dtype());
  }
}

void rand_normal_kernel(const KernelArgs& args) {
  Tensor& out = *args.out[0];
  check_out(out, "RandNormal");
  const RandParams& p = args.p<RandParams>();
  switch (out.dtype()) {
    case DType::Float32: normal_f32(out.data<float>(), out.numel(), p); break;
    case DType::Float64: normal_f64(out.data<double>(), out.numel(), p); break;
    case DType::Int64: throw Error("RandNormal: int64 output is not supported (expected float32 or float64)");
    default: kernel_dtype_error("random.cpp", out.dtype());
  }
}

}  // namespace

void register_random_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::RandUniform)] = rand_uniform_kernel;
  b.kernels[static_cast<int>(OpKind::RandNormal)] = rand_normal_kernel;
}

}  // namespace drift::cpu
