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
#include <cmath>
#include <type_traits>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/rng.h"

namespace drift::cpu {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr double kInv2Pow24 = 1.0 / 16777216.0;

template <class T>
void uniform_typed(T* out, int64_t n, const RandParams& p) {
  const int64_t blocks = (n + 3) / 4;
  const double a = p.a, scale = p.b - p.a;
  parallel_for(0, blocks, kGrain / 4, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      Philox4 r = philox4x32_10(p.offset + static_cast<uint64_t>(blk), p.seed);
      for (int lane = 0; lane < 4; ++lane) {
        int64_t i = blk * 4 + lane;
        if (i >= n) break;
        double u = static_cast<double>(r.v[lane] >> 8) * kInv2Pow24;  // [0, 1)
        double v = a + scale * u;
        if constexpr (std::is_same_v<T, int64_t>) {
          out[i] = static_cast<int64_t>(std::floor(v));
        } else {
          out[i] = static_cast<T>(v);
        }
      }
    }
  });
}

// Box-Muller in the output's precision (float math for float32: about 3x faster
// than double and accurate to a few float ulp).
template <class T>
void normal_typed(T* out, int64_t n, const RandParams& p) {
  const int64_t blocks = (n + 3) / 4;
  const T mean = static_cast<T>(p.a), std = static_cast<T>(p.b);
  const T two_pi = static_cast<T>(kTwoPi), inv_2p24 = static_cast<T>(kInv2Pow24);
  parallel_for(0, blocks, kGrain / 16, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      Philox4 r = philox4x32_10(p.offset + static_cast<uint64_t>(blk), p.seed);
      T z[4];
      for (int pair = 0; pair < 2; ++pair) {
        // z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2)
        T u1 = (static_cast<T>(r.v[2 * pair] >> 8) + T(1)) * inv_2p24;  // (0, 1], exact
        T u2 = static_cast<T>(r.v[2 * pair + 1] >> 8) * inv_2p24;       // [0, 1), exact
        T radius = std::sqrt(T(-2) * std::log(u1));
        T angle = two_pi * u2;
        z[2 * pair] = radius * std::cos(angle);
        z[2 * pair + 1] = radius * std::sin(angle);
      }
      const int64_t base = blk * 4;
      if (base + 4 <= n) {
        for (int lane = 0; lane < 4; ++lane) out[base + lane] = mean + std * z[lane];
      } else {
        for (int lane = 0; base + lane < n; ++lane) out[base + lane] = mean + std * z[lane];
      }
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
  }
}

void rand_normal_kernel(const KernelArgs& args) {
  Tensor& out = *args.out[0];
  check_out(out, "RandNormal");
  const RandParams& p = args.p<RandParams>();
  switch (out.dtype()) {
    case DType::Float32: normal_typed(out.data<float>(), out.numel(), p); break;
    case DType::Float64: normal_typed(out.data<double>(), out.numel(), p); break;
    case DType::Int64: throw Error("RandNormal: int64 output is not supported (expected float32 or float64)");
  }
}

}  // namespace

void register_random_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::RandUniform)] = rand_uniform_kernel;
  b.kernels[static_cast<int>(OpKind::RandNormal)] = rand_normal_kernel;
}

}  // namespace drift::cpu
