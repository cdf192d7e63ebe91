// TEMPORARY placeholder: replaced by the real kernels of this family.
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {
void not_yet(const KernelArgs&) { throw Error("CPU kernel not implemented yet (family copy)"); }
}  // namespace

void register_copy_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Fill)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Copy)] = not_yet;
}

}  // namespace drift::cpu
