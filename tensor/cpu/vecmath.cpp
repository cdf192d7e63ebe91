// The generic (reference) level of the float32 transcendentals and the
// dispatch to the vector levels (tensor/cpu/vecmath.h). The reference computes
// every value in double with the C library and rounds it once to float.
#include "tensor/cpu/vecmath.h"

#include <cmath>

namespace drift::cpu {
namespace {

double exp_d(double x) { return std::exp(x); }
double log_d(double x) { return std::log(x); }
double tanh_d(double x) { return std::tanh(x); }
double erf_d(double x) { return std::erf(x); }

template <double (*F)(double)>
void map_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(F(static_cast<double>(x[i])));
}

void silu_backward_generic(const float* g, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = static_cast<float>(silu_backward_ref(g[i], x[i]));
}

const VecMath kGeneric = {{map_ref<exp_d>, map_ref<log_d>, map_ref<tanh_d>, map_ref<sigmoid_ref>, map_ref<silu_ref>,
                           map_ref<gelu_ref>, map_ref<erf_d>},
                          silu_backward_generic};

}  // namespace

const char* vec_fn_name(VecFn f) {
  static const char* names[] = {"exp", "log", "tanh", "sigmoid", "silu", "gelu", "erf"};
  const int i = static_cast<int>(f);
  return i >= 0 && i < kNumVecFns ? names[i] : "unknown";
}

const VecMath* vecmath(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Generic: return &kGeneric;
#if defined(DRIFT_X86_KERNELS)
    case CpuIsa::Avx2: return &vecmath_avx2();
    case CpuIsa::Avx512: return &vecmath_avx512();
#else
    default: return nullptr;
#endif
  }
  return nullptr;
}

const VecMath& active_vecmath() {
  const VecMath* t = vecmath(active_isa());
  return t ? *t : kGeneric;
}

}  // namespace drift::cpu
