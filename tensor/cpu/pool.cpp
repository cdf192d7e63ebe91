// TEMPORARY placeholder: replaced by the real kernels of this family.
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {
void not_yet(const KernelArgs&) { throw Error("CPU kernel not implemented yet (family pool)"); }
}  // namespace

void register_pool_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::AvgPool2d)] = not_yet;
  b.kernels[static_cast<int>(OpKind::AvgPool2dBackward)] = not_yet;
  b.kernels[static_cast<int>(OpKind::UpsampleNearest2d)] = not_yet;
  b.kernels[static_cast<int>(OpKind::UpsampleNearest2dBackward)] = not_yet;
}

}  // namespace drift::cpu
