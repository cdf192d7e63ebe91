// TEMPORARY placeholder: replaced by the real kernels of this family.
#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {
void not_yet(const KernelArgs&) { throw Error("CPU kernel not implemented yet (family matmul)"); }
}  // namespace

void register_matmul_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Matmul)] = not_yet;
}

}  // namespace drift::cpu
