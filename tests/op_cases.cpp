// The registry and the helpers the case files share (references in float64
// on host vectors).
#include "tests/op_cases.h"

#include <algorithm>
#include <cmath>

namespace drift::optest {

std::vector<OpCase>& registry() {
  static std::vector<OpCase> cases;
  return cases;
}

const std::vector<OpCase>& all_cases() {
  static const std::vector<OpCase> sorted = [] {
    std::vector<OpCase> c = registry();
    std::stable_sort(c.begin(), c.end(), [](const OpCase& a, const OpCase& b) { return a.op < b.op; });
    return c;
  }();
  return sorted;
}

Tensor pack(const Tensors& outs) {
  Tensors flat;
  for (const Tensor& t : outs)
    if (t.defined()) flat.push_back(ops::reshape(t, {t.numel()}));
  return ops::cat(flat, 0);
}

Tensor on(const Tensor& t, const Tensor& like) { return ops::to(ops::to(t, like.dtype()), like.device()); }
Tensor on_device(const Tensor& t, const Tensor& like) { return ops::to(t, like.device()); }

Host host(const Tensor& t) { return Host{t.shape(), ops::to_vector_f64(t)}; }
Tensor tensor(const Host& h) { return ops::from_vector(h.v, h.shape); }
Tensor tensor(std::vector<double> v, Shape s) { return ops::from_vector(v, s); }

namespace {
// Row-major strides of shape; the flat index of `idx` in a tensor of `shape`
// broadcast to idx's rank (size-1 and missing leading dims read index 0).
Shape strides_of(const Shape& s) {
  Shape st(s.size(), 1);
  for (int64_t d = static_cast<int64_t>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
  return st;
}
int64_t broadcast_index(const Shape& idx, const Shape& s) {
  const Shape st = strides_of(s);
  const size_t off = idx.size() - s.size();
  int64_t flat = 0;
  for (size_t d = 0; d < s.size(); ++d) flat += (s[d] == 1 ? 0 : idx[off + d]) * st[d];
  return flat;
}
Shape unravel(int64_t flat, const Shape& s) {
  Shape idx(s.size());
  for (int64_t d = static_cast<int64_t>(s.size()) - 1; d >= 0; --d) {
    idx[d] = flat % s[d];
    flat /= s[d];
  }
  return idx;
}
}  // namespace

Tensor ref_map(const Tensor& x, const std::function<double(double)>& f) {
  Host h = host(x);
  for (double& v : h.v) v = f(v);
  return tensor(h);
}

Tensor ref_zip(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  return ref_zip3(a, b, b, [&f](double x, double y, double) { return f(x, y); });
}

Tensor ref_zip3(const Tensor& a, const Tensor& b, const Tensor& c,
                const std::function<double(double, double, double)>& f) {
  const Shape s = broadcast_shapes(broadcast_shapes(a.shape(), b.shape()), c.shape());
  Host ha = host(a), hb = host(b), hc = host(c), out{s, std::vector<double>(static_cast<size_t>(shape_numel(s)))};
  for (int64_t i = 0; i < out.numel(); ++i) {
    const Shape idx = unravel(i, s);
    out.v[i] = f(ha.v[broadcast_index(idx, ha.shape)], hb.v[broadcast_index(idx, hb.shape)],
                 hc.v[broadcast_index(idx, hc.shape)]);
  }
  return tensor(out);
}

Tensor ref_reduce(const Tensor& x, std::vector<int64_t> dims, bool keepdim,
                  const std::function<double(const std::vector<double>&)>& f) {
  const Host h = host(x);
  const int64_t rank = static_cast<int64_t>(h.shape.size());
  std::vector<bool> reduced(rank, dims.empty());
  for (int64_t d : dims) reduced[d < 0 ? d + rank : d] = true;
  Shape out_keep = h.shape;
  for (int64_t d = 0; d < rank; ++d)
    if (reduced[d]) out_keep[d] = 1;
  std::vector<std::vector<double>> groups(static_cast<size_t>(shape_numel(out_keep)));
  for (int64_t i = 0; i < h.numel(); ++i) groups[broadcast_index(unravel(i, h.shape), out_keep)].push_back(h.v[i]);
  Host out{out_keep, {}};
  for (const auto& g : groups) out.v.push_back(f(g));
  if (!keepdim) {
    Shape s;
    for (int64_t d = 0; d < rank; ++d)
      if (!reduced[d]) s.push_back(h.shape[d]);
    out.shape = s;
  }
  return tensor(out);
}

Tensor ref_adjoint(const std::function<Tensor(const Tensor&)>& f, const Shape& x_shape, const Tensor& g) {
  Host hg = host(g), out{x_shape, std::vector<double>(static_cast<size_t>(shape_numel(x_shape)))};
  for (size_t i = 0; i < out.v.size(); ++i) {
    Host e{x_shape, std::vector<double>(out.v.size(), 0.0)};
    e.v[i] = 1;
    Host y = host(f(tensor(e)));
    double s = 0;
    for (size_t j = 0; j < y.v.size(); ++j) s += y.v[j] * hg.v[j];
    out.v[i] = s;
  }
  return tensor(out);
}

Tensor ref_vjp(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& g) {
  Host hx = host(x), hg = host(g), out{hx.shape, std::vector<double>(hx.v.size())};
  const double h = 1e-6;
  auto proj = [&](const Host& at) {
    Host y = host(f(tensor(at)));
    double s = 0;
    for (size_t i = 0; i < y.v.size(); ++i) s += y.v[i] * hg.v[i];
    return s;
  };
  for (size_t i = 0; i < hx.v.size(); ++i) {
    Host p = hx, m = hx;
    p.v[i] += h;
    m.v[i] -= h;
    out.v[i] = (proj(p) - proj(m)) / (2 * h);
  }
  return tensor(out);
}

}  // namespace drift::optest
