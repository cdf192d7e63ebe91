// CPU kernels: Fill (out <- value) and Copy (out <- in, any strides, any dtype pair,
// the 16-bit storage types included: they convert through float32, tensor/half.h).
#include <algorithm>
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
    case DType::BFloat16: fill_typed<bfloat16>(out, v); break;
    case DType::Float16: fill_typed<float16>(out, v); break;
  }
}

// A copy whose two innermost (coalesced) dims are swapped between source and
// destination, e.g. contiguous(permute(x, {0, 2, 3, 1})): out [.., R, C] with unit
// stride along C, in with unit stride along R. Done in kTile x kTile tiles so that
// each source line is used fully while it is in cache. Returns false if the layout
// is not of this kind (or tiling does not pay, see below).
constexpr int64_t kTile = 32;

template <class To, class From>
bool copy_transposed(Tensor& out, const Tensor& in) {
  LoopPlan<2> p = make_loop_plan<2>({&out, &in});
  const int L = p.ndim - 1;
  if (p.ndim < 2 || p.numel < 4096) return false;
  if (p.stride[0][L] != sizeof(To) || p.stride[1][L - 1] != sizeof(From) || p.stride[1][L] == sizeof(From))
    return false;
  const int64_t rows = p.shape[L - 1], cols = p.shape[L];
  const int64_t out_rs = p.stride[0][L - 1], in_cs = p.stride[1][L];  // bytes
  // The plain loop reads a column of `cols` source elements per output row and
  // finds them in L1 again for the next row, unless the source stride is a
  // multiple of 512 bytes (e.g. H*W = 32*32 floats): then the column maps to a
  // handful of L1 sets and thrashes. Measured: tiles are 2-4x faster there and
  // 1.7x slower for strides like 28*28 floats, so tile only in that case.
  if (in_cs % 512 != 0) return false;
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  const int64_t outer = p.numel / (rows * cols), tiles = outer * row_tiles * col_tiles;
  const int64_t grain = std::max<int64_t>(1, kGrain / (kTile * kTile));
  parallel_for(0, tiles, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t o = t / (row_tiles * col_tiles), rt = (t / col_tiles) % row_tiles, ct = t % col_tiles;
      // Base pointers of outer index o (row-major over the dims before the last two).
      char* ob = p.base[0];
      const char* ib = p.base[1];
      for (int d = L - 2; d >= 0; --d) {
        int64_t idx = o % p.shape[d];
        o /= p.shape[d];
        ob += idx * p.stride[0][d];
        ib += idx * p.stride[1][d];
      }
      const int64_t r0 = rt * kTile, r1 = std::min(rows, r0 + kTile);
      const int64_t c0 = ct * kTile, c1 = std::min(cols, c0 + kTile);
      for (int64_t c = c0; c < c1; ++c) {
        const From* src = reinterpret_cast<const From*>(ib + c * in_cs);  // unit stride along r
        for (int64_t r = r0; r < r1; ++r)
          reinterpret_cast<To*>(ob + r * out_rs)[c] = static_cast<To>(src[r]);
      }
    }
  });
  return true;
}

// out[i] = To(in[i]).
template <class To, class From>
void copy_typed(Tensor& out, const Tensor& in) {
  if (copy_transposed<To, From>(out, in)) return;
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
    case DType::BFloat16: copy_typed<To, bfloat16>(out, in); break;
    case DType::Float16: copy_typed<To, float16>(out, in); break;
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
    case DType::BFloat16: copy_from<bfloat16>(out, in); break;
    case DType::Float16: copy_from<float16>(out, in); break;
  }
}

}  // namespace

void register_copy_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Fill)] = fill_kernel;
  b.kernels[static_cast<int>(OpKind::Copy)] = copy_kernel;
  // Both convert to and from the 16-bit types themselves.
  b.half_native[static_cast<int>(OpKind::Fill)] = true;
  b.half_native[static_cast<int>(OpKind::Copy)] = true;
}

}  // namespace drift::cpu
