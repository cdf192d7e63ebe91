// GroupNorm and LayerNorm kernels: the math is in tensor/cpu/norm_impl.h;
// float32 runs the active ISA level's copy (tensor/cpu/avx2|avx512/norm.cpp),
// float64 and the portable level the copy compiled here.
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/norm_impl.h"

namespace drift::cpu {
namespace {

const void* opt_data(const Tensor* t) { return t ? t->data_ptr() : nullptr; }

GroupNormShape shape_of(const NormParams& p) { return {p.n, p.c, p.s, p.groups, p.eps, p.silu}; }

template <class T>
void group_norm_forward(const KernelArgs& args) {
  const NormParams& p = args.p<NormParams>();
  const T* x = args.in[0]->data<T>();
  const T* w = static_cast<const T*>(opt_data(args.in[1]));
  const T* b = static_cast<const T*>(opt_data(args.in[2]));
  T* y = args.out[0]->data<T>();
  T* mean = args.out[1]->data<T>();
  T* rstd = args.out[2]->data<T>();
  if constexpr (std::is_same_v<T, float>) {
#if defined(DRIFT_X86_KERNELS)
    switch (active_isa()) {
      case CpuIsa::Avx512: return avx512::group_norm_forward_f32(x, w, b, y, mean, rstd, shape_of(p));
      case CpuIsa::Avx2: return avx2::group_norm_forward_f32(x, w, b, y, mean, rstd, shape_of(p));
      case CpuIsa::Generic: break;
    }
#endif
  }
  generic::group_norm_forward<T>(x, w, b, y, mean, rstd, shape_of(p), active_vecmath());
}

template <class T>
void group_norm_backward(const KernelArgs& args) {
  const NormParams& p = args.p<NormParams>();
  const T* dy = args.in[0]->data<T>();
  const T* x = args.in[1]->data<T>();
  const T* mean = args.in[2]->data<T>();
  const T* rstd = args.in[3]->data<T>();
  const T* w = static_cast<const T*>(opt_data(args.in[4]));
  const T* b = p.silu ? static_cast<const T*>(opt_data(args.in[5])) : nullptr;
  T* dx = args.out[0]->data<T>();
  T* dw = args.out[1] ? args.out[1]->data<T>() : nullptr;
  T* db = args.out[2] ? args.out[2]->data<T>() : nullptr;
  if constexpr (std::is_same_v<T, float>) {
#if defined(DRIFT_X86_KERNELS)
    switch (active_isa()) {
      case CpuIsa::Avx512: return avx512::group_norm_backward_f32(dy, x, mean, rstd, w, b, dx, dw, db, shape_of(p));
      case CpuIsa::Avx2: return avx2::group_norm_backward_f32(dy, x, mean, rstd, w, b, dx, dw, db, shape_of(p));
      case CpuIsa::Generic: break;
    }
#endif
  }
  generic::group_norm_backward<T>(dy, x, mean, rstd, w, b, dx, dw, db, shape_of(p), active_vecmath());
}

enum class NormOp { Forward, Backward };

template <class T>
void run_norm(const KernelArgs& args, NormOp op) {
  switch (op) {
    case NormOp::Forward: return group_norm_forward<T>(args);
    case NormOp::Backward: return group_norm_backward<T>(args);
  }
}

template <NormOp op>
void norm_kernel(const KernelArgs& args) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: return run_norm<float>(args, op);
    case DType::Float64: return run_norm<double>(args, op);
    default: throw Error(str("normalisation: expected float32 or float64, got ", dtype_name(args.out[0]->dtype())));
  }
}

}  // namespace

void register_norm_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::GroupNorm)] = norm_kernel<NormOp::Forward>;
  b.kernels[static_cast<int>(OpKind::GroupNormBackward)] = norm_kernel<NormOp::Backward>;
}

}  // namespace drift::cpu
