// TEMPORARY placeholder: replaced by the real kernels of this family.
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {
void not_yet(const KernelArgs&) { throw Error("CPU kernel not implemented yet (family reduce)"); }
}  // namespace

void register_reduce_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Sum)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Max)] = not_yet;
  b.kernels[static_cast<int>(OpKind::Min)] = not_yet;
  b.kernels[static_cast<int>(OpKind::ArgMax)] = not_yet;
  b.kernels[static_cast<int>(OpKind::ArgMin)] = not_yet;
}

}  // namespace drift::cpu
