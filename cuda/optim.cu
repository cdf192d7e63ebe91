// CUDA optimizer kernels: the fused Adam / AdamW step (AdamStepParams,
// tensor/op.h) for a whole list of tensors in ONE launch (multi-tensor apply,
// as PyTorch's fused Adam): the host builds a table of (tensor, chunk start)
// work items, copies it and the tensors' pointers to the device, and each
// block updates one chunk of one tensor. The unfused formula (nn/optim.cpp,
// AdamOptions::fused = false) is the reference it is tested against.
#include <cmath>
#include <vector>

#include "cuda/common.cuh"

namespace drift::cuda {
namespace {

constexpr int64_t kChunk = 16384;  // elements per block

template <class T>
struct AdamTensor {
  T* p;
  const T* g;
  T* m;
  T* v;
  int64_t n;
};
struct AdamScalars {
  double b1, c1, b2, c2, wd, shrink, inv_sqrt_bc2, eps, step;
  bool decay, decoupled;
};

// The same operations, in the same order and precision, as the unfused chain.
template <class T>
__global__ void adam_multi_kernel(const AdamTensor<T>* __restrict__ tensors, const int* __restrict__ chunk_tensor,
                                  const int64_t* __restrict__ chunk_start, AdamScalars s) {
  const AdamTensor<T> t = tensors[chunk_tensor[blockIdx.x]];
  const int64_t begin = chunk_start[blockIdx.x];
  const int64_t end = begin + kChunk < t.n ? begin + kChunk : t.n;
  const T b1 = T(s.b1), c1 = T(s.c1), b2 = T(s.b2), c2 = T(s.c2), wd = T(s.wd), shrink = T(s.shrink);
  const T inv_sqrt_bc2 = T(s.inv_sqrt_bc2), eps = T(s.eps), step = T(s.step);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    T pi = t.p[i], gi = t.g[i];
    if (s.decay) {
      if (s.decoupled) pi = pi * shrink;  // p <- p (1 - lr wd)
      else gi = gi + t.p[i] * wd;         // g <- g + wd p
    }
    const T mi = t.m[i] * b1 + gi * c1;
    const T vi = t.v[i] * b2 + (gi * gi) * c2;
    t.m[i] = mi;
    t.v[i] = vi;
    const T denom = sqrt(vi) * inv_sqrt_bc2 + eps;
    t.p[i] = pi - (mi / denom) * step;
  }
}

template <class T>
void adam_multi(const AdamStepParams& a) {
  std::vector<AdamTensor<T>> tensors;
  std::vector<int> chunk_tensor;
  std::vector<int64_t> chunk_start;
  for (int64_t k = 0; k < a.count; ++k) {
    const int64_t n = a.param[k]->numel();
    tensors.push_back({a.param[k]->data<T>(), a.grad[k]->data<T>(), a.exp_avg[k]->data<T>(),
                       a.exp_avg_sq[k]->data<T>(), n});
    for (int64_t s = 0; s < n; s += kChunk) {
      chunk_tensor.push_back(static_cast<int>(k));
      chunk_start.push_back(s);
    }
  }
  if (chunk_tensor.empty()) return;
  // One scratch block for the three tables (kept 8-byte aligned).
  const size_t nt = tensors.size() * sizeof(AdamTensor<T>), nc = chunk_start.size() * sizeof(int64_t);
  const size_t ni = chunk_tensor.size() * sizeof(int);
  DeviceBuffer buf(nt + nc + ni);
  char* base = buf.as<char>();
  // Pageable host memory: cudaMemcpyAsync returns once the host data is staged,
  // so the vectors may go out of scope after the calls.
  DRIFT_CUDA_CHECK(cudaMemcpyAsync(base, tensors.data(), nt, cudaMemcpyHostToDevice, current_stream()));
  DRIFT_CUDA_CHECK(cudaMemcpyAsync(base + nt, chunk_start.data(), nc, cudaMemcpyHostToDevice, current_stream()));
  DRIFT_CUDA_CHECK(cudaMemcpyAsync(base + nt + nc, chunk_tensor.data(), ni, cudaMemcpyHostToDevice, current_stream()));
  AdamScalars s{a.beta1, 1.0 - a.beta1, a.beta2, 1.0 - a.beta2, a.weight_decay, 1.0 - a.lr * a.weight_decay,
                1.0 / std::sqrt(a.bias_correction2), a.eps, a.lr / a.bias_correction1, a.weight_decay != 0,
                a.decoupled};
  adam_multi_kernel<T><<<static_cast<unsigned>(chunk_tensor.size()), kThreads, 0, current_stream()>>>(
      reinterpret_cast<const AdamTensor<T>*>(base), reinterpret_cast<const int*>(base + nt + nc),
      reinterpret_cast<const int64_t*>(base + nt), s);
  DRIFT_CUDA_CHECK_LAUNCH();
}

void adam_step_kernel(const KernelArgs& args) {
  const AdamStepParams& a = args.p<AdamStepParams>();
  if (a.count == 0) return;
  dispatch_float(a.param[0]->dtype(), "AdamStep", [&](auto t) { adam_multi<decltype(t)>(a); });
}

}  // namespace

void register_optim_kernels(Backend& b) { b.kernels[static_cast<int>(OpKind::AdamStep)] = adam_step_kernel; }

}  // namespace drift::cuda
