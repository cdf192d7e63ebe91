// index_select and index_add along the middle dim of [outer, n, inner]
// (contiguous), with an int64 index [m]:
//   IndexSelect: in = {src [outer, n, inner], index [m]}, out = {dst [outer, m, inner]}
//                dst[o, i, j] = src[o, index[i], j]
//   IndexAdd:    in = {src [outer, m, inner], index [m]}, out = {dst [outer, n, inner]}
//                dst = 0;  dst[o, index[i], j] += src[o, i, j]   (repeated indices accumulate)
// Every index is checked against [0, n) before any work starts.
#include <algorithm>
#include <cstring>

#include "tensor/cpu/kernels.h"

namespace drift::cpu {
namespace {

void check_indices(const int64_t* idx, int64_t m, int64_t n, const char* op) {
  for (int64_t i = 0; i < m; ++i) {
    DRIFT_CHECK(idx[i] >= 0 && idx[i] < n, op, ": index ", idx[i], " at position ", i,
                " is out of range for a dimension of size ", n, " (expected 0 <= index < ", n, ")");
  }
}

template <class T>
void index_select(const KernelArgs& args) {
  const IndexParams& p = args.p<IndexParams>();
  const T* src = args.in[0]->data<T>();
  const int64_t* idx = args.in[1]->data<int64_t>();
  T* dst = args.out[0]->data<T>();
  check_indices(idx, p.m, p.n, "index_select");
  const int64_t rows = p.outer * p.m;
#pragma omp parallel for schedule(static) if (rows * p.inner > 4096)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / p.m, i = r % p.m;
    std::memcpy(dst + r * p.inner, src + (o * p.n + idx[i]) * p.inner, static_cast<size_t>(p.inner) * sizeof(T));
  }
}

template <class T>
void index_add(const KernelArgs& args) {
  const IndexParams& p = args.p<IndexParams>();
  const T* src = args.in[0]->data<T>();
  const int64_t* idx = args.in[1]->data<int64_t>();
  T* dst = args.out[0]->data<T>();
  check_indices(idx, p.m, p.n, "index_add");
  std::fill(dst, dst + p.outer * p.n * p.inner, T(0));
  // Different o never collide; within one o, a repeated index must be added
  // by one thread, so split the inner dim instead when outer is small.
  if (p.outer >= 4 || p.inner < 256) {
#pragma omp parallel for schedule(static) if (p.outer * p.m * p.inner > 4096)
    for (int64_t o = 0; o < p.outer; ++o) {
      for (int64_t i = 0; i < p.m; ++i) {
        const T* s = src + (o * p.m + i) * p.inner;
        T* d = dst + (o * p.n + idx[i]) * p.inner;
        for (int64_t j = 0; j < p.inner; ++j) d[j] += s[j];
      }
    }
  } else {
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (p.inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t j0 = b * kBlock, j1 = std::min(p.inner, j0 + kBlock);
      for (int64_t o = 0; o < p.outer; ++o) {
        for (int64_t i = 0; i < p.m; ++i) {
          const T* s = src + (o * p.m + i) * p.inner;
          T* d = dst + (o * p.n + idx[i]) * p.inner;
          for (int64_t j = j0; j < j1; ++j) d[j] += s[j];
        }
      }
    }
  }
}

template <template <class> class K>
void by_dtype(const KernelArgs& args, const char* what) {
  switch (args.out[0]->dtype()) {
    case DType::Float32: return K<float>::run(args);
    case DType::Float64: return K<double>::run(args);
    case DType::Int64: return K<int64_t>::run(args);
    default: kernel_dtype_error("index.cpp", args.out[0]->dtype());
  }
  throw Error(str(what, ": unsupported dtype ", dtype_name(args.out[0]->dtype())));
}
template <class T> struct Select { static void run(const KernelArgs& a) { index_select<T>(a); } };
template <class T> struct Add { static void run(const KernelArgs& a) { index_add<T>(a); } };

void index_select_kernel(const KernelArgs& a) { by_dtype<Select>(a, "index_select"); }
void index_add_kernel(const KernelArgs& a) { by_dtype<Add>(a, "index_add"); }

}  // namespace

void register_index_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::IndexSelect)] = index_select_kernel;
  b.kernels[static_cast<int>(OpKind::IndexAdd)] = index_add_kernel;
}

}  // namespace drift::cpu
