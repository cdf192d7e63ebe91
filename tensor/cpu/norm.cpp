// TEMPORARY placeholder: replaced by the real kernels of this family.
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {
void not_yet(const KernelArgs&) { throw Error("CPU kernel not implemented yet (family norm)"); }
}  // namespace

void register_norm_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::GroupNorm)] = not_yet;
  b.kernels[static_cast<int>(OpKind::GroupNormBackward)] = not_yet;
  b.kernels[static_cast<int>(OpKind::LayerNorm)] = not_yet;
  b.kernels[static_cast<int>(OpKind::LayerNormBackward)] = not_yet;
}

}  // namespace drift::cpu
