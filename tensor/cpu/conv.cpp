// TEMPORARY placeholder: replaced by the real kernels of this family.
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {
void not_yet(const KernelArgs&) { throw Error("CPU kernel not implemented yet (family conv)"); }
}  // namespace

void register_conv_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Conv2d)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Conv2dBackwardInput)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Conv2dBackwardWeight)] = not_yet;
}

}  // namespace drift::cpu
