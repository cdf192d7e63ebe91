// The AVX2 + FMA level of the vectorised transcendentals (tensor/cpu/vecmath.h);
// the math is in tensor/cpu/vecmath_impl.h.
#include "tensor/cpu/avx2/simd_f32.h"
#include "tensor/cpu/vecmath.h"
#include "tensor/cpu/vecmath_impl.h"

namespace drift::cpu {
namespace avx2 {
using namespace vecimpl;
const VecMath kTable = DRIFT_VECMATH_TABLE(F8);
}  // namespace avx2

const VecMath& vecmath_avx2() { return avx2::kTable; }

}  // namespace drift::cpu
