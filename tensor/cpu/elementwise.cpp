// TEMPORARY placeholder: replaced by the real kernels of this family.
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {
void not_yet(const KernelArgs&) { throw Error("CPU kernel not implemented yet (family elementwise)"); }
}  // namespace

void register_elementwise_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Add)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Sub)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Mul)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Div)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Pow)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Maximum)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Minimum)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Eq)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Ne)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Lt)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Le)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Gt)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Ge)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Where)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Neg)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Abs)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Sign)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Exp)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Log)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Sqrt)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Rsqrt)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Sin)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Cos)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Tanh)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Sigmoid)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Relu)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Silu)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Gelu)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Erf)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Affine)] = not_yet;
  b.kernels[static_cast<int>(OpKind::PowScalar)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Clamp)] = not_yet;
}

}  // namespace drift::cpu
