// Cases: fused attention (attention), its gradient, and perf cases on the
// U-Net's attention shapes beside the path it replaced (matmul, scale,
// softmax, matmul as separate tensors).
// Reference: direct loops in float64.
#include <cmath>
#include <string>

#include "autograd/functions.h"
#include "tests/op_cases.h"

namespace drift::optest {
namespace {

// o[g, c, i] = sum_j P_ij v[g, c, j],  P_i. = softmax_j(scale sum_e q[g, e, i] k[g, e, j])
Tensor ref_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  Host hq = host(q), hk = host(k), hv = host(v);
  const int64_t G = q.size(0), d = q.size(1), nq = q.size(2), nk = k.size(2), dv = v.size(1);
  Host o;
  o.shape = {G, dv, nq};
  o.v.assign(static_cast<size_t>(G * dv * nq), 0.0);
  std::vector<double> s(static_cast<size_t>(nk));
  for (int64_t g = 0; g < G; ++g)
    for (int64_t i = 0; i < nq; ++i) {
      double m = -INFINITY, sum = 0;
      for (int64_t j = 0; j < nk; ++j) {
        double dot = 0;
        for (int64_t e = 0; e < d; ++e) dot += hq.v[(g * d + e) * nq + i] * hk.v[(g * d + e) * nk + j];
        s[j] = scale * dot;
        m = std::max(m, s[j]);
      }
      for (int64_t j = 0; j < nk; ++j) sum += (s[j] = std::exp(s[j] - m));
      for (int64_t c = 0; c < dv; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < nk; ++j) acc += s[j] / sum * hv.v[(g * dv + c) * nk + j];
        o.v[(g * dv + c) * nq + i] = acc;
      }
    }
  return tensor(o);
}

// The U-Net's attention before the fused op: w = softmax(q^T k scale); o = v w^T.
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  Tensor w = ops::softmax(ops::mul(ops::matmul(ops::transpose(q, 1, 2), k), scale), -1);
  return ops::matmul(v, ops::transpose(w, 1, 2));
}

double attention_flops(int64_t g, int64_t d, int64_t dv, int64_t nq, int64_t nk) {
  return 2.0 * g * nq * nk * (d + dv);
}

}  // namespace

DRIFT_OP_CASES(attention) {
  // Shapes: q [G, d, Nq], k [G, d, Nk], v [G, dv, Nk].
  struct S { int64_t g, d, dv, nq, nk; double lo, hi; const char* what; };
  for (const S& s : {S{2, 8, 8, 5, 5, -1, 1, "self-attention"}, S{3, 4, 6, 7, 9, -1, 1, "dv != d, Nq != Nk"},
                     S{1, 16, 16, 70, 33, -1, 1, "more queries than one row block (64)"},
                     S{2, 3, 2, 4, 130, -1, 1, "long rows (130 keys)"},
                     S{2, 4, 4, 6, 6, -20, 20, "large scores (stability)"}, S{1, 1, 1, 1, 1, -1, 1, "one query, one key"}}) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
    OpCase a{"Attention", std::string(s.what),
             {in({s.g, s.d, s.nq}, s.lo, s.hi), in({s.g, s.d, s.nk}, s.lo, s.hi), in({s.g, s.dv, s.nk})},
             [scale](V x) { return ops::attention(x[0], x[1], x[2], scale); },
             [scale](V x) { return ref_attention(x[0], x[1], x[2], scale); }};
    a.tol32 = s.hi > 1 ? 1e-4 : 2e-5;
    a.atol32 = s.hi > 1 ? 1e-4 : 2e-6;
    a.flops = attention_flops(s.g, s.d, s.dv, s.nq, s.nk);
    c.push_back(a);
  }
  // Strided inputs: transposed and narrowed q, k, v (the frontend copies) and a
  // d > 128 problem (the CUDA flash kernel's limit: its naive kernel runs).
  c.push_back({"Attention", "transposed / narrowed / strided inputs",
               {tr({2, 6, 5}), nar({2, 6, 4}), strided({2, 3, 4})},
               [](V x) { return ops::attention(x[0], x[1], x[2], 0.7); },
               [](V x) { return ref_attention(x[0], x[1], x[2], 0.7); }});
  c.push_back({"Attention", "d = dv = 160 (beyond the flash kernel's tile)",
               {in({2, 160, 9}), in({2, 160, 11}), in({2, 160, 11})},
               [](V x) { return ops::attention(x[0], x[1], x[2], 1.0 / std::sqrt(160.0)); },
               [](V x) { return ref_attention(x[0], x[1], x[2], 1.0 / std::sqrt(160.0)); }});
  c.back().tol32 = 5e-5;

  // The U-Net's shapes: mnist (attention at 7x7, 64 channels, batch 64) and
  // cifar (16x16, 128 channels, batch 16 on the CPU; 128 on a GPU), fused op
  // against the composed path it replaced.
  struct P { const char* name; int64_t g, d, n; };
  for (const P& p : {P{"mnist [64, 64, 49]", 64, 64, 49}, P{"cifar [16, 128, 256]", 16, 128, 256},
                     P{"cifar batch 128 [128, 128, 256]", 128, 128, 256}}) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(p.d));
    const double f = attention_flops(p.g, p.d, p.d, p.n, p.n);
    for (bool fused : {true, false}) {
      OpCase k{"Attention", std::string("perf: ") + p.name + (fused ? ", fused op" : ", composed (matmul, softmax, matmul)"),
               {in({p.g, p.d, p.n}), in({p.g, p.d, p.n}), in({p.g, p.d, p.n})},
               fused ? Fn([scale](V x) { return ops::attention(x[0], x[1], x[2], scale); })
                     : Fn([scale](V x) { return composed_attention(x[0], x[1], x[2], scale); })};
      k.flops = f;
      k.perf_only = true;
      k.dtypes = {F32};
      c.push_back(k);
    }
  }

  // Gradient (float64 gradcheck; backward built from matmul and softmax).
  OpCase g{"attention(Tensor,Tensor,Tensor,double)", "q [2,3,4], k [2,3,5], v [2,2,5]",
           {in({2, 3, 4}), in({2, 3, 5}), in({2, 2, 5})},
           [](V x) { return attention(x[0], x[1], x[2], 0.8); }};
  g.grad = true;
  c.push_back(g);
  OpCase h{"attention(Tensor,Tensor,Tensor,double)", "strided q (a view of a larger tensor)",
           {tr({1, 4, 3}), in({1, 4, 6}), in({1, 4, 6})},
           [](V x) { return attention(x[0], x[1], x[2], 0.5); }};
  h.grad = true;
  c.push_back(h);
}

}  // namespace drift::optest
