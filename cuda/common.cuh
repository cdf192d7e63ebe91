#pragma once
// Helpers shared by the CUDA kernel files: launch sizes, dtype dispatch,
// strided (and broadcast) indexing, scratch buffers. Everything runs on the
// default stream, so work is ordered and a scratch block can go back to the
// caching allocator as soon as the kernels that use it are enqueued.
#include <array>
#include <cstdint>
#include <utility>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/check.h"
#include "cuda/kernels.h"
#include "tensor/backend.h"

namespace drift::cuda {

constexpr int kThreads = 256;  // threads per block for elementwise-style kernels

// Blocks for a grid-stride loop over n items (capped: each thread loops).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65536) b = 65536;
  return static_cast<unsigned>(b);
}

// Grid-stride loop: for (i = global thread id; i < n; i += all threads).
#define DRIFT_CUDA_KERNEL_LOOP(i, n)                                                   \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// Calls f(T{}) with T the C++ type of `t`. `what` names the op for the error.
template <class F>
void dispatch_float(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::Float32: f(float{}); return;
    case DType::Float64: f(double{}); return;
    default: break;
  }
  throw Error(str("CUDA ", what, ": expected a float32 or float64 tensor, got ", dtype_name(t)));
}
template <class F>
void dispatch_all(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::Float32: f(float{}); return;
    case DType::Float64: f(double{}); return;
    case DType::Int64: f(int64_t{}); return;
    default: break;
  }
  throw Error(str("CUDA ", what, ": unsupported dtype ", dtype_name(t)));
}

// The storage dtypes, 16-bit ones included (only Fill/Copy and the kernels
// marked half_native see those: dispatch widens them for the rest).
template <class F>
void dispatch_storage(DType t, const char* what, F&& f) {
  switch (t) {
    case DType::BFloat16: f(__nv_bfloat16{}); return;
    case DType::Float16: f(__half{}); return;
    default: dispatch_all(t, what, std::forward<F>(f));
  }
}

// Conversions between any two storage types; 16-bit types go through float32
// (round to nearest even), as on the CPU (tensor/half.h).
template <class T> struct is_16bit { static constexpr bool value = false; };
template <> struct is_16bit<__nv_bfloat16> { static constexpr bool value = true; };
template <> struct is_16bit<__half> { static constexpr bool value = true; };
template <class T> __host__ __device__ inline float to_f32(T v) { return static_cast<float>(v); }
template <> __host__ __device__ inline float to_f32<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __host__ __device__ inline float to_f32<__half>(__half v) { return __half2float(v); }
template <class T> __host__ __device__ inline T from_f32(float v) { return static_cast<T>(v); }
template <> __host__ __device__ inline __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __host__ __device__ inline __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <class To, class From>
__host__ __device__ inline To convert(From v) {
  if constexpr (is_16bit<To>::value || is_16bit<From>::value)
    return from_f32<To>(to_f32<From>(v));
  else
    return static_cast<To>(v);
}

// ---- strided, broadcasting indexing -------------------------------------------
// N operands that share one iteration shape (the output's). Operand k of
// element `linear` (row-major over `sizes`) lives at sum_d idx_d * strides[k][d].
// Broadcast dims have stride 0. Dims are coalesced on the host, so a
// contiguous tensor becomes a single dim of stride 1.
constexpr int kMaxDims = 12;

template <int N>
struct Strided {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[N][kMaxDims];

  __device__ __forceinline__ void offsets(int64_t linear, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t i = linear % sizes[d];
      linear /= sizes[d];
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += i * strides[k][d];
    }
  }
  // True when every operand is a plain contiguous array of the same length.
  bool all_contiguous() const {
    if (ndim == 0) return true;
    if (ndim != 1) return false;
    for (int k = 0; k < N; ++k)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

// Strides of tensor `t` broadcast (NumPy, right-aligned) to `shape`.
Shape broadcast_strides(const Tensor& t, const Shape& shape);

// Builds the indexer for N operands with the given strides, iterated over
// `shape`, dropping size-1 dims and merging dims that are contiguous in every
// operand.
template <int N>
Strided<N> make_strided(const Shape& shape, const std::array<Shape, N>& st) {
  Strided<N> s;
  // Walk dims from the innermost outwards, merging when allowed.
  int64_t sizes[kMaxDims];
  int64_t strides[N][kMaxDims];
  int nd = 0;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < N && merge; ++k)
      if (strides[k][nd - 1] * sizes[nd - 1] != st[k][d]) merge = false;
    if (merge) {
      sizes[nd - 1] *= shape[d];
      continue;
    }
    DRIFT_CHECK(nd < kMaxDims, "CUDA kernels support at most ", kMaxDims,
                " non-mergeable dims; shape ", shape_str(shape), " has more");
    sizes[nd] = shape[d];
    for (int k = 0; k < N; ++k) strides[k][nd] = st[k][d];
    ++nd;
  }
  s.ndim = nd;
  for (int d = 0; d < nd; ++d) {  // back to outermost-first order
    s.sizes[d] = sizes[nd - 1 - d];
    for (int k = 0; k < N; ++k) s.strides[k][d] = strides[k][nd - 1 - d];
  }
  return s;
}

// The same for tensors ts[0..N), each broadcast to `shape`.
template <int N>
Strided<N> make_strided(const Shape& shape, const std::array<const Tensor*, N>& ts) {
  std::array<Shape, N> st;
  for (int k = 0; k < N; ++k) st[k] = broadcast_strides(*ts[k], shape);
  return make_strided<N>(shape, st);
}

// ---- scratch memory --------------------------------------------------------------
// A temporary device buffer from the caching allocator, returned on scope exit.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t nbytes) { reset(nbytes); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void reset(size_t nbytes) {
    release();
    nbytes_ = nbytes;
    ptr_ = nbytes ? cuda_allocator().allocate(nbytes) : nullptr;
  }
  template <class T> T* as() const { return static_cast<T*>(ptr_); }
  void* get() const { return ptr_; }

 private:
  void release() {
    if (ptr_) cuda_allocator().deallocate(ptr_, nbytes_);
    ptr_ = nullptr;
    nbytes_ = 0;
  }
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;
};

// Pointer to t's elements in row-major contiguous order: t's own data when it
// is contiguous, else a copy made into `scratch` (cuda/copy.cu).
const void* contiguous_data(const Tensor& t, DeviceBuffer& scratch);
template <class T>
const T* contiguous_ptr(const Tensor& t, DeviceBuffer& scratch) {
  DRIFT_CHECK(dtype_of<T>::value == t.dtype(), "CUDA: expected a ", dtype_name(dtype_of<T>::value),
              " tensor, got ", dtype_name(t.dtype()));
  return static_cast<const T*>(contiguous_data(t, scratch));
}

// Sets `n` elements of type T at p to zero (cudaMemsetAsync).
void zero_device(void* p, size_t nbytes);

// The cuBLAS handle (created on first use), set to the current stream.
cublasHandle_t cublas_handle();

// The stream every kernel, copy and cuBLAS call of the backend is issued on:
// the legacy default stream (0), except while a CUDA graph is being captured
// on this thread (cuda/graph.cu), when it is the capturing stream.
cudaStream_t current_stream();
bool capturing();  // a capture is under way on this thread

// The output tensor a kernel writes into must be contiguous (the frontend
// allocates it); a kernel that writes through raw indices checks it here.
inline void check_contiguous_out(const Tensor& t, const char* op) {
  DRIFT_CHECK(t.is_contiguous(), "CUDA ", op, ": expected a contiguous output tensor, got strides ",
              shape_str(t.strides()), " for shape ", shape_str(t.shape()));
}

}  // namespace drift::cuda
