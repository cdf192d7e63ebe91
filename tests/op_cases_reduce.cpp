// Cases: copies and fills (copy), random numbers (random), reductions (reduce).
#include <algorithm>
#include <cmath>

#include "tensor/rng.h"
#include "tests/op_cases.h"
#include "tests/ref_philox.h"

namespace drift::optest {
namespace {

double sum_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}
double max_of(const std::vector<double>& v) {
  double m = -INFINITY;
  for (double x : v) {
    if (std::isnan(x)) return x;  // NaN wins (as in PyTorch)
    m = std::max(m, x);
  }
  return m;
}
double min_of(const std::vector<double>& v) {
  double m = INFINITY;
  for (double x : v) {
    if (std::isnan(x)) return x;
    m = std::min(m, x);
  }
  return m;
}
double var_of(const std::vector<double>& v, int64_t correction) {
  const double mean = sum_of(v) / static_cast<double>(v.size());
  double q = 0;
  for (double x : v) q += (x - mean) * (x - mean);
  return q / static_cast<double>(static_cast<int64_t>(v.size()) - correction);
}
// The first index of the extreme value; the first NaN if there is one.
double arg_of(const std::vector<double>& v, bool max) {
  size_t best = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) return static_cast<double>(i);
    if (max ? v[i] > v[best] : v[i] < v[best]) best = i;
  }
  return static_cast<double>(best);
}

}  // namespace

DRIFT_OP_CASES(copy) {
  // Fill into a strided view of a tensor: the rest keeps its values.
  OpCase f{"Fill", "strided view of a transposed tensor", {in({4, 6}, -9, 9)},
           [](V x) {
             Tensor y = ops::clone(x[0]);
             Tensor v = ops::slice(ops::transpose(y, 0, 1), 0, 1, 6, 2);
             ops::fill_(v, 3.0);
             return y;
           },
           [](V x) {
             Host h = host(x[0]);
             for (int64_t i = 0; i < 4; ++i)
               for (int64_t j = 1; j < 6; j += 2) h.v[i * 6 + j] = 3.0;
             return tensor(h);
           },
           {F32, F64, I64}};
  f.exact = true;
  c.push_back(f);
  OpCase full{"Fill", "full", {in({3, 5})}, [](V x) { return ops::full_like(x[0], -2.5); },
              [](V x) { return ref_map(x[0], [](double) { return -2.5; }); }};
  full.exact = true;
  full.bytes = 4.0 * 15;
  c.push_back(full);

  // Copies: contiguous() of permuted / transposed / broadcast views, dtype conversions, cat, stack.
  OpCase p{"Copy", "contiguous of a permuted [2,3,4]", {in({2, 3, 4}, -9, 9)},
           [](V x) { return ops::contiguous(ops::permute(x[0], {2, 0, 1})); },
           [](V x) {
             Host h = host(x[0]), o{{4, 2, 3}, std::vector<double>(24)};
             for (int i = 0; i < 2; ++i)
               for (int j = 0; j < 3; ++j)
                 for (int k = 0; k < 4; ++k) o.v[(k * 2 + i) * 3 + j] = h.v[(i * 3 + j) * 4 + k];
             return tensor(o);
           },
           {F32, F64, I64}};
  p.exact = true;
  c.push_back(p);
  for (Layout l : {Layout::Transposed, Layout::Narrowed, Layout::Strided, Layout::Expanded}) {
    Arg a = in({5, 4, 6}, -50, 50);
    a.layout = l;
    a.small = {5, 1, 6};
    OpCase k{"Copy", "contiguous of layout " + std::to_string(int(l)), {a}, [](V x) { return ops::contiguous(x[0]); },
             [](V x) { return x[0]; }, {F32, F64, I64}};
    k.exact = true;
    k.bytes = 8.0 * 120;
    c.push_back(k);
  }
  for (DType to : {F32, F64, I64}) {
    OpCase k{"Copy", std::string("convert to ") + dtype_name(to) + ", broadcast into [5,3,4,5]", {in({3, 1, 5}, -50, 50)},
             [to](V x) {
               Tensor dst = ops::zeros({5, 3, 4, 5}, to, x[0].device());
               ops::copy_(dst, x[0]);
               return dst;
             },
             [to](V x) {
               Tensor e = ops::contiguous(ops::expand(x[0], {5, 3, 4, 5}));
               if (to == I64) return ref_map(e, [](double v) { return std::trunc(v); });
               if (to == F32) return ref_map(e, [](double v) { return static_cast<double>(static_cast<float>(v)); });
               return e;
             },
             {F32, F64, I64}};
    k.exact = true;
    c.push_back(k);
    OpCase pk{"Copy", std::string("permuted source into a permuted destination, to ") + dtype_name(to),
              {in({5, 4, 5, 3}, -9, 9)},
              [to](V x) {
                Tensor dst = ops::permute(ops::zeros({5, 4, 3, 5}, to, x[0].device()), {0, 2, 1, 3});
                ops::copy_(dst, ops::permute(x[0], {0, 3, 1, 2}));
                return ops::contiguous(dst);
              },
              [to](V x) {
                Tensor e = ops::contiguous(ops::permute(x[0], {0, 3, 1, 2}));
                if (to == I64) return ref_map(e, [](double v) { return std::trunc(v); });
                if (to == F32) return ref_map(e, [](double v) { return static_cast<double>(static_cast<float>(v)); });
                return e;
              },
              {F32, F64, I64}};
    pk.exact = true;
    c.push_back(pk);
  }
  OpCase cat{"Copy", "cat along dim 1 and stack", {in({2, 3, 4}), tr({2, 5, 4})},
             [](V x) { return pack({ops::cat({x[0], x[1]}, 1), ops::stack({x[0], x[0]}, 0)}); },
             [](V x) {
               Host a = host(x[0]), b = host(x[1]), o{{}, {}};
               for (int i = 0; i < 2; ++i) {
                 o.v.insert(o.v.end(), a.v.begin() + i * 12, a.v.begin() + (i + 1) * 12);
                 o.v.insert(o.v.end(), b.v.begin() + i * 20, b.v.begin() + (i + 1) * 20);
               }
               o.v.insert(o.v.end(), a.v.begin(), a.v.end());
               o.v.insert(o.v.end(), a.v.begin(), a.v.end());
               o.shape = {static_cast<int64_t>(o.v.size())};
               return tensor(o);
             },
             {F32, F64, I64}};
  cat.exact = true;
  c.push_back(cat);
}

DRIFT_OP_CASES(random) {
  // Philox4x32-10 from (seed, offset): element i uses block offset + i/4, lane i%4 (tensor/rng.h).
  for (int64_t n : {1, 3, 4, 7, 21, 1001}) {
    OpCase u{"RandUniform", "n = " + std::to_string(n) + ", two draws", {in({n})},
             [](V x) {
               Generator g(1234, 5);
               Tensor a = ops::rand(x[0].shape(), g, x[0].dtype(), x[0].device());
               Tensor b = ops::uniform(x[0].shape(), -2, 6, g, x[0].dtype(), x[0].device());
               return pack({a, b});
             },
             [n](V) {
               const uint64_t second = 5 + static_cast<uint64_t>((n + 3) / 4);
               std::vector<double> v;
               for (int64_t i = 0; i < n; ++i) v.push_back(drift::testing::ref_uniform(1234, 5, i));
               for (int64_t i = 0; i < n; ++i) v.push_back(-2 + 8 * drift::testing::ref_uniform(1234, second, i));
               return tensor(v, {2 * n});
             }};
    u.tol32 = 1e-7;
    u.tol64 = 1e-15;
    // CUDA: the same numbers, up to an ulp where the host compiler fused a*b+c into an FMA.
    u.backend_tol32 = 1e-7;
    u.backend_tol64 = 1e-15;
    c.push_back(u);
    OpCase z{"RandNormal", "n = " + std::to_string(n) + ", two draws", {in({n})},
             [](V x) {
               Generator g(1234, 5);
               Tensor a = ops::randn(x[0].shape(), g, x[0].dtype(), x[0].device());
               Tensor b = ops::normal(x[0].shape(), 0.5, 2.0, g, x[0].dtype(), x[0].device());
               return pack({a, b});
             },
             [n](V) {
               const uint64_t second = 5 + static_cast<uint64_t>((n + 3) / 4);
               std::vector<double> v;
               for (int64_t i = 0; i < n; ++i) v.push_back(drift::testing::ref_normal(1234, 5, i));
               for (int64_t i = 0; i < n; ++i) v.push_back(0.5 + 2 * drift::testing::ref_normal(1234, second, i));
               return tensor(v, {2 * n});
             }};
    z.tol32 = 1e-5;  // float32 uses its own log/sincos polynomials
    z.tol64 = 1e-12;
    // CUDA: float32 uses the CPU's polynomials; float64 libm and CUDA's log/sin/cos may differ in the last bit.
    z.backend_tol32 = 1e-6;
    z.backend_tol64 = 1e-12;
    c.push_back(z);
  }
}

DRIFT_OP_CASES(reduce) {
  // sum, mean, amax, amin, var over dim sets of [6, 37, 5], keepdim or not.
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {2}, {0, 2}, {-1}, {1, 2}};
  for (const auto& dims : dim_sets) {
    for (bool keep : {false, true}) {
      const std::string tag = "dims " + shape_str(dims) + (keep ? " keepdim" : "");
      Arg x = in({6, 37, 5});
      c.push_back({"Sum", "sum " + tag, {x}, [dims, keep](V v) { return ops::sum(v[0], dims, keep); },
                   [dims, keep](V v) { return ref_reduce(v[0], dims, keep, sum_of); }});
      c.push_back({"Sum", "mean " + tag, {x}, [dims, keep](V v) { return ops::mean(v[0], dims, keep); },
                   [dims, keep](V v) {
                     return ref_reduce(v[0], dims, keep, [](const std::vector<double>& g) { return sum_of(g) / g.size(); });
                   }});
      c.push_back({"Sum", "var " + tag, {x}, [dims, keep](V v) { return ops::var(v[0], dims, keep); },
                   [dims, keep](V v) {
                     return ref_reduce(v[0], dims, keep, [](const std::vector<double>& g) { return var_of(g, 1); });
                   }});
      OpCase mx{"Max", "amax " + tag, {x}, [dims, keep](V v) { return ops::amax(v[0], dims, keep); },
                [dims, keep](V v) { return ref_reduce(v[0], dims, keep, max_of); }};
      mx.exact = true;
      c.push_back(mx);
      OpCase mn{"Min", "amin " + tag, {x}, [dims, keep](V v) { return ops::amin(v[0], dims, keep); },
                [dims, keep](V v) { return ref_reduce(v[0], dims, keep, min_of); }};
      mn.exact = true;
      c.push_back(mn);
    }
  }
  // Every dim subset of a 4-d tensor (none = all): sum keepdim, mean, amax, amin; and sum of a transposed input.
  for (int mask = 0; mask < 16; ++mask) {
    std::vector<int64_t> dims;
    for (int d = 0; d < 4; ++d)
      if (mask & (1 << d)) dims.push_back(d);
    const std::string tag = "4-d, dims " + shape_str(dims);
    OpCase k{"Sum", tag + " keepdim, and mean", {in({3, 4, 5, 6}, -3, 3)},
             [dims](V v) { return pack({ops::sum(v[0], dims, true), ops::mean(v[0], dims)}); },
             [dims](V v) {
               return pack({ref_reduce(v[0], dims, true, sum_of),
                            ref_reduce(v[0], dims, false, [](const std::vector<double>& g) { return sum_of(g) / g.size(); })});
             }};
    k.tol64 = 1e-12;
    c.push_back(k);
    OpCase m{"Max", tag + ": amax and amin", {in({3, 4, 5, 6}, -3, 3)},
             [dims](V v) { return pack({ops::amax(v[0], dims), ops::amin(v[0], dims)}); },
             [dims](V v) { return pack({ref_reduce(v[0], dims, false, max_of), ref_reduce(v[0], dims, false, min_of)}); }};
    m.exact = true;
    c.push_back(m);
    if (dims.empty()) continue;
    c.push_back({"Sum", "4-d transposed, dims " + shape_str(dims), {tr({3, 4, 5, 6})},
                 [dims](V v) { return ops::sum(v[0], dims); }, [dims](V v) { return ref_reduce(v[0], dims, false, sum_of); }});
  }
  // Non-contiguous inputs: a permuted view, a broadcast (stride 0) view, rows 1, 4, 7 of a [10, 8].
  for (std::vector<int64_t> dims : {std::vector<int64_t>{0}, {1}, {2}, {0, 2}, {1, 2}}) {
    OpCase p{"Sum", "permuted [5,6,7] -> [7,5,6], dims " + shape_str(dims) + ": sum and amax", {in({5, 6, 7}, -3, 3)},
             [dims](V v) {
               Tensor t = ops::permute(v[0], {2, 0, 1});
               return pack({ops::sum(t, dims), ops::amax(t, dims)});
             },
             [dims](V v) {
               Tensor t = ops::permute(v[0], {2, 0, 1});
               return pack({ref_reduce(t, dims, false, sum_of), ref_reduce(t, dims, false, max_of)});
             }};
    p.tol64 = 1e-13;
    p.tol32 = 1e-6;
    c.push_back(p);
  }
  c.push_back({"Sum", "expanded [1,6] -> [4,6], dim 0", {bc({1, 6}, {4, 6}, -3, 3)}, [](V v) { return ops::sum(v[0], {0}); },
               [](V v) { return ref_reduce(v[0], {0}, false, sum_of); }});
  c.push_back({"Sum", "rows 1, 4, 7 of [10, 8] (slice step 3), dim 0", {in({10, 8}, -3, 3)},
               [](V v) { return ops::sum(ops::slice(v[0], 0, 1, 10, 3), {0}); },
               [](V v) { return ref_reduce(ops::slice(v[0], 0, 1, 10, 3), {0}, false, sum_of); }});
  // Large shapes take every kernel path: long rows split across threads, many
  // short rows, wide inner dims. Float32 sums within 1e-6 (double accumulation).
  for (Shape shape : {Shape{1, 300000}, Shape{3, 100000}, Shape{5000, 7}, Shape{7, 5000}, Shape{16, 8, 28, 28},
                      Shape{40000, 3, 5}, Shape{20000, 64}}) {
    const int64_t rank = static_cast<int64_t>(shape.size());
    OpCase k{"Sum", "large " + shape_str(shape) + ": every dim and all", {in(shape, -3, 3)},
             [rank](V v) {
               Tensors outs;
               for (int64_t d = 0; d < rank; ++d) outs.push_back(ops::sum(v[0], {d}));
               outs.push_back(ops::sum(v[0]));
               return pack(outs);
             },
             [rank](V v) {
               Tensors outs;
               for (int64_t d = 0; d < rank; ++d) outs.push_back(ref_reduce(v[0], {d}, false, sum_of));
               outs.push_back(ref_reduce(v[0], {}, false, sum_of));
               return pack(outs);
             }};
    k.tol32 = 1e-6;
    c.push_back(k);
    OpCase m{"Max", "large " + shape_str(shape) + ": every dim", {in(shape, -3, 3)},
             [rank](V v) {
               Tensors outs;
               for (int64_t d = 0; d < rank; ++d) outs.push_back(ops::amax(v[0], {d}));
               return pack(outs);
             },
             [rank](V v) {
               Tensors outs;
               for (int64_t d = 0; d < rank; ++d) outs.push_back(ref_reduce(v[0], {d}, false, max_of));
               return pack(outs);
             }};
    m.exact = true;
    c.push_back(m);
  }
  OpCase nchw{"Sum", "NCHW [16,8,28,28] over {0,2,3} (a bias gradient)", {in({16, 8, 28, 28}, -3, 3)},
              [](V v) { return ops::sum(v[0], {0, 2, 3}); }, [](V v) { return ref_reduce(v[0], {0, 2, 3}, false, sum_of); }};
  nchw.tol32 = 1e-6;
  c.push_back(nchw);
  // var with a large mean (1e4): the two-pass formula keeps the digits a one-pass one would lose.
  for (int64_t corr : {0, 1}) {
    OpCase v{"Sum", "var of [4,50] with mean 1e4, dim 1, correction " + std::to_string(corr), {in({4, 50}, 1e4 - 3, 1e4 + 3)},
             [corr](V x) { return ops::var(x[0], {1}, false, corr); },
             [corr](V x) { return ref_reduce(x[0], {1}, false, [corr](const std::vector<double>& g) { return var_of(g, corr); }); }};
    v.tol32 = 1e-4;
    c.push_back(v);
  }
  // Long rows (one block per row on CUDA), many short rows, columns, one long vector.
  OpCase lr{"Sum", "long rows [3, 100000]", {in({3, 100000})}, [](V v) { return ops::sum(v[0], {1}); },
            [](V v) { return ref_reduce(v[0], {1}, false, sum_of); }};
  lr.tol32 = 1e-4;
  lr.bytes = 4.0 * 300000;
  lr.flops = 300000;
  c.push_back(lr);
  OpCase lm{"Max", "long rows [3, 100000]", {in({3, 100000})}, [](V v) { return ops::amax(v[0], {1}); },
            [](V v) { return ref_reduce(v[0], {1}, false, max_of); }};
  lm.exact = true;
  c.push_back(lm);
  OpCase sr{"Sum", "short rows and columns of [5000, 70]", {in({5000, 70})},
            [](V v) { return pack({ops::sum(v[0], {1}), ops::sum(v[0], {0})}); },
            [](V v) { return pack({ref_reduce(v[0], {1}, false, sum_of), ref_reduce(v[0], {0}, false, sum_of)}); }};
  sr.tol32 = 1e-4;
  c.push_back(sr);
  OpCase all{"Sum", "all of 1M", {in({1 << 20})}, [](V v) { return ops::sum(v[0]); },
             [](V v) { return ref_reduce(v[0], {}, false, sum_of); }};
  all.tol32 = 1e-5;
  all.atol32 = 1e-2;
  all.bytes = 4.0 * (1 << 20);
  all.flops = 1 << 20;
  c.push_back(all);
  // int64 sums and maxima are exact.
  c.push_back({"Sum", "int64 dim 1", {in({4, 9, 3}, -50, 50)}, [](V v) { return ops::sum(v[0], {1}); },
               [](V v) { return ref_reduce(v[0], {1}, false, sum_of); }, {I64}});
  c.push_back({"Max", "int64 dims {0,2}", {in({4, 9, 3}, -50, 50)}, [](V v) { return ops::amax(v[0], {0, 2}); },
               [](V v) { return ref_reduce(v[0], {0, 2}, false, max_of); }, {I64}});
  // argmax / argmin: ties on a coarse grid (the first index wins), every dim, keepdim.
  for (int64_t d : {0, 1, 2, -1}) {
    for (bool keep : {false, true}) {
      Arg x = in({5, 40, 3}, -3, 3);
      x.grid = 1;
      const std::string tag = "ties, dim " + std::to_string(d) + (keep ? " keepdim" : "");
      c.push_back({"ArgMax", tag, {x}, [d, keep](V v) { return ops::argmax(v[0], d, keep); },
                   [d, keep](V v) {
                     return ref_reduce(v[0], {d}, keep, [](const std::vector<double>& g) { return arg_of(g, true); });
                   }});
      c.push_back({"ArgMin", tag, {x}, [d, keep](V v) { return ops::argmin(v[0], d, keep); },
                   [d, keep](V v) {
                     return ref_reduce(v[0], {d}, keep, [](const std::vector<double>& g) { return arg_of(g, false); });
                   }});
    }
  }
  c.push_back({"ArgMax", "long rows [2, 9000]", {in({2, 9000})}, [](V v) { return ops::argmax(v[0], 1); },
               [](V v) { return ref_reduce(v[0], {1}, false, [](const std::vector<double>& g) { return arg_of(g, true); }); }});
  // NaN: amax/amin give NaN, argmax/argmin the first NaN.
  const std::vector<double> with_nan = {1, NAN, 3, -2, 5, 0, NAN, 4, 7, -1, 2, 2};
  for (int64_t d : {0, 1}) {
    OpCase n{"Max", "NaN, dim " + std::to_string(d), {fixed(with_nan, {3, 4})},
             [d](V v) {
               return pack({ops::amax(v[0], {d}), ops::amin(v[0], {d}), ops::to(ops::argmax(v[0], d), v[0].dtype()),
                            ops::to(ops::argmin(v[0], d), v[0].dtype())});
             },
             [d](V v) {
               const Tensor& t = v[0];
               auto arg = [](bool mx) { return [mx](const std::vector<double>& g) { return arg_of(g, mx); }; };
               return pack({ref_reduce(t, {d}, false, max_of), ref_reduce(t, {d}, false, min_of),
                            ref_reduce(t, {d}, false, arg(true)), ref_reduce(t, {d}, false, arg(false))});
             }};
    n.exact = true;
    c.push_back(n);
  }
  // logsumexp (Max, Sub, Exp, Sum, Log): stable for large inputs.
  for (auto [lo, hi] : {std::pair{-3.0, 3.0}, std::pair{500.0, 800.0}}) {
    c.push_back({"Sum", "logsumexp dim 1 of values in [" + std::to_string(int(lo)) + ", " + std::to_string(int(hi)) + ")",
                 {in({6, 37, 5}, lo, hi)}, [](V v) { return ops::logsumexp(v[0], {1}); },
                 [](V v) {
                   return ref_reduce(v[0], {1}, false, [](const std::vector<double>& g) {
                     const double m = max_of(g);
                     double s = 0;
                     for (double x : g) s += std::exp(x - m);
                     return m + std::log(s);
                   });
                 }});
  }
}

}  // namespace drift::optest
