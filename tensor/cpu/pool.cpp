// Average pooling (k x k window, stride k, no padding) and nearest-neighbour
// upsampling by an integer factor, with their backward passes. All tensors
// are contiguous NCHW; the planes N*C are independent and run in parallel.
//   AvgPool2d:                 in = {x [N,C,H,W]},      out = {y [N,C,H/k,W/k]}
//   AvgPool2dBackward:         in = {dy [N,C,Ho,Wo]},   out = {dx [N,C,H,W]}
//   UpsampleNearest2d:         in = {x [N,C,H,W]},      out = {y [N,C,H*k,W*k]}
//   UpsampleNearest2dBackward: in = {dy [N,C,H*k,W*k]}, out = {dx [N,C,H,W]}
#include <algorithm>

#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {

struct Planes {
  int64_t planes, H, W;  // the large side (pool input / upsample output)
  int64_t h, w;          // the small side
};

// y[p, i, j] = 1/k^2 sum_{a,b < k} x[p, i*k + a, j*k + b]   (rows/cols past Ho*k, Wo*k are dropped)
template <class T>
void avg_pool(const T* x, T* y, const Planes& s, int64_t k) {
  const T scale = T(1) / T(k * k);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < s.planes; ++p) {
    const T* xp = x + p * s.H * s.W;
    T* yp = y + p * s.h * s.w;
    for (int64_t i = 0; i < s.h; ++i) {
      T* yr = yp + i * s.w;
      std::fill(yr, yr + s.w, T(0));
      for (int64_t a = 0; a < k; ++a) {
        const T* xr = xp + (i * k + a) * s.W;
        for (int64_t j = 0; j < s.w; ++j) {
          T acc = 0;
          for (int64_t b = 0; b < k; ++b) acc += xr[j * k + b];
          yr[j] += acc;
        }
      }
      for (int64_t j = 0; j < s.w; ++j) yr[j] *= scale;
    }
  }
}

// dx[p, i*k + a, j*k + b] = dy[p, i, j] / k^2 (0 in the dropped rows/cols)
template <class T>
void avg_pool_backward(const T* dy, T* dx, const Planes& s, int64_t k) {
  const T scale = T(1) / T(k * k);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < s.planes; ++p) {
    const T* dyp = dy + p * s.h * s.w;
    T* dxp = dx + p * s.H * s.W;
    std::fill(dxp, dxp + s.H * s.W, T(0));
    for (int64_t i = 0; i < s.h; ++i) {
      for (int64_t a = 0; a < k; ++a) {
        T* dxr = dxp + (i * k + a) * s.W;
        for (int64_t j = 0; j < s.w; ++j) {
          const T g = dyp[i * s.w + j] * scale;
          for (int64_t b = 0; b < k; ++b) dxr[j * k + b] = g;
        }
      }
    }
  }
}

// y[p, I, J] = x[p, I / k, J / k]
template <class T>
void upsample(const T* x, T* y, const Planes& s, int64_t k) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < s.planes; ++p) {
    const T* xp = x + p * s.h * s.w;
    T* yp = y + p * s.H * s.W;
    for (int64_t i = 0; i < s.h; ++i) {
      T* first = yp + i * k * s.W;
      for (int64_t j = 0; j < s.w; ++j) {
        const T v = xp[i * s.w + j];
        for (int64_t b = 0; b < k; ++b) first[j * k + b] = v;
      }
      for (int64_t a = 1; a < k; ++a) std::copy(first, first + s.W, first + a * s.W);
    }
  }
}

// dx[p, i, j] = sum_{a,b < k} dy[p, i*k + a, j*k + b]
template <class T>
void upsample_backward(const T* dy, T* dx, const Planes& s, int64_t k) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < s.planes; ++p) {
    const T* dyp = dy + p * s.H * s.W;
    T* dxp = dx + p * s.h * s.w;
    for (int64_t i = 0; i < s.h; ++i) {
      T* dxr = dxp + i * s.w;
      std::fill(dxr, dxr + s.w, T(0));
      for (int64_t a = 0; a < k; ++a) {
        const T* dyr = dyp + (i * k + a) * s.W;
        for (int64_t j = 0; j < s.w; ++j) {
          T acc = 0;
          for (int64_t b = 0; b < k; ++b) acc += dyr[j * k + b];
          dxr[j] += acc;
        }
      }
    }
  }
}

enum class PoolOp { Pool, PoolBackward, Up, UpBackward };

template <class T>
void run_pool(const KernelArgs& args, PoolOp op) {
  const Tensor& in = *args.in[0];
  Tensor& out = *args.out[0];
  const int64_t k = args.p<PoolParams>().k;
  // The "large" tensor is the pool input / upsample output.
  const bool in_is_large = op == PoolOp::Pool || op == PoolOp::UpBackward;
  const Tensor& large = in_is_large ? in : out;
  const Tensor& small = in_is_large ? out : in;
  Planes s{large.size(0) * large.size(1), large.size(2), large.size(3), small.size(2), small.size(3)};
  const T* src = in.data<T>();
  T* dst = out.data<T>();
  switch (op) {
    case PoolOp::Pool: return avg_pool(src, dst, s, k);
    case PoolOp::PoolBackward: return avg_pool_backward(src, dst, s, k);
    case PoolOp::Up: return upsample(src, dst, s, k);
    case PoolOp::UpBackward: return upsample_backward(src, dst, s, k);
  }
}

template <PoolOp op>
void pool_kernel(const KernelArgs& args) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: return run_pool<float>(args, op);
    case DType::Float64: return run_pool<double>(args, op);
    default: throw Error(str("pooling: expected float32 or float64, got ", dtype_name(args.out[0]->dtype())));
  }
}

}  // namespace

void register_pool_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::AvgPool2d)] = pool_kernel<PoolOp::Pool>;
  b.kernels[static_cast<int>(OpKind::AvgPool2dBackward)] = pool_kernel<PoolOp::PoolBackward>;
  b.kernels[static_cast<int>(OpKind::UpsampleNearest2d)] = pool_kernel<PoolOp::Up>;
  b.kernels[static_cast<int>(OpKind::UpsampleNearest2dBackward)] = pool_kernel<PoolOp::UpBackward>;
}

}  // namespace drift::cpu
