#pragma once
// Loop helpers shared by the CPU kernels.
//
//   parallel_for(begin, end, grain, f)   OpenMP over [begin, end) in at most
//       one chunk per thread, each at least `grain` long; runs f(b, e) inline
//       when the range is small or we are already inside a parallel region.
//
//   for_each_strided<N>({&out, &in1, ...}, f)   walks N tensors of the same
//       shape together. Size-1 dims are dropped and adjacent dims whose strides
//       chain (stride[d] == size[d+1] * stride[d+1] for every operand) are
//       merged, so a contiguous tensor becomes one flat dim and a broadcast
//       bias [C,1,1] expanded to [N,C,H,W] becomes [N*C, H*W] with stride 0
//       along H*W. The callback gets runs along the innermost dim:
//           f(char* const* ptrs, const int64_t* byte_strides, int64_t n)
//       with one pointer and one byte stride per operand. Kernels check the
//       strides once per run and take a contiguous (vectorizable) loop when
//       they equal the element size, a "scalar broadcast" loop when a stride
//       is 0, and a plain strided loop otherwise.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "tensor/tensor.h"

namespace drift::cpu {

// Elements per thread below which a loop stays single-threaded: starting a
// parallel region costs a few microseconds, about the time to stream 32K floats.
constexpr int64_t kGrain = 32768;
constexpr int kMaxLoopDims = 16;

template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  int64_t n = end - begin;
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t nt = std::min<int64_t>(omp_get_max_threads(), (n + grain - 1) / grain);
  if (nt <= 1 || omp_in_parallel()) {
    f(begin, end);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(nt))
  {
    int64_t t = omp_get_thread_num(), nthreads = omp_get_num_threads();
    int64_t chunk = (n + nthreads - 1) / nthreads;
    int64_t b = begin + t * chunk, e = std::min(end, b + chunk);
    if (b < e) f(b, e);
  }
}

// The coalesced iteration space of N same-shaped operands (strides in bytes).
template <int N>
struct LoopPlan {
  int ndim = 0;
  int64_t numel = 0;
  int64_t shape[kMaxLoopDims];
  int64_t stride[N][kMaxLoopDims];
  char* base[N];
};

template <int N>
LoopPlan<N> make_loop_plan(const std::array<const Tensor*, N>& ts) {
  LoopPlan<N> p;
  const Shape& shape = ts[0]->shape();
  p.numel = shape_numel(shape);
  for (int k = 0; k < N; ++k) {
    DRIFT_CHECK(ts[k]->shape() == shape, "strided loop: operand ", k, " has shape ", shape_str(ts[k]->shape()),
                ", expected ", shape_str(shape));
    p.base[k] = static_cast<char*>(ts[k]->data_ptr());
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = p.ndim > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = p.stride[k][p.ndim - 1] == shape[d] * ts[k]->strides()[d] * static_cast<int64_t>(ts[k]->element_size());
    if (merge) {
      p.shape[p.ndim - 1] *= shape[d];
      for (int k = 0; k < N; ++k)
        p.stride[k][p.ndim - 1] = ts[k]->strides()[d] * static_cast<int64_t>(ts[k]->element_size());
    } else {
      DRIFT_CHECK(p.ndim < kMaxLoopDims, "strided loop: more than ", kMaxLoopDims,
                  " non-mergeable dims in shape ", shape_str(shape));
      p.shape[p.ndim] = shape[d];
      for (int k = 0; k < N; ++k)
        p.stride[k][p.ndim] = ts[k]->strides()[d] * static_cast<int64_t>(ts[k]->element_size());
      ++p.ndim;
    }
  }
  if (p.ndim == 0) {  // a scalar or all sizes 1: one element
    p.ndim = 1;
    p.shape[0] = 1;
    for (int k = 0; k < N; ++k) p.stride[k][0] = static_cast<int64_t>(ts[k]->element_size());
  }
  return p;
}

// Runs f over the linear element range [begin, end) of the plan, one call per
// run along the innermost dim.
template <int N, class F>
void run_loop_range(const LoopPlan<N>& p, int64_t begin, int64_t end, const F& f) {
  const int last = p.ndim - 1;
  int64_t idx[kMaxLoopDims];
  char* ptr[N];
  // Multi-index of `begin` (row-major over the coalesced dims).
  int64_t rem = begin;
  for (int d = last; d >= 0; --d) {
    idx[d] = rem % p.shape[d];
    rem /= p.shape[d];
  }
  for (int k = 0; k < N; ++k) {
    ptr[k] = p.base[k];
    for (int d = 0; d <= last; ++d) ptr[k] += idx[d] * p.stride[k][d];
  }
  int64_t inner_stride[N];
  for (int k = 0; k < N; ++k) inner_stride[k] = p.stride[k][last];
  int64_t pos = begin;
  while (pos < end) {
    int64_t n = std::min(p.shape[last] - idx[last], end - pos);
    f(static_cast<char* const*>(ptr), static_cast<const int64_t*>(inner_stride), n);
    pos += n;
    if (pos >= end) break;
    // Move to the start of the next innermost row, carrying into outer dims.
    for (int k = 0; k < N; ++k) ptr[k] -= idx[last] * p.stride[k][last];
    idx[last] = 0;
    for (int d = last - 1; d >= 0; --d) {
      ++idx[d];
      for (int k = 0; k < N; ++k) ptr[k] += p.stride[k][d];
      if (idx[d] < p.shape[d]) break;
      for (int k = 0; k < N; ++k) ptr[k] -= idx[d] * p.stride[k][d];
      idx[d] = 0;
    }
  }
}

// Walks the operands (all of the same shape) in parallel chunks of at least `grain` elements.
template <int N, class F>
void for_each_strided(const std::array<const Tensor*, N>& ts, const F& f, int64_t grain = kGrain) {
  LoopPlan<N> p = make_loop_plan<N>(ts);
  if (p.numel == 0) return;
  parallel_for(0, p.numel, grain, [&](int64_t b, int64_t e) { run_loop_range<N>(p, b, e, f); });
}

}  // namespace drift::cpu
