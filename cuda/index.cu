// IndexSelect and IndexAdd along dim 1 of a contiguous [outer, n, inner] view.
//   IndexSelect: in = {src [outer, n, inner], index int64 [m]}, out = {[outer, m, inner]}
//                out[o, j, i] = src[o, index[j], i]
//   IndexAdd:    in = {src [outer, m, inner], index int64 [m]}, out = {[outer, n, inner]}
//                out = 0; out[o, index[j], i] += src[o, j, i]   (atomicAdd: indices may repeat)
// An index outside [0, n) sets a device flag; the host reads it after the
// kernel and throws drift::Error naming the first bad value.
#include "cuda/common.cuh"

namespace drift::cuda {
namespace {

// flag[0] = 1 + the first out-of-range index seen (0 = none).
__device__ __forceinline__ void report_bad_index(int64_t* flag, int64_t r) {
  atomicCAS(reinterpret_cast<unsigned long long*>(flag), 0ull, static_cast<unsigned long long>(r) + 1ull);
}

template <class T>
__global__ void index_select_kernel(const T* src, const int64_t* index, T* out, int64_t outer, int64_t n,
                                    int64_t inner, int64_t m, int64_t* flag) {
  DRIFT_CUDA_KERNEL_LOOP(idx, outer * m * inner) {
    int64_t i = idx % inner, j = (idx / inner) % m, o = idx / (inner * m);
    int64_t r = index[j];
    if (r < 0 || r >= n) {
      report_bad_index(flag, r);
      out[idx] = T(0);
      continue;
    }
    out[idx] = src[(o * n + r) * inner + i];
  }
}

__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));  // two's complement
}

template <class T>
__global__ void index_add_kernel(const T* src, const int64_t* index, T* out, int64_t outer, int64_t n,
                                 int64_t inner, int64_t m, int64_t* flag) {
  DRIFT_CUDA_KERNEL_LOOP(idx, outer * m * inner) {
    int64_t i = idx % inner, j = (idx / inner) % m, o = idx / (inner * m);
    int64_t r = index[j];
    if (r < 0 || r >= n) {
      report_bad_index(flag, r);
      continue;
    }
    atomic_add(&out[(o * n + r) * inner + i], src[idx]);
  }
}

// Throws if the kernel flagged an index outside [0, n).
void check_flag(const int64_t* flag_dev, int64_t n, const char* name) {
  if (capturing()) return;  // no host copy inside a CUDA graph capture (replays are not checked)
  int64_t flag = 0;
  DRIFT_CUDA_CHECK(cudaMemcpy(&flag, flag_dev, sizeof(flag), cudaMemcpyDeviceToHost));
  DRIFT_CHECK(flag == 0, "CUDA ", name, ": index ", flag - 1, " is out of range for a dim of size ", n);
}

template <bool Add>
void run_index(const KernelArgs& args, const char* name) {
  const Tensor& src = *args.in[0];
  const Tensor& index = *args.in[1];
  Tensor& out = *args.out[0];
  check_contiguous_out(out, name);
  const IndexParams& p = args.p<IndexParams>();
  DRIFT_CHECK(index.dtype() == DType::Int64 && index.numel() == p.m, "CUDA ", name, ": expected an int64 index of ",
              p.m, " elements, got ", dtype_name(index.dtype()), " ", shape_str(index.shape()));
  DRIFT_CHECK(src.dtype() == out.dtype(), "CUDA ", name, ": src dtype ", dtype_name(src.dtype()),
              " differs from output dtype ", dtype_name(out.dtype()));
  int64_t src_rows = Add ? p.m : p.n, out_rows = Add ? p.n : p.m;
  DRIFT_CHECK(src.numel() == p.outer * src_rows * p.inner && out.numel() == p.outer * out_rows * p.inner, "CUDA ",
              name, ": sizes do not match [outer, n, inner, m] = [", p.outer, ", ", p.n, ", ", p.inner, ", ", p.m, "]");
  if (Add) zero_device(out.data_ptr(), out.numel() * out.element_size());
  int64_t work = p.outer * p.m * p.inner;
  if (work == 0) return;
  DeviceBuffer s_src, s_idx, flag(sizeof(int64_t));
  zero_device(flag.get(), sizeof(int64_t));
  const int64_t* ip = contiguous_ptr<int64_t>(index, s_idx);
  dispatch_all(out.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* sp = contiguous_ptr<T>(src, s_src);
    T* op = static_cast<T*>(out.data_ptr());
    if constexpr (Add)
      index_add_kernel<T><<<blocks_for(work), kThreads, 0, current_stream()>>>(sp, ip, op, p.outer, p.n, p.inner, p.m, flag.as<int64_t>());
    else
      index_select_kernel<T><<<blocks_for(work), kThreads, 0, current_stream()>>>(sp, ip, op, p.outer, p.n, p.inner, p.m, flag.as<int64_t>());
    DRIFT_CUDA_CHECK_LAUNCH();
  });
  check_flag(flag.as<int64_t>(), p.n, name);
}

}  // namespace

void register_index_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::IndexSelect)] = [](const KernelArgs& a) { run_index<false>(a, "IndexSelect"); };
  b.kernels[static_cast<int>(OpKind::IndexAdd)] = [](const KernelArgs& a) { run_index<true>(a, "IndexAdd"); };
}

}  // namespace drift::cuda
