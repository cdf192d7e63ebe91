// The AVX2+FMA level's float32 GroupNorm: tensor/cpu/norm_impl.h compiled with
// this directory's flags (CMakeLists.txt) into namespace drift::cpu::avx2.
#include "tensor/cpu/norm_impl.h"

namespace drift::cpu::avx2 {

void group_norm_forward_f32(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                            const GroupNormShape& p) {
  group_norm_forward<float>(x, w, b, y, mean, rstd, p, vecmath_avx2());
}

void group_norm_backward_f32(const float* dy, const float* x, const float* mean, const float* rstd, const float* w,
                             const float* b, float* dx, float* dw, float* db, const GroupNormShape& p) {
  group_norm_backward<float>(dy, x, mean, rstd, w, b, dx, dw, db, p, vecmath_avx2());
}

}  // namespace drift::cpu::avx2
