// TEMPORARY placeholder: replaced by the real kernels of this family.
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {
void not_yet(const KernelArgs&) { throw Error("CPU kernel not implemented yet (family random)"); }
}  // namespace

void register_random_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::RandUniform)] = not_yet;
  b.kernels[static_cast<int>(OpKind::RandNormal)] = not_yet;
}

}  // namespace drift::cpu
