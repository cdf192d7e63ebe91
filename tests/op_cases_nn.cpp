// Cases: indexing (index), softmax (softmax), group and layer norm (norm).
// References: direct loops in float64.
#include <cmath>
#include <utility>

#include "tests/op_cases.h"

namespace drift::optest {
namespace {

// out = t.index_select(dim, index).
Tensor ref_index_select(const Tensor& t, int64_t dim, const Tensor& index) {
  Host h = host(t), hi = host(index);
  if (dim < 0) dim += t.dim();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= t.size(d);
  for (int64_t d = dim + 1; d < t.dim(); ++d) inner *= t.size(d);
  const int64_t n = t.size(dim), m = index.numel();
  Shape s = t.shape();
  s[dim] = m;
  Host o{s, {}};
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t b = 0; b < inner; ++b) o.v.push_back(h.v[(a * n + static_cast<int64_t>(hi.v[i])) * inner + b]);
  return tensor(o);
}

// out = zeros(shape); out.index_add_(dim, index, src).
Tensor ref_index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  Host hs = host(src), hi = host(index), o{shape, std::vector<double>(static_cast<size_t>(shape_numel(shape)))};
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= shape[d];
  for (int64_t d = dim + 1; d < static_cast<int64_t>(shape.size()); ++d) inner *= shape[d];
  const int64_t n = shape[dim], m = index.numel();
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t b = 0; b < inner; ++b)
        o.v[(a * n + static_cast<int64_t>(hi.v[i])) * inner + b] += hs.v[(a * m + i) * inner + b];
  return tensor(o);
}

// Softmax (or log-softmax) over `dim`.
Tensor ref_softmax(const Tensor& x, int64_t dim, bool log) {
  Host h = host(x), o = h;
  if (dim < 0) dim += x.dim();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  const int64_t n = x.size(dim);
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t b = 0; b < inner; ++b) {
      auto at = [&](int64_t i) { return (a * n + i) * inner + b; };
      double m = -INFINITY, s = 0;
      for (int64_t i = 0; i < n; ++i) m = std::max(m, h.v[at(i)]);
      for (int64_t i = 0; i < n; ++i) s += std::exp(h.v[at(i)] - m);
      for (int64_t i = 0; i < n; ++i) o.v[at(i)] = log ? h.v[at(i)] - m - std::log(s) : std::exp(h.v[at(i)] - m) / s;
    }
  return tensor(o);
}

// Mean and 1/sqrt(biased variance + eps) of n values (two passes).
std::pair<double, double> row_stats(const double* v, int64_t n, double eps) {
  double s = 0, q = 0;
  for (int64_t j = 0; j < n; ++j) s += v[j];
  const double mu = s / n;
  for (int64_t j = 0; j < n; ++j) q += (v[j] - mu) * (v[j] - mu);
  return {mu, 1 / std::sqrt(q / n + eps)};
}

// Normalisation of x viewed as [rows, len]: each row has zero mean and unit
// (biased) variance, then y = xhat * w[ch] + b[ch] with ch = channel(row, j).
// Returns pack({y, mean, rstd}).
Tensor ref_norm(const Tensor& x, int64_t rows, const Tensor& w, const Tensor& b, double eps,
                const std::function<int64_t(int64_t, int64_t)>& channel) {
  Host h = host(x);
  const int64_t len = h.numel() / rows;
  std::vector<double> hw = w.defined() ? host(w).v : std::vector<double>(), hb = b.defined() ? host(b).v : std::vector<double>();
  Host y{x.shape(), h.v}, mean{{rows}, {}}, rstd{{rows}, {}};
  for (int64_t r = 0; r < rows; ++r) {
    const auto [mu, rs] = row_stats(h.v.data() + r * len, len, eps);
    for (int64_t j = 0; j < len; ++j) {
      const int64_t ch = channel(r, j);
      double v = (h.v[r * len + j] - mu) * rs;
      if (!hw.empty()) v *= hw[ch];
      if (!hb.empty()) v += hb[ch];
      y.v[r * len + j] = v;
    }
    mean.v.push_back(mu);
    rstd.v.push_back(rs);
  }
  return pack({tensor(y), tensor(mean), tensor(rstd)});
}

// The first x.numel() entries of a packed norm result: y.
Tensor y_of(const Tensor& packed, const Tensor& x) { return ops::reshape(ops::narrow(packed, 0, 0, x.numel()), x.shape()); }

Tensor ref_group_norm(const Tensor& x, int64_t groups, const Tensor& w, const Tensor& b, double eps) {
  const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c), cg = c / groups;
  return ref_norm(x, n * groups, w, b, eps, [=](int64_t r, int64_t j) { return (r % groups) * cg + j / s; });
}
Tensor ref_layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  const int64_t d = x.size(-1);
  return ref_norm(x, x.numel() / d, w, b, eps, [](int64_t, int64_t j) { return j; });
}

// Backward of ref_norm (x viewed as [rows, len]):
// dx = rstd (gw - mean(gw) - xhat mean(gw xhat)) with gw = gy * w[ch], per row;
// dweight[ch] = sum(gy xhat), dbias[ch] = sum(gy). Returns pack({dx, dw, db})
// (just dx without a weight).
Tensor ref_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& w, int64_t rows, int64_t channels,
                         double eps, const std::function<int64_t(int64_t, int64_t)>& channel) {
  Host h = host(x), g = host(gy), dx{x.shape(), h.v};
  const int64_t len = h.numel() / rows;
  std::vector<double> hw = w.defined() ? host(w).v : std::vector<double>();
  Host dw{{channels}, std::vector<double>(channels)}, db = dw;
  for (int64_t r = 0; r < rows; ++r) {
    const auto [mu, rs] = row_stats(h.v.data() + r * len, len, eps);
    std::vector<double> xhat(len), gw(len);
    double m1 = 0, m2 = 0;
    for (int64_t j = 0; j < len; ++j) {
      const int64_t ch = channel(r, j), i = r * len + j;
      xhat[j] = (h.v[i] - mu) * rs;
      gw[j] = g.v[i] * (hw.empty() ? 1.0 : hw[ch]);
      m1 += gw[j] / len;
      m2 += gw[j] * xhat[j] / len;
      dw.v[ch] += g.v[i] * xhat[j];
      db.v[ch] += g.v[i];
    }
    for (int64_t j = 0; j < len; ++j) dx.v[r * len + j] = rs * (gw[j] - m1 - xhat[j] * m2);
  }
  if (hw.empty()) return pack({tensor(dx)});
  return pack({tensor(dx), tensor(dw), tensor(db)});
}

}  // namespace

DRIFT_OP_CASES(index) {
  const std::vector<double> idx = {3, 0, 3, 1, 4, 4, 2};
  c.push_back({"IndexSelect", "dim 0 with repeats", {in({5, 3}, -9, 9), ids(idx, {7})},
               [](V x) { return ops::index_select(x[0], 0, x[1]); },
               [](V x) { return ref_index_select(x[0], 0, x[1]); }, {F32, F64, I64}});
  c.push_back({"IndexSelect", "dim 2", {in({5, 6, 4}, -9, 9), ids({3, 0}, {2})},
               [](V x) { return ops::index_select(x[0], 2, x[1]); },
               [](V x) { return ref_index_select(x[0], 2, x[1]); }, {F32, F64, I64}});
  c.push_back({"IndexSelect", "strided source", {tr({5, 6, 4}, -9, 9), ids(idx, {7})},
               [](V x) { return ops::index_select(x[0], 0, x[1]); },
               [](V x) { return ref_index_select(x[0], 0, x[1]); }, {F32, F64, I64}});
  c.push_back({"IndexSelect", "embedding: ids [2,3] with repeats", {in({10, 4}), ids({1, 9, 0, 1, 5, 5}, {2, 3})},
               [](V x) { return ops::embedding(x[0], x[1]); },
               [](V x) { return ops::reshape(ref_index_select(x[0], 0, ops::reshape(x[1], {6})), {2, 3, 4}); }});
  // Repeated indices accumulate.
  c.push_back({"IndexAdd", "dim 1 with repeats", {in({2, 7, 3}, -9, 9), ids(idx, {7})},
               [](V x) { return ops::index_add({2, 5, 3}, 1, x[1], x[0]); },
               [](V x) { return ref_index_add({2, 5, 3}, 1, x[1], x[0]); }, {F32, F64, I64}});
  // index_add is the adjoint of index_select: along each dim of [6,5,7] with 8 repeated indices.
  for (int64_t d = 0; d < 3; ++d) {
    Shape src = {6, 5, 7};
    src[d] = 8;
    OpCase a{"IndexAdd", "[6,5,7] dim " + std::to_string(d) + ", 8 indices with repeats",
             {in(src), ids({4, 0, 4, 3, 1, 4, 2, 2}, {8})},
             [d](V x) { return ops::index_add({6, 5, 7}, d, x[1], x[0]); },
             [d](V x) { return ref_index_add({6, 5, 7}, d, x[1], x[0]); }};
    a.tol64 = 1e-12;
    c.push_back(a);
  }
  c.push_back({"IndexAdd", "outer 1, a large inner block [1,5,300]", {in({1, 5, 300}), ids({0, 2, 2, 1, 0}, {5})},
               [](V x) { return ops::index_add({1, 3, 300}, 1, x[1], x[0]); },
               [](V x) { return ref_index_add({1, 3, 300}, 1, x[1], x[0]); }});
  c.push_back({"IndexAdd", "dim 0, strided source", {tr({4, 3}, -9, 9), ids({2, 0, 2, 2}, {4})},
               [](V x) { return ops::index_add({3, 3}, 0, x[1], x[0]); },
               [](V x) { return ref_index_add({3, 3}, 0, x[1], x[0]); }});
}

DRIFT_OP_CASES(softmax) {
  for (int64_t d : {0, 1, 2}) {
    for (bool log : {false, true}) {
      OpCase s{log ? "LogSoftmax" : "Softmax", "[4,6,33] dim " + std::to_string(d), {in({4, 6, 33}, -6, 6)},
               [d, log](V x) { return log ? ops::log_softmax(x[0], d) : ops::softmax(x[0], d); },
               [d, log](V x) { return ref_softmax(x[0], d, log); }};
      s.tol32 = 1e-5;
      c.push_back(s);
    }
  }
  // [3,5,4] in [-3,3): float32 within 1e-6 (softmax) and 1e-5 (log_softmax).
  for (int64_t d : {0, 1, 2})
    for (bool log : {false, true}) {
      OpCase s{log ? "LogSoftmax" : "Softmax", "[3,5,4] dim " + std::to_string(d), {in({3, 5, 4}, -3, 3)},
               [d, log](V x) { return log ? ops::log_softmax(x[0], d) : ops::softmax(x[0], d); },
               [d, log](V x) { return ref_softmax(x[0], d, log); }};
      s.tol32 = log ? 1e-5 : 1e-6;
      s.tol64 = 1e-12;
      c.push_back(s);
    }
  for (bool log : {false, true}) {
    OpCase w{log ? "LogSoftmax" : "Softmax", "wide rows [3,2000] in [-30,30)", {in({3, 2000}, -30, 30)},
             [log](V x) { return log ? ops::log_softmax(x[0], 1) : ops::softmax(x[0], 1); },
             [log](V x) { return ref_softmax(x[0], 1, log); }};
    w.tol32 = 1e-5;
    w.bytes = 8.0 * 6000;
    c.push_back(w);
    OpCase t{log ? "LogSoftmax" : "Softmax", "transposed, large inputs (stability)", {tr({5, 7}, 500, 900)},
             [log](V x) { return log ? ops::log_softmax(x[0], -1) : ops::softmax(x[0], -1); },
             [log](V x) { return ref_softmax(x[0], -1, log); }};
    t.tol32 = 1e-4;
    c.push_back(t);
  }
}

DRIFT_OP_CASES(norm) {
  // GroupNorm on [N, C, H, W] (and [N, C, L]), with and without affine parameters.
  struct G { Shape x; int64_t groups; bool affine; };
  for (const G& g : {G{{2, 8, 5, 6}, 4, true}, G{{2, 8, 5, 6}, 4, false}, G{{2, 6, 5}, 3, true}, G{{2, 4, 40, 40}, 2, true}}) {
    const int64_t groups = g.groups, ch = g.x[1], s = shape_numel(g.x) / (g.x[0] * ch);
    const std::string tag = "x " + shape_str(g.x) + " G " + std::to_string(groups) + (g.affine ? " affine" : "");
    std::vector<Arg> args = {in(g.x, -2, 3)};
    if (g.affine) {
      args.push_back(in({ch}, 0.5, 1.5));
      args.push_back(in({ch}));
    }
    OpCase f{"GroupNorm", tag, args,
             [groups](V x) {
               ops::NormResult r = ops::group_norm(x[0], groups, x.size() > 1 ? x[1] : Tensor(), x.size() > 2 ? x[2] : Tensor(), 1e-5);
               return pack({r.y, r.mean, r.rstd});
             },
             [groups](V x) { return ref_group_norm(x[0], groups, x.size() > 1 ? x[1] : Tensor(), x.size() > 2 ? x[2] : Tensor(), 1e-5); }};
    f.tol32 = 5e-5;
    f.bytes = 8.0 * shape_numel(g.x);
    c.push_back(f);
    // GroupNorm + SiLU fused (silu = true) against the unfused chain in float64.
    OpCase fs{"GroupNorm", tag + ", fused silu", args,
              [groups](V x) {
                ops::NormResult r = ops::group_norm(x[0], groups, x.size() > 1 ? x[1] : Tensor(),
                                                    x.size() > 2 ? x[2] : Tensor(), 1e-5, /*silu=*/true);
                return pack({r.y, r.mean, r.rstd});
              },
              [groups](V x) {
                const Tensor r = ref_group_norm(x[0], groups, x.size() > 1 ? x[1] : Tensor(), x.size() > 2 ? x[2] : Tensor(), 1e-5);
                const Tensor y = ref_map(y_of(r, x[0]), [](double z) { return z / (1 + std::exp(-z)); });
                return ops::cat({ops::reshape(y, {x[0].numel()}), ops::narrow(r, 0, x[0].numel(), r.numel() - x[0].numel())}, 0);
              }};
    fs.tol32 = 5e-5;
    fs.bytes = 8.0 * shape_numel(g.x);
    c.push_back(fs);
    if (g.affine) {  // the fused backward: dy is the gradient of silu(group_norm(x))
      OpCase bs{"GroupNormBackward", tag + ", fused silu", {in(g.x), in(g.x, -2, 3), in({ch}, 0.5, 1.5), in({ch})},
                [groups](V x) {
                  ops::NormResult r = ops::group_norm(x[1], groups, x[2], x[3], 1e-5);
                  ops::NormGrads gr = ops::group_norm_backward(x[0], x[1], r.mean, r.rstd, x[2], groups, x[3], true);
                  return pack({gr.dx, gr.dweight, gr.dbias});
                },
                [groups, ch, s](V x) {
                  const int64_t cg = ch / groups;
                  const Tensor z = y_of(ref_group_norm(x[1], groups, x[2], x[3], 1e-5), x[1]);
                  const Tensor dz = ref_zip(x[0], z, [](double g, double v) {
                    const double sg = 1 / (1 + std::exp(-v));
                    return g * sg * (1 + v * (1 - sg));
                  });
                  return ref_norm_backward(dz, x[1], x[2], x[1].size(0) * groups, ch, 1e-5,
                                           [=](int64_t r, int64_t j) { return (r % groups) * cg + j / s; });
                }};
      bs.tol32 = 2e-4;
      bs.bytes = 16.0 * shape_numel(g.x);
      c.push_back(bs);
    }
    std::vector<Arg> bargs = {in(g.x), in(g.x, -2, 3)};
    if (g.affine) bargs.push_back(in({ch}, 0.5, 1.5));
    const bool affine = g.affine;
    OpCase b{"GroupNormBackward", tag, bargs,
             [groups](V x) {
               Tensor w = x.size() > 2 ? x[2] : Tensor();
               ops::NormResult r = ops::group_norm(x[1], groups, w, Tensor(), 1e-5);
               ops::NormGrads gr = ops::group_norm_backward(x[0], x[1], r.mean, r.rstd, w, groups);
               return pack({gr.dx, gr.dweight, gr.dbias});
             },
             [groups, ch, s, affine](V x) {
               const int64_t cg = ch / groups;
               return ref_norm_backward(x[0], x[1], affine ? x[2] : Tensor(), x[1].size(0) * groups, ch, 1e-5,
                                        [=](int64_t r, int64_t j) { return (r % groups) * cg + j / s; });
             }};
    b.tol32 = 2e-4;
    b.bytes = 12.0 * shape_numel(g.x);
    c.push_back(b);
  }
  // A large mean (100): float32 forward and backward against the float64 reference.
  {
    OpCase f{"GroupNorm", "x [4,8,6,6] with mean 100, G 4, affine", {in({4, 8, 6, 6}, 98, 102), in({8}), in({8})},
             [](V x) { return ops::group_norm(x[0], 4, x[1], x[2], 1e-5).y; },
             [](V x) { return y_of(ref_group_norm(x[0], 4, x[1], x[2], 1e-5), x[0]); }};
    f.tol32 = 1e-4;
    c.push_back(f);
    OpCase b{"GroupNormBackward", "x [4,8,6,6] with mean 100, G 4", {in({4, 8, 6, 6}), in({4, 8, 6, 6}, 98, 102), in({8})},
             [](V x) {
               ops::NormResult r = ops::group_norm(x[1], 4, x[2], Tensor(), 1e-5);
               ops::NormGrads g = ops::group_norm_backward(x[0], x[1], r.mean, r.rstd, x[2], 4);
               return pack({g.dx, g.dweight, g.dbias});
             },
             [](V x) {
               return ref_norm_backward(x[0], x[1], x[2], 16, 8, 1e-5, [](int64_t r, int64_t j) { return (r % 4) * 2 + j / 36; });
             }};
    b.tol32 = 1e-3;
    c.push_back(b);
  }
  // LayerNorm with enough rows for the threaded path (per-thread dweight / dbias partial sums).
  {
    OpCase b{"GroupNormBackward", "layer_norm: x [256, 64] affine (threaded rows)", {in({256, 64}), in({256, 64}), in({64})},
             [](V x) {
               ops::NormResult r = ops::layer_norm(x[1], x[2], Tensor(), 1e-5);
               ops::NormGrads g = ops::layer_norm_backward(x[0], x[1], r.mean, r.rstd, x[2]);
               return pack({g.dx, g.dweight, g.dbias});
             },
             [](V x) { return ref_norm_backward(x[0], x[1], x[2], 256, 64, 1e-5, [](int64_t, int64_t j) { return j; }); }};
    b.tol32 = 2e-4;
    b.tol64 = 1e-12;
    c.push_back(b);
  }
  // LayerNorm over the last dim of [B, T, D] (strided input) and of [M, D] (through the GroupNorm kernels).
  struct L { Shape x; bool affine; bool transposed; };
  for (const L& l : {L{{3, 7, 48}, true, true}, L{{4, 6}, false, true}, L{{3, 4, 5}, true, false}}) {
    const int64_t d = l.x.back();
    const std::string tag = "layer_norm: x " + shape_str(l.x) + (l.affine ? " affine" : "") + (l.transposed ? " transposed" : "");
    std::vector<Arg> args = {l.transposed ? tr(l.x, -2, 2) : in(l.x, -2, 2)};
    if (l.affine) {
      args.push_back(in({d}, 0.5, 1.5));
      args.push_back(in({d}));
    }
    OpCase f{"GroupNorm", tag, args,
             [](V x) {
               ops::NormResult r = ops::layer_norm(x[0], x.size() > 1 ? x[1] : Tensor(), x.size() > 2 ? x[2] : Tensor(), 1e-5);
               return pack({r.y, r.mean, r.rstd});
             },
             [](V x) { return ref_layer_norm(x[0], x.size() > 1 ? x[1] : Tensor(), x.size() > 2 ? x[2] : Tensor(), 1e-5); }};
    f.tol32 = 5e-5;
    c.push_back(f);
    std::vector<Arg> bargs = {in(l.x), in(l.x, -2, 2)};
    if (l.affine) bargs.push_back(in({d}, 0.5, 1.5));
    const bool affine = l.affine;
    OpCase b{"GroupNormBackward", tag, bargs,
             [](V x) {
               Tensor w = x.size() > 2 ? x[2] : Tensor();
               ops::NormResult r = ops::layer_norm(x[1], w, Tensor(), 1e-5);
               ops::NormGrads gr = ops::layer_norm_backward(x[0], x[1], r.mean, r.rstd, w);
               return pack({gr.dx, gr.dweight, gr.dbias});
             },
             [affine, d](V x) {
               return ref_norm_backward(x[0], x[1], affine ? x[2] : Tensor(), x[1].numel() / d, d, 1e-5,
                                        [](int64_t, int64_t j) { return j; });
             }};
    b.tol32 = 2e-4;
    c.push_back(b);
  }
}

}  // namespace drift::optest
