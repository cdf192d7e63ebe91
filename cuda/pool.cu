// Average pooling (k x k windows, stride k, no padding) and nearest-neighbour
// upsampling by an integer factor, with their backward passes. Tensors are
// NCHW; N and C are folded into one "plane" index. One thread per element of
// the tensor written, so no atomics are needed.
//   AvgPool2d:                 in = {x [N,C,H,W]},     out = {y [N,C,Ho,Wo]}, Ho = H / k
//   AvgPool2dBackward:         in = {gy [N,C,Ho,Wo]},  out = {gx [N,C,H,W]}
//   UpsampleNearest2d:         in = {x [N,C,H,W]},     out = {y [N,C,H*s,W*s]}, s = PoolParams::k
//   UpsampleNearest2dBackward: in = {gy [N,C,H*s,W*s]}, out = {gx [N,C,H,W]}
#include "cuda/common.cuh"

namespace drift::cuda {
namespace {

// y[pl, oh, ow] = 1/k^2 sum_{a,b < k} x[pl, oh*k + a, ow*k + b]
template <class T>
__global__ void avg_pool_forward(const T* x, T* y, int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo,
                                 int64_t k) {
  T scale = T(1) / static_cast<T>(k * k);
  DRIFT_CUDA_KERNEL_LOOP(idx, planes * ho * wo) {
    int64_t ow = idx % wo, oh = (idx / wo) % ho, pl = idx / (wo * ho);
    const T* p = x + (pl * h + oh * k) * w + ow * k;
    T acc = T(0);
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b) acc += p[a * w + b];
    y[idx] = acc * scale;
  }
}

// gx[pl, ih, iw] = gy[pl, ih/k, iw/k] / k^2 (0 for rows/cols the pooling dropped)
template <class T>
__global__ void avg_pool_backward(const T* gy, T* gx, int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo,
                                  int64_t k) {
  T scale = T(1) / static_cast<T>(k * k);
  DRIFT_CUDA_KERNEL_LOOP(idx, planes * h * w) {
    int64_t iw = idx % w, ih = (idx / w) % h, pl = idx / (w * h);
    int64_t oh = ih / k, ow = iw / k;
    gx[idx] = (oh < ho && ow < wo) ? gy[(pl * ho + oh) * wo + ow] * scale : T(0);
  }
}

// y[pl, oh, ow] = x[pl, oh/s, ow/s]
template <class T>
__global__ void upsample_forward(const T* x, T* y, int64_t planes, int64_t h, int64_t w, int64_t s) {
  int64_t ho = h * s, wo = w * s;
  DRIFT_CUDA_KERNEL_LOOP(idx, planes * ho * wo) {
    int64_t ow = idx % wo, oh = (idx / wo) % ho, pl = idx / (wo * ho);
    y[idx] = x[(pl * h + oh / s) * w + ow / s];
  }
}

// gx[pl, ih, iw] = sum_{a,b < s} gy[pl, ih*s + a, iw*s + b]
template <class T>
__global__ void upsample_backward(const T* gy, T* gx, int64_t planes, int64_t h, int64_t w, int64_t s) {
  int64_t ho = h * s, wo = w * s;
  DRIFT_CUDA_KERNEL_LOOP(idx, planes * h * w) {
    int64_t iw = idx % w, ih = (idx / w) % h, pl = idx / (w * h);
    const T* p = gy + (pl * ho + ih * s) * wo + iw * s;
    T acc = T(0);
    for (int64_t a = 0; a < s; ++a)
      for (int64_t b = 0; b < s; ++b) acc += p[a * wo + b];
    gx[idx] = acc;
  }
}

// (planes, H, W) of a 4-D NCHW shape.
void plane_dims(const Tensor& t, const char* name, int64_t& planes, int64_t& h, int64_t& w) {
  DRIFT_CHECK(t.dim() == 4, "CUDA ", name, ": expected a 4-D NCHW tensor, got shape ", shape_str(t.shape()));
  planes = t.size(0) * t.size(1);
  h = t.size(2);
  w = t.size(3);
}

enum class PoolOp { AvgForward, AvgBackward, UpForward, UpBackward };

template <PoolOp Op>
void run_pool(const KernelArgs& args, const char* name) {
  const Tensor& in = *args.in[0];
  Tensor& out = *args.out[0];
  check_contiguous_out(out, name);
  int64_t k = args.p<PoolParams>().k;
  DRIFT_CHECK(k >= 1, "CUDA ", name, ": window/scale must be >= 1, got ", k);
  int64_t pi, hi, wi, po, ho, wo;
  plane_dims(in, name, pi, hi, wi);
  plane_dims(out, name, po, ho, wo);
  DRIFT_CHECK(pi == po, "CUDA ", name, ": input ", shape_str(in.shape()), " and output ", shape_str(out.shape()),
              " differ in N*C");
  if (out.numel() == 0) return;
  DeviceBuffer scratch;
  dispatch_float(out.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* ip = contiguous_ptr<T>(in, scratch);
    T* op = static_cast<T*>(out.data_ptr());
    unsigned blocks = blocks_for(out.numel());
    if constexpr (Op == PoolOp::AvgForward) avg_pool_forward<T><<<blocks, kThreads, 0, current_stream()>>>(ip, op, pi, hi, wi, ho, wo, k);
    if constexpr (Op == PoolOp::AvgBackward) avg_pool_backward<T><<<blocks, kThreads, 0, current_stream()>>>(ip, op, pi, ho, wo, hi, wi, k);
    if constexpr (Op == PoolOp::UpForward) upsample_forward<T><<<blocks, kThreads, 0, current_stream()>>>(ip, op, pi, hi, wi, k);
    if constexpr (Op == PoolOp::UpBackward) upsample_backward<T><<<blocks, kThreads, 0, current_stream()>>>(ip, op, pi, ho, wo, k);
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_pool_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::AvgPool2d)] = [](const KernelArgs& a) {
    run_pool<PoolOp::AvgForward>(a, "AvgPool2d");
  };
  b.kernels[static_cast<int>(OpKind::AvgPool2dBackward)] = [](const KernelArgs& a) {
    run_pool<PoolOp::AvgBackward>(a, "AvgPool2dBackward");
  };
  b.kernels[static_cast<int>(OpKind::UpsampleNearest2d)] = [](const KernelArgs& a) {
    run_pool<PoolOp::UpForward>(a, "UpsampleNearest2d");
  };
  b.kernels[static_cast<int>(OpKind::UpsampleNearest2dBackward)] = [](const KernelArgs& a) {
    run_pool<PoolOp::UpBackward>(a, "UpsampleNearest2dBackward");
  };
}

}  // namespace drift::cuda
