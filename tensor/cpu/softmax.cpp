// Softmax and LogSoftmax over the middle dim of a contiguous [outer, n, inner]:
//   Softmax:    in = {x}, out = {y},  y_i = exp(x_i - m) / sum_k exp(x_k - m)
//   LogSoftmax: in = {x}, out = {y},  y_i = x_i - m - log sum_k exp(x_k - m)
// with m = max_k x_k, so that exp never overflows (numerically stable).
// Sums are accumulated in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {

template <class T, bool kLog>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t n) {
#pragma omp parallel for schedule(static) if (rows * n > 4096)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < n; ++i) m = std::max(m, xr[i]);
    if (std::isinf(m) && m < 0) m = 0;  // all -inf: avoid (-inf) - (-inf)
    double sum = 0;
    if (kLog) {
      for (int64_t i = 0; i < n; ++i) sum += std::exp(double(xr[i] - m));
      const T shift = m + T(std::log(sum));
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - shift;
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const T e = std::exp(xr[i] - m);
        yr[i] = e;
        sum += e;
      }
      const T inv = T(1.0 / sum);
      for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
    }
  }
}

// inner > 1: the softmax dim is strided; walk it row by row so that the
// inner dim stays contiguous, with per-position max and sum buffers.
template <class T, bool kLog>
void softmax_strided(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
#pragma omp parallel
  {
    std::vector<T> mx(static_cast<size_t>(inner));
    std::vector<double> sum(static_cast<size_t>(inner));
#pragma omp for schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const T* xo = x + o * n * inner;
      T* yo = y + o * n * inner;
      std::fill(mx.begin(), mx.end(), -std::numeric_limits<T>::infinity());
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < inner; ++j) mx[j] = std::max(mx[j], xo[i * inner + j]);
      for (int64_t j = 0; j < inner; ++j)
        if (std::isinf(mx[j]) && mx[j] < 0) mx[j] = 0;
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < inner; ++j) {
          const T e = std::exp(xo[i * inner + j] - mx[j]);
          if (!kLog) yo[i * inner + j] = e;
          sum[j] += e;
        }
      }
      if (kLog) {
        for (int64_t j = 0; j < inner; ++j) mx[j] += T(std::log(sum[j]));
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < inner; ++j) yo[i * inner + j] = xo[i * inner + j] - mx[j];
      } else {
        for (int64_t j = 0; j < inner; ++j) sum[j] = 1.0 / sum[j];
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < inner; ++j) yo[i * inner + j] *= T(sum[j]);
      }
    }
  }
}

template <class T, bool kLog>
void softmax_typed(const KernelArgs& args) {
  const SoftmaxParams& p = args.p<SoftmaxParams>();
  const T* x = args.in[0]->data<T>();
  T* y = args.out[0]->data<T>();
  if (p.n == 0) return;
  if (p.inner == 1) {
    softmax_rows<T, kLog>(x, y, p.outer, p.n);
  } else {
    softmax_strided<T, kLog>(x, y, p.outer, p.n, p.inner);
  }
}

template <bool kLog>
void softmax_kernel(const KernelArgs& args) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: return softmax_typed<float, kLog>(args);
    case DType::Float64: return softmax_typed<double, kLog>(args);
    default:
      throw Error(str(kLog ? "log_softmax" : "softmax", ": expected float32 or float64, got ",
                      dtype_name(args.out[0]->dtype())));
  }
}

}  // namespace

void register_softmax_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Softmax)] = softmax_kernel<false>;
  b.kernels[static_cast<int>(OpKind::LogSoftmax)] = softmax_kernel<true>;
}

}  // namespace drift::cpu
