// TEMPORARY placeholder: replaced by the real kernels of this family.
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {
void not_yet(const KernelArgs&) { throw Error("CPU kernel not implemented yet (family index)"); }
}  // namespace

void register_index_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::IndexSelect)] = not_yet;
  b.kernels[static_cast<int>(OpKind::IndexAdd)] = not_yet;
}

}  // namespace drift::cpu
