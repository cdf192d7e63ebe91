// Fill and Copy: strided writes, broadcasting reads, dtype conversion
// (bfloat16/float16 included, through float32).
//   Fill: out[0] <- value (any strides).
//   Copy: out[0] <- in[0], in[0] broadcast to out[0]'s shape, converted to
//         out[0]'s dtype; both on the device.
#include "cuda/common.cuh"

namespace drift::cuda {

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  const Shape& ts = t.shape();
  const Shape& st = t.strides();
  int64_t r = static_cast<int64_t>(shape.size()), tr = static_cast<int64_t>(ts.size());
  DRIFT_CHECK(tr <= r, "CUDA: cannot broadcast shape ", shape_str(ts), " to ", shape_str(shape));
  Shape out(r, 0);
  for (int64_t d = 0; d < r; ++d) {
    int64_t td = d - (r - tr);
    if (td < 0) continue;  // a new leading dim: stride 0
    if (ts[td] == shape[d]) {
      out[d] = st[td];
    } else {
      DRIFT_CHECK(ts[td] == 1, "CUDA: cannot broadcast shape ", shape_str(ts), " to ", shape_str(shape));
      out[d] = 0;
    }
  }
  return out;
}

namespace {

template <class T>
__global__ void fill_kernel(T* out, Strided<1> s, int64_t n, T value) {
  DRIFT_CUDA_KERNEL_LOOP(i, n) {
    int64_t off[1];
    s.offsets(i, off);
    out[off[0]] = value;
  }
}
template <class T>
__global__ void fill_contiguous_kernel(T* out, int64_t n, T value) {
  DRIFT_CUDA_KERNEL_LOOP(i, n) out[i] = value;
}

// Operand 0 = destination, 1 = source.
template <class To, class From>
__global__ void copy_kernel(To* dst, const From* src, Strided<2> s, int64_t n) {
  DRIFT_CUDA_KERNEL_LOOP(i, n) {
    int64_t off[2];
    s.offsets(i, off);
    dst[off[0]] = convert<To>(src[off[1]]);
  }
}
template <class To, class From>
__global__ void copy_contiguous_kernel(To* dst, const From* src, int64_t n) {
  DRIFT_CUDA_KERNEL_LOOP(i, n) dst[i] = convert<To>(src[i]);
}

void fill(const KernelArgs& args) {
  Tensor& out = *args.out[0];
  int64_t n = out.numel();
  if (n == 0) return;
  double value = args.p<FillParams>().value;
  Strided<1> s = make_strided<1>(out.shape(), {&out});
  dispatch_storage(out.dtype(), "Fill", [&](auto tag) {
    using T = decltype(tag);
    T v = is_16bit<T>::value ? from_f32<T>(static_cast<float>(value)) : convert<T>(value);
    if (s.all_contiguous())
      fill_contiguous_kernel<T><<<blocks_for(n), kThreads, 0, current_stream()>>>(static_cast<T*>(out.data_ptr()), n, v);
    else
      fill_kernel<T><<<blocks_for(n), kThreads, 0, current_stream()>>>(static_cast<T*>(out.data_ptr()), s, n, v);
    DRIFT_CUDA_CHECK_LAUNCH();
  });
}

// dst <- src, both on the device.
void device_copy(const Tensor& dst, const Tensor& src) {
  int64_t n = dst.numel();
  if (n == 0) return;
  Strided<2> s = make_strided<2>(dst.shape(), {&dst, &src});
  dispatch_storage(dst.dtype(), "Copy", [&](auto to_tag) {
    using To = decltype(to_tag);
    dispatch_storage(src.dtype(), "Copy", [&](auto from_tag) {
      using From = decltype(from_tag);
      To* d = static_cast<To*>(dst.data_ptr());
      const From* p = static_cast<const From*>(src.data_ptr());
      if (s.all_contiguous())
        copy_contiguous_kernel<To, From><<<blocks_for(n), kThreads, 0, current_stream()>>>(d, p, n);
      else
        copy_kernel<To, From><<<blocks_for(n), kThreads, 0, current_stream()>>>(d, p, s, n);
      DRIFT_CUDA_CHECK_LAUNCH();
    });
  });
}

void copy(const KernelArgs& args) {
  const Tensor& src = *args.in[0];
  Tensor& dst = *args.out[0];
  // ops::copy_ and ops::to move data between devices before dispatching here.
  DRIFT_CHECK(src.device() == Device::CUDA && dst.device() == Device::CUDA, "CUDA Copy: expected both tensors on ",
              "cuda, got source on ", device_name(src.device()), " and destination on ", device_name(dst.device()));
  device_copy(dst, src);
}

}  // namespace

const void* contiguous_data(const Tensor& t, DeviceBuffer& scratch) {
  if (t.is_contiguous()) return t.data_ptr();
  size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  scratch.reset(nbytes);
  // Operand 0: the contiguous scratch buffer; operand 1: t with its strides.
  int64_t n = t.numel();
  Strided<2> s = make_strided<2>(t.shape(), {contiguous_strides(t.shape()), t.strides()});
  dispatch_storage(t.dtype(), "contiguous", [&](auto tag) {
    using T = decltype(tag);
    copy_kernel<T, T><<<blocks_for(n), kThreads, 0, current_stream()>>>(scratch.as<T>(), static_cast<const T*>(t.data_ptr()), s, n);
    DRIFT_CUDA_CHECK_LAUNCH();
  });
  return scratch.get();
}

void register_copy_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Fill)] = fill;
  b.kernels[static_cast<int>(OpKind::Copy)] = copy;
  b.half_native[static_cast<int>(OpKind::Fill)] = true;  // both convert 16-bit types themselves
  b.half_native[static_cast<int>(OpKind::Copy)] = true;
}

}  // namespace drift::cuda
