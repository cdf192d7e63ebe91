// 2-D convolution kernels on the CPU (Conv2d and its two backward passes).
//
// Kernel arguments (shapes and the im2col method in conv_common.h):
//   Conv2d:               in = {x, w, bias or null}, out = {y}
//   Conv2dBackwardInput:  in = {dy, w},              out = {dx}
//   Conv2dBackwardWeight: in = {dy, x},              out = {dw}
//
// float32 on an avx2 / avx512 level goes to that level's kernels
// (tensor/cpu/conv_fast.h compiled in tensor/cpu/avx2|avx512, drift's GEMM);
// the portable path here (im2col / col2im + OpenBLAS) is float64 (the
// gradient checks), the generic level, and non-x86 builds.
#include <type_traits>

#include "tensor/cpu/blas.h"
#include "tensor/cpu/conv_common.h"
#include "tensor/cpu/isa_kernels.h"
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {

ConvGeom make_geom(const Tensor& x_like, const Tensor& w_like, const Tensor& y_like, const Conv2dParams& p) {
  ConvGeom g;
  g.N = x_like.size(0);
  g.C = x_like.size(1);
  g.H = x_like.size(2);
  g.W = x_like.size(3);
  g.O = w_like.size(0);
  g.kh = w_like.size(2);
  g.kw = w_like.size(3);
  g.Ho = y_like.size(2);
  g.Wo = y_like.size(3);
  g.sh = p.stride_h;
  g.sw = p.stride_w;
  g.ph = p.pad_h;
  g.pw = p.pad_w;
  return g;
}

// The portable GEMM: float32 through cpu::sgemm (split over output blocks),
// float64 through OpenBLAS (which threads by itself outside a parallel region).
template <class T>
struct PortableGemm {
  void operator()(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
                  bool accumulate, T* C, int64_t ldc, bool parallel) const {
    if constexpr (std::is_same_v<T, float>)
      sgemm(ta, tb, M, N, K, A, lda, B, ldb, accumulate, C, ldc, parallel);
    else
      gemm<T>(ta, tb, M, N, K, T(1), A, lda, B, ldb, accumulate ? T(1) : T(0), C, ldc);
  }
};

// The float32 kernels of the active ISA level; false on the portable level.
bool isa_forward(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) {
#if defined(DRIFT_X86_KERNELS)
  switch (active_isa()) {
    case CpuIsa::Avx512: return avx512::conv2d_forward(x, w, bias, y, g), true;
    case CpuIsa::Avx2: return avx2::conv2d_forward(x, w, bias, y, g), true;
    case CpuIsa::Generic: break;
  }
#endif
  return false;
}
bool isa_backward_input(const float* dy, const float* w, float* dx, const ConvGeom& g) {
#if defined(DRIFT_X86_KERNELS)
  switch (active_isa()) {
    case CpuIsa::Avx512: return avx512::conv2d_backward_input(dy, w, dx, g), true;
    case CpuIsa::Avx2: return avx2::conv2d_backward_input(dy, w, dx, g), true;
    case CpuIsa::Generic: break;
  }
#endif
  return false;
}
bool isa_backward_weight(const float* dy, const float* x, float* dw, const ConvGeom& g) {
#if defined(DRIFT_X86_KERNELS)
  switch (active_isa()) {
    case CpuIsa::Avx512: return avx512::conv2d_backward_weight(dy, x, dw, g), true;
    case CpuIsa::Avx2: return avx2::conv2d_backward_weight(dy, x, dw, g), true;
    case CpuIsa::Generic: break;
  }
#endif
  return false;
}

template <class T>
void conv2d_forward(const KernelArgs& args) {
  const Tensor& xt = *args.in[0];
  const Tensor& wt = *args.in[1];
  Tensor& yt = *args.out[0];
  const ConvGeom g = make_geom(xt, wt, yt, args.p<Conv2dParams>());
  const T* bias = args.in[2] ? args.in[2]->data<T>() : nullptr;
  if constexpr (std::is_same_v<T, float>)
    if (isa_forward(xt.data<T>(), wt.data<T>(), bias, yt.data<T>(), g)) return;
  generic::conv_forward_im2col<T>(xt.data<T>(), wt.data<T>(), bias, yt.data<T>(), g, PortableGemm<T>{},
                                  generic::im2col_chunk_plain<T>);
}

template <class T>
void conv2d_backward_input(const KernelArgs& args) {
  const Tensor& dyt = *args.in[0];
  const Tensor& wt = *args.in[1];
  Tensor& dxt = *args.out[0];
  const ConvGeom g = make_geom(dxt, wt, dyt, args.p<Conv2dParams>());
  if constexpr (std::is_same_v<T, float>)
    if (isa_backward_input(dyt.data<T>(), wt.data<T>(), dxt.data<T>(), g)) return;
  generic::conv_backward_input_col2im<T>(dyt.data<T>(), wt.data<T>(), dxt.data<T>(), g, PortableGemm<T>{});
}

template <class T>
void conv2d_backward_weight(const KernelArgs& args) {
  const Tensor& dyt = *args.in[0];
  const Tensor& xt = *args.in[1];
  Tensor& dwt = *args.out[0];
  const ConvGeom g = make_geom(xt, dwt, dyt, args.p<Conv2dParams>());
  const T* x = xt.data<T>();
  if constexpr (std::is_same_v<T, float>)
    if (isa_backward_weight(dyt.data<T>(), x, dwt.data<T>(), g)) return;
  // dw += dy_chunk[O, cnt*L] @ cols^T[cnt*L, CKK], chunk by chunk in image order.
  const int64_t L = g.L(), CKK = g.CKK(), img = g.C * g.H * g.W;
  const generic::Plan plan = generic::make_plan(g, true);
  generic::Workspace<T> cols(CKK * plan.chunk * L);
  const PortableGemm<T> gemm_fn;
  generic::conv_backward_weight_chunks<T>(dyt.data<T>(), dwt.data<T>(), g, [&](int64_t n0, int64_t cnt, const T* A,
                                                                               T* acc) {
    const T* B = x + n0 * img;  // a 1x1 stride-1 unpadded conv has cols[n] = x[n]
    if (!(g.pointwise() && cnt == 1)) {
      generic::im2col_chunk_plain(x, g, n0, cnt, cols.ptr, true);
      B = cols.ptr;
    }
    gemm_fn(false, true, g.O, CKK, cnt * L, A, cnt * L, B, cnt * L, true, acc, CKK, true);
  });
}

template <template <class> class K>
void by_dtype(const KernelArgs& args, const char* what) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: return K<float>::run(args);
    case DType::Float64: return K<double>::run(args);
    default: throw Error(str(what, ": expected float32 or float64, got ", dtype_name(args.out[0]->dtype())));
  }
}
template <class T> struct Fwd { static void run(const KernelArgs& a) { conv2d_forward<T>(a); } };
template <class T> struct BwdIn { static void run(const KernelArgs& a) { conv2d_backward_input<T>(a); } };
template <class T> struct BwdW { static void run(const KernelArgs& a) { conv2d_backward_weight<T>(a); } };

void conv2d(const KernelArgs& a) { by_dtype<Fwd>(a, "conv2d"); }
void conv2d_bwd_input(const KernelArgs& a) { by_dtype<BwdIn>(a, "conv2d_backward_input"); }
void conv2d_bwd_weight(const KernelArgs& a) { by_dtype<BwdW>(a, "conv2d_backward_weight"); }

}  // namespace

void register_conv_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Conv2d)] = conv2d;
  b.kernels[static_cast<int>(OpKind::Conv2dBackwardInput)] = conv2d_bwd_input;
  b.kernels[static_cast<int>(OpKind::Conv2dBackwardWeight)] = conv2d_bwd_weight;
}

}  // namespace drift::cpu
