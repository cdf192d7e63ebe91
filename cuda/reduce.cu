// Reductions over the middle dim of a contiguous [outer, reduce, inner] view;
// the output is [outer, inner] (the frontend permutes/reshapes so that any
// set of dims becomes this layout).
//   inner == 1 : the reduced elements of a row are adjacent. One warp per row
//                (shuffle reduction), or one block per row for long rows.
//   inner  > 1 : one thread per output (o, i) walks the reduce dim; threads
//                with neighbouring i read neighbouring addresses (coalesced).
// Sum/Max/Min write T; ArgMax/ArgMin write int64 (first index on ties; NaN
// counts as the extreme, as on the CPU).
#include <limits>

#include "cuda/common.cuh"

namespace drift::cuda {
namespace {

enum class RKind { Sum, Max, Min, ArgMax, ArgMin };

// A running value and the index it came from (the index matters for Arg*).
template <class T> struct Acc { T v; int64_t i; };

template <RKind K, class T>
__device__ __forceinline__ Acc<T> acc_init() {
  if constexpr (K == RKind::Sum) return {T(0), 0};
  else if constexpr (K == RKind::Max || K == RKind::ArgMax)
    return {std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                 : std::numeric_limits<T>::lowest(),
            std::numeric_limits<int64_t>::max()};
  else
    return {std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                 : std::numeric_limits<T>::max(),
            std::numeric_limits<int64_t>::max()};
}

// Whether partial result b beats a for Max (or Min): NaN wins (as in PyTorch
// and the CPU backend), and on ties the lower index wins, so the result does
// not depend on the reduction order.
template <bool IsMax, class T>
__device__ __forceinline__ bool beats(const Acc<T>& b, const Acc<T>& a) {
  bool b_nan = b.v != b.v, a_nan = a.v != a.v;
  if (b_nan || a_nan) return b_nan && (!a_nan || b.i < a.i);
  if (b.v == a.v) return b.i < a.i;
  return IsMax ? b.v > a.v : b.v < a.v;
}

template <RKind K, class T>
__device__ __forceinline__ Acc<T> acc_combine(Acc<T> a, Acc<T> b) {
  if constexpr (K == RKind::Sum) return {a.v + b.v, 0};
  else if constexpr (K == RKind::Max || K == RKind::ArgMax) return beats<true>(b, a) ? b : a;
  else return beats<false>(b, a) ? b : a;
}

template <RKind K, class T>
__device__ __forceinline__ void acc_store(void* out, int64_t idx, Acc<T> a) {
  if constexpr (K == RKind::ArgMax || K == RKind::ArgMin) static_cast<int64_t*>(out)[idx] = a.i;
  else static_cast<T*>(out)[idx] = a.v;
}

template <RKind K, class T>
__device__ __forceinline__ Acc<T> warp_reduce(Acc<T> a) {
  for (int delta = 16; delta > 0; delta >>= 1) {
    Acc<T> o{__shfl_down_sync(0xffffffffu, a.v, delta), __shfl_down_sync(0xffffffffu, a.i, delta)};
    a = acc_combine<K, T>(a, o);
  }
  return a;
}

// inner > 1: out[o, i] = reduce_r x[o, r, i]
template <RKind K, class T>
__global__ void reduce_columns(const T* x, void* out, int64_t outer, int64_t reduce, int64_t inner) {
  DRIFT_CUDA_KERNEL_LOOP(idx, outer * inner) {
    int64_t o = idx / inner, i = idx % inner;
    const T* p = x + o * reduce * inner + i;
    Acc<T> a = acc_init<K, T>();
    for (int64_t r = 0; r < reduce; ++r) a = acc_combine<K, T>(a, Acc<T>{p[r * inner], r});
    acc_store<K, T>(out, idx, a);
  }
}

// inner == 1, short rows: one warp per row.
template <RKind K, class T>
__global__ void reduce_rows_warp(const T* x, void* out, int64_t outer, int64_t reduce) {
  int lane = threadIdx.x % 32;
  int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  int64_t nwarps = static_cast<int64_t>(gridDim.x) * blockDim.x / 32;
  for (int64_t row = warp; row < outer; row += nwarps) {
    const T* p = x + row * reduce;
    Acc<T> a = acc_init<K, T>();
    for (int64_t r = lane; r < reduce; r += 32) a = acc_combine<K, T>(a, Acc<T>{p[r], r});
    a = warp_reduce<K, T>(a);
    if (lane == 0) acc_store<K, T>(out, row, a);
  }
}

// inner == 1, long rows: one block per row; warps reduce, then warp 0
// reduces the per-warp results kept in shared memory.
template <RKind K, class T>
__global__ void reduce_rows_block(const T* x, void* out, int64_t outer, int64_t reduce) {
  __shared__ T sv[32];
  __shared__ int64_t si[32];
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {
    const T* p = x + row * reduce;
    Acc<T> a = acc_init<K, T>();
    for (int64_t r = threadIdx.x; r < reduce; r += blockDim.x) a = acc_combine<K, T>(a, Acc<T>{p[r], r});
    a = warp_reduce<K, T>(a);
    if (lane == 0) {
      sv[warp] = a.v;
      si[warp] = a.i;
    }
    __syncthreads();
    if (warp == 0) {
      a = lane < nwarps ? Acc<T>{sv[lane], si[lane]} : acc_init<K, T>();
      a = warp_reduce<K, T>(a);
      if (lane == 0) acc_store<K, T>(out, row, a);
    }
    __syncthreads();  // sv/si are reused by the next row
  }
}

template <RKind K>
void run_reduce(const KernelArgs& args, const char* name) {
  const Tensor& x = *args.in[0];
  Tensor& out = *args.out[0];
  check_contiguous_out(out, name);
  const ReduceParams& p = args.p<ReduceParams>();
  DRIFT_CHECK(p.outer * p.reduce * p.inner == x.numel(), "CUDA ", name, ": [outer, reduce, inner] = [", p.outer,
              ", ", p.reduce, ", ", p.inner, "] does not match the input's ", x.numel(), " elements");
  DRIFT_CHECK(p.outer * p.inner == out.numel(), "CUDA ", name, ": output has ", out.numel(),
              " elements, expected outer*inner = ", p.outer * p.inner);
  constexpr bool arg = K == RKind::ArgMax || K == RKind::ArgMin;
  DRIFT_CHECK(arg ? out.dtype() == DType::Int64 : out.dtype() == x.dtype(), "CUDA ", name,
              ": unexpected output dtype ", dtype_name(out.dtype()), " for input ", dtype_name(x.dtype()));
  if (out.numel() == 0) return;
  DeviceBuffer scratch;
  dispatch_all(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = contiguous_ptr<T>(x, scratch);
    void* op = out.data_ptr();
    if (p.inner > 1 || p.reduce == 0) {
      reduce_columns<K, T><<<blocks_for(p.outer * p.inner), kThreads, 0, current_stream()>>>(xp, op, p.outer, p.reduce, p.inner);
    } else if (p.reduce >= 4096 && p.outer < 4096) {
      reduce_rows_block<K, T><<<static_cast<unsigned>(p.outer), 512, 0, current_stream()>>>(xp, op, p.outer, p.reduce);
    } else {
      reduce_rows_warp<K, T><<<blocks_for(p.outer * 32), kThreads, 0, current_stream()>>>(xp, op, p.outer, p.reduce);
    }
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

void register_reduce_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Sum)] = [](const KernelArgs& a) { run_reduce<RKind::Sum>(a, "Sum"); };
  b.kernels[static_cast<int>(OpKind::Max)] = [](const KernelArgs& a) { run_reduce<RKind::Max>(a, "Max"); };
  b.kernels[static_cast<int>(OpKind::Min)] = [](const KernelArgs& a) { run_reduce<RKind::Min>(a, "Min"); };
  b.kernels[static_cast<int>(OpKind::ArgMax)] = [](const KernelArgs& a) { run_reduce<RKind::ArgMax>(a, "ArgMax"); };
  b.kernels[static_cast<int>(OpKind::ArgMin)] = [](const KernelArgs& a) { run_reduce<RKind::ArgMin>(a, "ArgMin"); };
}

}  // namespace drift::cuda
