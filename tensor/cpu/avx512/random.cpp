// The AVX-512 level's float32 RandUniform batches: tensor/cpu/random_impl.h
// compiled with this directory's flags (and -ffp-contract=off, CMakeLists.txt).
#include "tensor/cpu/isa_kernels.h"
#include "tensor/cpu/random_impl.h"

namespace drift::cpu::avx512 {

void uniform_f32_batches(float* out, int64_t n, uint64_t seed, uint64_t offset, double a, double scale, int64_t q0,
                         int64_t q1) {
  uniform_batches<float>(out, n, seed, offset, a, scale, q0, q1);
}

}  // namespace drift::cpu::avx512
