// 2-D convolution (NCHW input, OIHW weights, groups = 1, dilation = 1) and its
// two backward passes, in two variants (cuda/variant.h):
//   Fast  (default): im2col / col2im + cuBLAS GEMM.
//   Naive: direct convolution, one thread per output element; the reference
//          the fast path is tested against, and the baseline of benchmarks.
// Kernel arguments (the same as the CPU kernels get):
//   Conv2d:               in = {x [N,Ci,H,W], w [Co,Ci,kh,kw], bias [Co] or null}, out = {y [N,Co,Ho,Wo]}
//   Conv2dBackwardInput:  in = {gy [N,Co,Ho,Wo], w},  out = {gx [N,Ci,H,W]}
//   Conv2dBackwardWeight: in = {gy [N,Co,Ho,Wo], x},  out = {gw [Co,Ci,kh,kw]}
// with Ho = (H + 2 pad_h - kh) / stride_h + 1 (likewise Wo).
//
// The GEMM view (per image n, K = Ci*kh*kw, P = Ho*Wo):
//   col[k = (ci, i, j), p = (oh, ow)] = x[n, ci, oh*sh - ph + i, ow*sw - pw + j]   (0 outside)
//   forward:          y_n  [Co, P] = W [Co, K] col_n [K, P]       (+ bias[co])
//   backward input:   col_n[K, P]  = W^T [K, Co] gy_n [Co, P],  then col2im sums back into gx
//   backward weight:  gW   [Co, K] = sum_n gy_n [Co, P] col_n^T [P, K]
//                     (a chunk of nb images at once: [Co, nb*P] x [nb*P, K])
// Row-major products go to column-major cuBLAS as C^T = B^T A^T (see matmul.cu).
// Conv2d with 16-bit operands (half_native): Fast runs the tensor-core
// implicit GEMM of cuda/conv_tc.cu; Naive (the reference) widens the operands
// to float32, runs the float32 path and rounds the result once.
#include <algorithm>

#include "cuda/blas.cuh"
#include "cuda/variant.h"
#include "tensor/ops.h"

namespace drift::cuda {

// cuda/conv_tc.cu
struct ConvTcGeom {
  int64_t n, ci, h, w, co, kh, kw, ho, wo, sh, sw, ph, pw;
};
bool run_conv2d_tensor_cores(DType dtype, const void* x, const void* w, const void* bias, void* y,
                             const ConvTcGeom& g);

namespace {

struct ConvGeom {
  int64_t n, ci, h, w, co, kh, kw, ho, wo, sh, sw, ph, pw;
  __host__ __device__ int64_t K() const { return ci * kh * kw; }
  __host__ __device__ int64_t P() const { return ho * wo; }
};

ConvGeom make_geom(const Shape& x, const Shape& w, const Shape& y, const Conv2dParams& p, const char* name) {
  DRIFT_CHECK(x.size() == 4 && w.size() == 4 && y.size() == 4, "CUDA ", name, ": expected 4-D x, w, y, got ",
              shape_str(x), ", ", shape_str(w), ", ", shape_str(y));
  ConvGeom g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3], p.stride_h, p.stride_w, p.pad_h, p.pad_w};
  DRIFT_CHECK(w[1] == g.ci && y[0] == g.n && y[1] == g.co, "CUDA ", name, ": inconsistent shapes x ", shape_str(x),
              ", w ", shape_str(w), ", y ", shape_str(y));
  DRIFT_CHECK(g.ho == (g.h + 2 * g.ph - g.kh) / g.sh + 1 && g.wo == (g.w + 2 * g.pw - g.kw) / g.sw + 1, "CUDA ",
              name, ": output size ", shape_str(y), " does not match input ", shape_str(x), ", kernel ",
              shape_str(w), ", stride ", g.sh, ", padding ", g.ph);
  return g;
}

// ---- naive direct kernels ----------------------------------------------------------
// y[n, co, oh, ow] = bias[co] + sum_{ci, i, j} x[n, ci, oh*sh - ph + i, ow*sw - pw + j] w[co, ci, i, j]
template <class T>
__global__ void conv_forward_naive(const T* x, const T* w, const T* bias, T* y, ConvGeom g) {
  DRIFT_CUDA_KERNEL_LOOP(idx, g.n * g.co * g.ho * g.wo) {
    int64_t ow = idx % g.wo, oh = (idx / g.wo) % g.ho, co = (idx / (g.wo * g.ho)) % g.co, n = idx / (g.wo * g.ho * g.co);
    T acc = bias ? bias[co] : T(0);
    for (int64_t ci = 0; ci < g.ci; ++ci)
      for (int64_t i = 0; i < g.kh; ++i) {
        int64_t ih = oh * g.sh - g.ph + i;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t j = 0; j < g.kw; ++j) {
          int64_t iw = ow * g.sw - g.pw + j;
          if (iw < 0 || iw >= g.w) continue;
          acc += x[((n * g.ci + ci) * g.h + ih) * g.w + iw] * w[((co * g.ci + ci) * g.kh + i) * g.kw + j];
        }
      }
    y[idx] = acc;
  }
}

// gx[n, ci, ih, iw] = sum over (co, i, j) with oh = (ih + ph - i) / sh exact and in range (likewise ow)
//                     of gy[n, co, oh, ow] w[co, ci, i, j]
template <class T>
__global__ void conv_backward_input_naive(const T* gy, const T* w, T* gx, ConvGeom g) {
  DRIFT_CUDA_KERNEL_LOOP(idx, g.n * g.ci * g.h * g.w) {
    int64_t iw = idx % g.w, ih = (idx / g.w) % g.h, ci = (idx / (g.w * g.h)) % g.ci, n = idx / (g.w * g.h * g.ci);
    T acc = T(0);
    for (int64_t co = 0; co < g.co; ++co)
      for (int64_t i = 0; i < g.kh; ++i) {
        int64_t th = ih + g.ph - i;
        if (th < 0 || th % g.sh != 0 || th / g.sh >= g.ho) continue;
        for (int64_t j = 0; j < g.kw; ++j) {
          int64_t tw = iw + g.pw - j;
          if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.wo) continue;
          acc += gy[((n * g.co + co) * g.ho + th / g.sh) * g.wo + tw / g.sw] * w[((co * g.ci + ci) * g.kh + i) * g.kw + j];
        }
      }
    gx[idx] = acc;
  }
}

// gw[co, ci, i, j] = sum_{n, oh, ow} gy[n, co, oh, ow] x[n, ci, oh*sh - ph + i, ow*sw - pw + j]
template <class T>
__global__ void conv_backward_weight_naive(const T* gy, const T* x, T* gw, ConvGeom g) {
  DRIFT_CUDA_KERNEL_LOOP(idx, g.co * g.ci * g.kh * g.kw) {
    int64_t j = idx % g.kw, i = (idx / g.kw) % g.kh, ci = (idx / (g.kw * g.kh)) % g.ci, co = idx / (g.kw * g.kh * g.ci);
    T acc = T(0);
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t oh = 0; oh < g.ho; ++oh) {
        int64_t ih = oh * g.sh - g.ph + i;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t ow = 0; ow < g.wo; ++ow) {
          int64_t iw = ow * g.sw - g.pw + j;
          if (iw < 0 || iw >= g.w) continue;
          acc += gy[((n * g.co + co) * g.ho + oh) * g.wo + ow] * x[((n * g.ci + ci) * g.h + ih) * g.w + iw];
        }
      }
    gw[idx] = acc;
  }
}

// ---- im2col / col2im -----------------------------------------------------------------
// col for images n0 .. n0+nb-1 (b = n - n0); k = (ci, i, j), p = (oh, ow).
// Layout [b, k, p] (per-image matrices, batch_major) or [k, b, p] (one
// K x nb*P matrix, used by the weight gradient).
template <class T>
__global__ void im2col(const T* x, T* col, ConvGeom g, int64_t n0, int64_t nb, bool batch_major) {
  int64_t K = g.K(), P = g.P();
  DRIFT_CUDA_KERNEL_LOOP(idx, nb * K * P) {
    int64_t p = idx % P, k = (idx / P) % K, b = idx / (P * K);
    int64_t ow = p % g.wo, oh = p / g.wo;
    int64_t j = k % g.kw, i = (k / g.kw) % g.kh, ci = k / (g.kw * g.kh);
    int64_t ih = oh * g.sh - g.ph + i, iw = ow * g.sw - g.pw + j;
    T v = (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? x[(((n0 + b) * g.ci + ci) * g.h + ih) * g.w + iw] : T(0);
    col[batch_major ? idx : (k * nb + b) * P + p] = v;
  }
}

// gyt[co, b, p] = gy[n0 + b, co, p]: the chunk's output gradient as one
// Co x nb*P matrix.
template <class T>
__global__ void gather_channels_first(const T* gy, T* gyt, int64_t co, int64_t p, int64_t n0, int64_t nb) {
  DRIFT_CUDA_KERNEL_LOOP(idx, nb * co * p) {
    int64_t q = idx % p, c = (idx / p) % co, b = idx / (p * co);
    gyt[(c * nb + b) * p + q] = gy[((n0 + b) * co + c) * p + q];
  }
}

// gx[n, ci, ih, iw] = sum of the col entries that im2col read from there
// (a gather: one thread per input element, no atomics, deterministic).
template <class T>
__global__ void col2im(const T* col, T* gx, ConvGeom g, int64_t n0, int64_t nb) {
  int64_t K = g.K(), P = g.P();
  DRIFT_CUDA_KERNEL_LOOP(idx, nb * g.ci * g.h * g.w) {
    int64_t iw = idx % g.w, ih = (idx / g.w) % g.h, ci = (idx / (g.w * g.h)) % g.ci, b = idx / (g.w * g.h * g.ci);
    T acc = T(0);
    for (int64_t i = 0; i < g.kh; ++i) {
      int64_t th = ih + g.ph - i;
      if (th < 0 || th % g.sh != 0 || th / g.sh >= g.ho) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        int64_t tw = iw + g.pw - j;
        if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.wo) continue;
        acc += col[(b * K + (ci * g.kh + i) * g.kw + j) * P + (th / g.sh) * g.wo + tw / g.sw];
      }
    }
    gx[(n0 * g.ci * g.h * g.w) + idx] = acc;
  }
}

// y[n, co, p] += bias[co]
template <class T>
__global__ void add_bias(T* y, const T* bias, int64_t n, int64_t co, int64_t p) {
  DRIFT_CUDA_KERNEL_LOOP(idx, n * co * p) y[idx] += bias[(idx / p) % co];
}

// Images per im2col chunk, so that the col buffer stays under ~256 MiB.
int64_t chunk_images(const ConvGeom& g, size_t elem) {
  int64_t per_image = std::max<int64_t>(1, g.K() * g.P() * static_cast<int64_t>(elem));
  return std::max<int64_t>(1, std::min<int64_t>(g.n, (int64_t(256) << 20) / per_image));
}

// ---- fast paths --------------------------------------------------------------------------
template <class T>
void forward_fast(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g) {
  int64_t K = g.K(), P = g.P(), nb_max = chunk_images(g, sizeof(T));
  DeviceBuffer col(static_cast<size_t>(nb_max * K * P) * sizeof(T));
  for (int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    int64_t nb = std::min(nb_max, g.n - n0);
    im2col<T><<<blocks_for(nb * K * P), kThreads, 0, current_stream()>>>(x, col.as<T>(), g, n0, nb, true);
    DRIFT_CUDA_CHECK_LAUNCH();
    // y_b^T [P, Co] = col_b^T [P, K] W^T [K, Co]   (column-major view of y_b = W col_b)
    gemm_strided_batched(CUBLAS_OP_N, CUBLAS_OP_N, P, g.co, K, T(1), col.as<T>(), P, K * P, w, K, 0, T(0),
                         y + n0 * g.co * P, P, g.co * P, nb);
  }
  if (bias) {
    add_bias<T><<<blocks_for(g.n * g.co * P), kThreads, 0, current_stream()>>>(y, bias, g.n, g.co, P);
    DRIFT_CUDA_CHECK_LAUNCH();
  }
}

template <class T>
void backward_input_fast(const T* gy, const T* w, T* gx, const ConvGeom& g) {
  int64_t K = g.K(), P = g.P(), nb_max = chunk_images(g, sizeof(T));
  DeviceBuffer col(static_cast<size_t>(nb_max * K * P) * sizeof(T));
  for (int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    int64_t nb = std::min(nb_max, g.n - n0);
    // col_b = W^T gy_b; column-major: col_b^T [P, K] = gy_b^T [P, Co] (W^T)^T, W read with flag T
    gemm_strided_batched(CUBLAS_OP_N, CUBLAS_OP_T, P, K, g.co, T(1), gy + n0 * g.co * P, P, g.co * P, w, K, 0, T(0),
                         col.as<T>(), P, K * P, nb);
    col2im<T><<<blocks_for(nb * g.ci * g.h * g.w), kThreads, 0, current_stream()>>>(col.as<T>(), gx, g, n0, nb);
    DRIFT_CUDA_CHECK_LAUNCH();
  }
}

// gW [Co, K] = sum over the chunks of gy_chunk [Co, nb*P] col_chunk^T [nb*P, K]:
// one GEMM per chunk with the whole chunk in its inner dimension.
template <class T>
void backward_weight_fast(const T* gy, const T* x, T* gw, const ConvGeom& g) {
  int64_t K = g.K(), P = g.P(), nb_max = chunk_images(g, sizeof(T));
  DeviceBuffer col(static_cast<size_t>(nb_max * K * P) * sizeof(T));
  DeviceBuffer gyt(static_cast<size_t>(nb_max * g.co * P) * sizeof(T));
  for (int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    int64_t nb = std::min(nb_max, g.n - n0), L = nb * P;
    im2col<T><<<blocks_for(nb * K * P), kThreads, 0, current_stream()>>>(x, col.as<T>(), g, n0, nb, false);
    DRIFT_CUDA_CHECK_LAUNCH();
    gather_channels_first<T><<<blocks_for(nb * g.co * P), kThreads, 0, current_stream()>>>(gy, gyt.as<T>(), g.co, P, n0, nb);
    DRIFT_CUDA_CHECK_LAUNCH();
    // column-major: gW^T [K, Co] (+)= col [K, L] (row-major memory, read with flag T) gyt^T [L, Co]
    T beta = n0 == 0 ? T(0) : T(1);
    gemm_strided_batched(CUBLAS_OP_T, CUBLAS_OP_N, K, g.co, L, T(1), col.as<T>(), L, 0, gyt.as<T>(), L, 0, beta, gw,
                         K, 0, 1);
  }
}

void conv2d(const KernelArgs& args);

// 16-bit operands: tensor cores (Fast), or the float32 path on widened operands.
void conv2d_half(const KernelArgs& args, const ConvGeom& g) {
  const Tensor& x = *args.in[0];
  const Tensor& w = *args.in[1];
  const Tensor* bias = args.in[2];
  const bool has_bias = bias && bias->defined();
  Tensor& y = *args.out[0];
  if (kernel_variant() == KernelVariant::Fast && g.K() > 0) {
    DeviceBuffer sx, sw, sb;
    const void* xp = contiguous_data(x, sx);
    const void* wp = contiguous_data(w, sw);
    const void* bp = has_bias ? contiguous_data(*bias, sb) : nullptr;
    const ConvTcGeom tg{g.n, g.ci, g.h, g.w, g.co, g.kh, g.kw, g.ho, g.wo, g.sh, g.sw, g.ph, g.pw};
    if (run_conv2d_tensor_cores(y.dtype(), xp, wp, bp, y.data_ptr(), tg)) return;
  }
  Tensor x32 = ops::to(x, DType::Float32), w32 = ops::to(w, DType::Float32);
  Tensor b32 = has_bias ? ops::to(*bias, DType::Float32) : Tensor();
  Tensor y32 = ops::empty(y.shape(), DType::Float32, y.device());
  KernelArgs a32;
  a32.in = {&x32, &w32, has_bias ? &b32 : nullptr};
  a32.out = {&y32};
  a32.params = args.params;
  conv2d(a32);
  ops::copy_(y, y32);  // rounded once to the 16-bit type
}

void conv2d(const KernelArgs& args) {
  const Tensor& x = *args.in[0];
  const Tensor& w = *args.in[1];
  const Tensor* bias = args.in[2];
  Tensor& y = *args.out[0];
  check_contiguous_out(y, "Conv2d");
  ConvGeom g = make_geom(x.shape(), w.shape(), y.shape(), args.p<Conv2dParams>(), "Conv2d");
  if (y.numel() == 0) return;
  if (is_half(y.dtype())) return conv2d_half(args, g);
  DeviceBuffer sx, sw, sb;
  dispatch_float(y.dtype(), "Conv2d", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = contiguous_ptr<T>(x, sx);
    const T* wp = contiguous_ptr<T>(w, sw);
    const T* bp = (bias && bias->defined()) ? contiguous_ptr<T>(*bias, sb) : nullptr;
    T* yp = static_cast<T*>(y.data_ptr());
    if (g.K() == 0) {  // no input channels: y = bias (or 0)
      zero_device(yp, y.numel() * sizeof(T));
      if (bp) {
        add_bias<T><<<blocks_for(y.numel()), kThreads, 0, current_stream()>>>(yp, bp, g.n, g.co, g.P());
        DRIFT_CUDA_CHECK_LAUNCH();
      }
    } else if (kernel_variant() == KernelVariant::Naive) {
      conv_forward_naive<T><<<blocks_for(y.numel()), kThreads, 0, current_stream()>>>(xp, wp, bp, yp, g);
      DRIFT_CUDA_CHECK_LAUNCH();
    } else {
      forward_fast<T>(xp, wp, bp, yp, g);
    }
  });
}

void conv2d_backward_input(const KernelArgs& args) {
  const Tensor& gy = *args.in[0];
  const Tensor& w = *args.in[1];
  Tensor& gx = *args.out[0];
  check_contiguous_out(gx, "Conv2dBackwardInput");
  ConvGeom g = make_geom(gx.shape(), w.shape(), gy.shape(), args.p<Conv2dParams>(), "Conv2dBackwardInput");
  if (gx.numel() == 0) return;
  DeviceBuffer sgy, sw;
  dispatch_float(gx.dtype(), "Conv2dBackwardInput", [&](auto tag) {
    using T = decltype(tag);
    const T* gyp = contiguous_ptr<T>(gy, sgy);
    const T* wp = contiguous_ptr<T>(w, sw);
    T* gxp = static_cast<T*>(gx.data_ptr());
    if (g.co == 0 || g.P() == 0) {
      zero_device(gxp, gx.numel() * sizeof(T));
    } else if (kernel_variant() == KernelVariant::Naive) {
      conv_backward_input_naive<T><<<blocks_for(gx.numel()), kThreads, 0, current_stream()>>>(gyp, wp, gxp, g);
      DRIFT_CUDA_CHECK_LAUNCH();
    } else {
      backward_input_fast<T>(gyp, wp, gxp, g);
    }
  });
}

void conv2d_backward_weight(const KernelArgs& args) {
  const Tensor& gy = *args.in[0];
  const Tensor& x = *args.in[1];
  Tensor& gw = *args.out[0];
  check_contiguous_out(gw, "Conv2dBackwardWeight");
  ConvGeom g = make_geom(x.shape(), gw.shape(), gy.shape(), args.p<Conv2dParams>(), "Conv2dBackwardWeight");
  if (gw.numel() == 0) return;
  DeviceBuffer sgy, sx;
  dispatch_float(gw.dtype(), "Conv2dBackwardWeight", [&](auto tag) {
    using T = decltype(tag);
    const T* gyp = contiguous_ptr<T>(gy, sgy);
    const T* xp = contiguous_ptr<T>(x, sx);
    T* gwp = static_cast<T*>(gw.data_ptr());
    if (g.n == 0 || g.P() == 0) {
      zero_device(gwp, gw.numel() * sizeof(T));
    } else if (kernel_variant() == KernelVariant::Naive) {
      conv_backward_weight_naive<T><<<blocks_for(gw.numel()), kThreads, 0, current_stream()>>>(gyp, xp, gwp, g);
      DRIFT_CUDA_CHECK_LAUNCH();
    } else {
      backward_weight_fast<T>(gyp, xp, gwp, g);
    }
  });
}

}  // namespace

void register_conv_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Conv2d)] = conv2d;
  b.half_native[static_cast<int>(OpKind::Conv2d)] = true;  // bf16/fp16: tensor cores (cuda/conv_tc.cu)
  b.kernels[static_cast<int>(OpKind::Conv2dBackwardInput)] = conv2d_backward_input;
  b.kernels[static_cast<int>(OpKind::Conv2dBackwardWeight)] = conv2d_backward_weight;
}

}  // namespace drift::cuda
