// CPU reduction kernels. Contract (tensor/op.h ReduceParams): the input is
// contiguous and viewed as [outer, reduce, inner]; the output is contiguous
// [outer, inner] and out[o, i] = reduce_r in[o, r, i].
//
// Two loop shapes:
//   inner == 1: each output is the reduction of one contiguous row of length
//               `reduce` (a SIMD reduction); long rows are summed in pieces,
//               spread over the threads when there are fewer rows than threads.
//   inner  > 1: rows of `inner` values are combined elementwise, a block of
//               kBlock outputs at a time, so the loop over i vectorizes and the
//               input is read once, in order.
// float32 sums accumulate in double.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"

namespace drift::cpu {
namespace {

constexpr int64_t kBlock = 256;       // outputs per task in the inner > 1 case
constexpr int kMaxPartials = 256;     // pieces one row may be split into
constexpr int64_t kRowChunks = 16;    // row ranges of a many-rows, few-outputs sum

template <class T> using SumAcc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// ---- sum -----------------------------------------------------------------------

template <class T>
SumAcc<T> sum_row(const T* x, int64_t n) {
  SumAcc<T> s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += static_cast<SumAcc<T>>(x[i]);
  return s;
}

// Sums split a long reduction into pieces whose number depends on the shape
// only (never on the thread count), and add the pieces' sums in order: the
// same bits on 1, 2 or 16 threads.
template <class T>
void sum_typed(const T* x, T* out, const ReduceParams& p) {
  const int64_t O = p.outer, R = p.reduce, I = p.inner;
  const int nt = omp_get_max_threads();
  if (I == 1) {
    // Rows of kGrain or more elements: pieces of ceil(R / pieces) elements.
    const int64_t pieces = std::clamp<int64_t>(R / kGrain, 1, kMaxPartials);
    const int64_t len = (R + pieces - 1) / pieces;
    auto piece_sum = [&](const T* row, int64_t c) {
      const int64_t b = c * len, e = std::min(R, b + len);
      return b < e ? sum_row(row + b, e - b) : SumAcc<T>(0);
    };
    if (pieces > 1 && O < nt) {
      // Few long rows: the pieces of each row over the threads.
      for (int64_t o = 0; o < O; ++o) {
        SumAcc<T> partial[kMaxPartials];
        const T* row = x + o * R;
        parallel_for(0, pieces, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) partial[c] = piece_sum(row, c);
        });
        SumAcc<T> s = 0;
        for (int64_t c = 0; c < pieces; ++c) s += partial[c];
        out[o] = static_cast<T>(s);
      }
      return;
    }
    parallel_for(0, O, std::max<int64_t>(1, kGrain / std::max<int64_t>(R, 1)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        SumAcc<T> s = 0;
        for (int64_t c = 0; c < pieces; ++c) s += piece_sum(x + o * R, c);
        out[o] = static_cast<T>(s);
      }
    });
    return;
  }
  const int64_t blocks = (I + kBlock - 1) / kBlock;
  if (O * blocks < kRowChunks && R >= 2 * kRowChunks && O * R * I >= 2 * kGrain) {
    // Few output blocks but many rows (e.g. a bias gradient, [B*T, D] summed over
    // dim 0): kRowChunks ranges of rows, each summed into its own partial [O, I]
    // (the ranges over the threads), then the partials added in order.
    const int64_t chunks = kRowChunks;
    const int64_t len = (R + chunks - 1) / chunks;
    std::vector<SumAcc<T>> partial(static_cast<size_t>(chunks * O * I), SumAcc<T>(0));
    parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t r0 = std::min(R, c * len), r1 = std::min(R, r0 + len);
        for (int64_t o = 0; o < O; ++o) {
          SumAcc<T>* acc = partial.data() + (c * O + o) * I;
          for (int64_t r = r0; r < r1; ++r) {
            const T* row = x + (o * R + r) * I;
            for (int64_t i = 0; i < I; ++i) acc[i] += static_cast<SumAcc<T>>(row[i]);
          }
        }
      }
    });
    for (int64_t j = 0; j < O * I; ++j) {
      SumAcc<T> s = 0;
      for (int64_t c = 0; c < chunks; ++c) s += partial[static_cast<size_t>(c * O * I + j)];
      out[j] = static_cast<T>(s);
    }
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(R * std::min(I, kBlock), 1));
  parallel_for(0, O * blocks, grain, [&](int64_t t0, int64_t t1) {
    SumAcc<T> acc[kBlock];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / blocks, i0 = (t % blocks) * kBlock, n = std::min(kBlock, I - i0);
      for (int64_t i = 0; i < n; ++i) acc[i] = 0;
      const T* base = x + o * R * I + i0;
      for (int64_t r = 0; r < R; ++r) {
        const T* row = base + r * I;
        for (int64_t i = 0; i < n; ++i) acc[i] += static_cast<SumAcc<T>>(row[i]);
      }
      T* dst = out + o * I + i0;
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(acc[i]);
    }
  });
}

// ---- max / min -------------------------------------------------------------------
// NaN wins (as in PyTorch): once a NaN is seen the result is NaN.
struct MaxF {
  template <class T> T operator()(T m, T v) const { return (v > m || v != v) ? v : m; }
};
struct MinF {
  template <class T> T operator()(T m, T v) const { return (v < m || v != v) ? v : m; }
};

template <class T, class Op>
void extreme_typed(const T* x, T* out, const ReduceParams& p) {
  const Op op;
  const int64_t O = p.outer, R = p.reduce, I = p.inner;
  if (I == 1) {
    parallel_for(0, O, std::max<int64_t>(1, kGrain / std::max<int64_t>(R, 1)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* row = x + o * R;
        T m = row[0];
        for (int64_t r = 1; r < R; ++r) m = op(m, row[r]);
        out[o] = m;
      }
    });
    return;
  }
  const int64_t blocks = (I + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(R * std::min(I, kBlock), 1));
  parallel_for(0, O * blocks, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / blocks, i0 = (t % blocks) * kBlock, n = std::min(kBlock, I - i0);
      const T* base = x + o * R * I + i0;
      T* dst = out + o * I + i0;
      for (int64_t i = 0; i < n; ++i) dst[i] = base[i];
      for (int64_t r = 1; r < R; ++r) {
        const T* row = base + r * I;
        for (int64_t i = 0; i < n; ++i) dst[i] = op(dst[i], row[i]);
      }
    }
  });
}

// ---- argmax / argmin ---------------------------------------------------------------
// Index of the first extreme value; the first NaN if there is one.
template <class T, bool kMax>
void arg_typed(const T* x, int64_t* out, const ReduceParams& p) {
  const int64_t O = p.outer, R = p.reduce, I = p.inner;
  parallel_for(0, O * I, std::max<int64_t>(1, kGrain / std::max<int64_t>(R, 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / I, i = t % I;
      const T* base = x + o * R * I + i;
      T best = base[0];
      int64_t best_r = 0;
      for (int64_t r = 1; r < R && best == best; ++r) {
        T v = base[r * I];
        if (v != v || (kMax ? v > best : v < best)) {
          best = v;
          best_r = r;
        }
      }
      out[t] = best_r;
    }
  });
}

template <class F>
void by_dtype(DType dt, const F& f) {
  switch (dt) {
    case DType::Float32: f(float()); break;
    case DType::Float64: f(double()); break;
    case DType::Int64: f(int64_t()); break;
    default: kernel_dtype_error("reduce.cpp", dt);
  }
}

void check_args(const KernelArgs& args, const char* op) {
  const ReduceParams& p = args.p<ReduceParams>();
  DRIFT_CHECK(args.in[0]->is_contiguous() && args.out[0]->is_contiguous(), op,
              ": input and output must be contiguous");
  DRIFT_CHECK(args.in[0]->numel() == p.outer * p.reduce * p.inner && args.out[0]->numel() == p.outer * p.inner, op,
              ": tensor sizes do not match [outer, reduce, inner] = [", p.outer, ", ", p.reduce, ", ", p.inner, "]");
}

void sum_kernel(const KernelArgs& args) {
  check_args(args, "Sum");
  by_dtype(args.in[0]->dtype(), [&](auto zero) {
    using T = decltype(zero);
    sum_typed<T>(args.in[0]->data<T>(), args.out[0]->data<T>(), args.p<ReduceParams>());
  });
}

template <class Op>
void extreme_kernel(const KernelArgs& args) {
  check_args(args, "Max/Min");
  DRIFT_CHECK(args.p<ReduceParams>().reduce > 0, "max/min over an empty dimension");
  by_dtype(args.in[0]->dtype(), [&](auto zero) {
    using T = decltype(zero);
    extreme_typed<T, Op>(args.in[0]->data<T>(), args.out[0]->data<T>(), args.p<ReduceParams>());
  });
}

template <bool kMax>
void arg_kernel(const KernelArgs& args) {
  check_args(args, "ArgMax/ArgMin");
  DRIFT_CHECK(args.p<ReduceParams>().reduce > 0, "argmax/argmin over an empty dimension");
  by_dtype(args.in[0]->dtype(), [&](auto zero) {
    using T = decltype(zero);
    arg_typed<T, kMax>(args.in[0]->data<T>(), args.out[0]->data<int64_t>(), args.p<ReduceParams>());
  });
}

}  // namespace

void register_reduce_kernels(Backend& b) {
  b.kernels[static_cast<int>(OpKind::Sum)] = sum_kernel;
  b.kernels[static_cast<int>(OpKind::Max)] = extreme_kernel<MaxF>;
  b.kernels[static_cast<int>(OpKind::Min)] = extreme_kernel<MinF>;
  b.kernels[static_cast<int>(OpKind::ArgMax)] = arg_kernel<true>;
  b.kernels[static_cast<int>(OpKind::ArgMin)] = arg_kernel<false>;
}

}  // namespace drift::cpu
