// The AVX-512 level of the vectorised transcendentals (tensor/cpu/vecmath.h);
// the math is in tensor/cpu/vecmath_impl.h.
#include "tensor/cpu/avx512/simd_f32.h"
#include "tensor/cpu/vecmath.h"
#include "tensor/cpu/vecmath_impl.h"

namespace drift::cpu {
namespace avx512 {
using namespace vecimpl;
const VecMath kTable = DRIFT_VECMATH_TABLE(F16);
}  // namespace avx512

const VecMath& vecmath_avx512() { return avx512::kTable; }

}  // namespace drift::cpu
