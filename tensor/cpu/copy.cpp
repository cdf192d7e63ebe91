// CPU kernels: Fill (out <- value) and Copy (out <- in, any strides, any dtype pair).
#include <cstring>
#include <type_traits>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"

namespace drift::cpu {
namespace {

template <class T>
void fill_typed(Tensor& out, double value) {
  const T v = static_cast<T>(value);
  for_each_strided<1>({&out}, [v](char* const* p, const int64_t* s, int64_t n) {
    T* o = reinterpret_cast<T*>(p[0]);
    if (s[0] == sizeof(T)) {
      for (int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
    }
  });
}

void fill_kernel(const KernelArgs& args) {
  Tensor& out = *args.out[0];
  double v = args.p<FillParams>().value;
  switch (out.dtype()) {
    case DType::Float32: fill_typed<float>(out, v); break;
    case DType::Float64: fill_typed<double>(out, v); break;
    case DType::Int64: fill_typed<int64_t>(out, v); break;
  }
}

// out[i] = To(in[i]).
template <class To, class From>
void copy_typed(Tensor& out, const Tensor& in) {
  for_each_strided<2>({&out, &in}, [](char* const* p, const int64_t* s, int64_t n) {
    To* o = reinterpret_cast<To*>(p[0]);
    const From* a = reinterpret_cast<const From*>(p[1]);
    if (s[0] == sizeof(To) && s[1] == sizeof(From)) {
      if constexpr (std::is_same_v<To, From>) {
        std::memcpy(o, a, static_cast<size_t>(n) * sizeof(To));
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = static_cast<To>(a[i]);
      }
    } else if (s[0] == sizeof(To) && s[1] == 0) {
      const To v = static_cast<To>(*a);
      for (int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<To*>(p[0] + i * s[0]) = static_cast<To>(*reinterpret_cast<const From*>(p[1] + i * s[1]));
    }
  });
}

template <class To>
void copy_from(Tensor& out, const Tensor& in) {
  switch (in.dtype()) {
    case DType::Float32: copy_typed<To, float>(out, in); break;
    case DType::Float64: copy_typed<To, double>(out, in); break;
    case DType::Int64: copy_typed<To, int64_t>(out, in); break;
  }
}

// in[0] has out[0]'s shape (the frontend expands it); strides are arbitrary.
void copy_kernel(const KernelArgs& args) {
  Tensor& out = *args.out[0];
  const Tensor& in = *args.in[0];
  switch (out.dtype()) {
    case DType::Float32: copy_from<float>(out, in); break;
    case DType::Float64: copy_from<double>(out, in); break;
    case DType::Int64: copy_from<int64_t>(out, in); break;
  }
}

}  // namespace

void register_copy_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Fill)] = fill_kernel;
  b.kernels[static_cast<int>(OpKind::Copy)] = copy_kernel;
}

}  // namespace drift::cpu
