// Cases: matrix products (matmul), convolution (conv), pooling and
// upsampling (pool). References: direct loops in float64.
#include <array>
#include <cmath>

#include "tests/op_cases.h"

namespace drift::optest {
namespace {

// NumPy matmul for rank >= 2 with broadcast batch dims.
Tensor ref_matmul(const Tensor& a, const Tensor& b) {
  Host ha = host(a), hb = host(b);
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  Shape ba(ha.shape.begin(), ha.shape.end() - 2), bb(hb.shape.begin(), hb.shape.end() - 2);
  Shape batch = broadcast_shapes(ba, bb);
  // Batch index -> the matrix of a and of b (size-1 dims broadcast).
  auto pick = [&batch](const Shape& s, int64_t flat) {
    Shape idx(batch.size());
    for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
      idx[d] = flat % batch[d];
      flat /= batch[d];
    }
    int64_t r = 0;
    const size_t off = batch.size() - s.size();
    for (size_t d = 0; d < s.size(); ++d) r = r * s[d] + (s[d] == 1 ? 0 : idx[off + d]);
    return r;
  };
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Host o{out_shape, std::vector<double>(static_cast<size_t>(shape_numel(out_shape)))};
  for (int64_t bi = 0; bi < shape_numel(batch); ++bi) {
    const double* pa = ha.v.data() + pick(ba, bi) * m * k;
    const double* pb = hb.v.data() + pick(bb, bi) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) s += pa[i * k + q] * pb[q * n + j];
        o.v[(bi * m + i) * n + j] = s;
      }
  }
  return tensor(o);
}

// Direct convolution: x [N, Cin, H, W], w [Cout, Cin, kh, kw], bias [Cout] or undefined.
Tensor ref_conv(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride, int64_t pad) {
  Host hx = host(x), hw = host(w);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), KH = w.size(2), KW = w.size(3);
  const int64_t Ho = (H + 2 * pad - KH) / stride + 1, Wo = (W + 2 * pad - KW) / stride + 1;
  std::vector<double> hb = bias.defined() ? host(bias).v : std::vector<double>(O, 0.0);
  Host o{{N, O, Ho, Wo}, std::vector<double>(static_cast<size_t>(N * O * Ho * Wo))};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < O; ++oc)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double s = hb[oc];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t p = 0; p < KH; ++p)
              for (int64_t q = 0; q < KW; ++q) {
                const int64_t y = i * stride - pad + p, xx = j * stride - pad + q;
                if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
                s += hx.v[((n * C + c) * H + y) * W + xx] * hw.v[((oc * C + c) * KH + p) * KW + q];
              }
          o.v[((n * O + oc) * Ho + i) * Wo + j] = s;
        }
  return tensor(o);
}

// The adjoints of the convolution map (the backward passes): the same loops
// as ref_conv, scattering gy into dx (which = 0) or into dw (which = 1).
Tensor ref_conv_adjoint(const Tensor& gy, const Tensor& other, const Shape& want, int64_t stride, int64_t pad, int which) {
  Host hg = host(gy), ho = host(other);
  const Shape xs = which == 0 ? want : other.shape(), ws = which == 0 ? other.shape() : want;
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], KH = ws[2], KW = ws[3];
  const int64_t Ho = gy.size(2), Wo = gy.size(3);
  Host o{want, std::vector<double>(static_cast<size_t>(shape_numel(want)))};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < O; ++oc)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          const double g = hg.v[((n * O + oc) * Ho + i) * Wo + j];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t p = 0; p < KH; ++p)
              for (int64_t q = 0; q < KW; ++q) {
                const int64_t y = i * stride - pad + p, xx = j * stride - pad + q;
                if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
                const int64_t xi = ((n * C + c) * H + y) * W + xx, wi = ((oc * C + c) * KH + p) * KW + q;
                if (which == 0) o.v[xi] += g * ho.v[wi];
                else o.v[wi] += g * ho.v[xi];
              }
        }
  return tensor(o);
}

Tensor ref_avg_pool(const Tensor& x, int64_t k) {
  Host h = host(x);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), Ho = H / k, Wo = W / k;
  Host o{{N, C, Ho, Wo}, std::vector<double>(static_cast<size_t>(N * C * Ho * Wo))};
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p)
          for (int64_t q = 0; q < k; ++q) s += h.v[(nc * H + i * k + p) * W + j * k + q];
        o.v[(nc * Ho + i) * Wo + j] = s / static_cast<double>(k * k);
      }
  return tensor(o);
}

Tensor ref_upsample(const Tensor& x, int64_t s) {
  Host h = host(x);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Host o{{N, C, H * s, W * s}, std::vector<double>(static_cast<size_t>(N * C * H * s * W * s))};
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t i = 0; i < H * s; ++i)
      for (int64_t j = 0; j < W * s; ++j) o.v[(nc * H * s + i) * W * s + j] = h.v[(nc * H + i / s) * W + j / s];
  return tensor(o);
}

struct Conv { Shape x, w; int64_t stride, pad; bool bias; };

}  // namespace

DRIFT_OP_CASES(matmul) {
  auto mm = [](V x) { return ops::matmul(x[0], x[1]); };
  auto ref = [](V x) { return ref_matmul(x[0], x[1]); };
  auto add = [&](std::string what, Arg a, Arg b, double tol32 = 2e-5) {
    OpCase k{"Matmul", std::move(what), {std::move(a), std::move(b)}, mm, ref};
    k.tol32 = tol32;
    const double m = k.args[0].shape.end()[-2], kk = k.args[0].shape.back(), n = k.args[1].shape.back();
    const double batch = m * kk > 0 ? static_cast<double>(shape_numel(k.args[0].shape)) / (m * kk) : 0;
    k.flops = 2 * m * kk * n * batch;
    k.bytes = 4 * (static_cast<double>(shape_numel(k.args[0].shape) + shape_numel(k.args[1].shape)) + m * n);
    return k;
  };
  c.push_back(add("2d [7,5] @ [5,9]", in({7, 5}), in({5, 9})));
  c.push_back(add("A^T B^T (transposed views go to BLAS as flags)", tr({7, 5}), tr({5, 9})));
  c.push_back(add("batched broadcast [2,3,4,6] @ [3,6,5]", in({2, 3, 4, 6}), in({3, 6, 5})));
  c.push_back(add("broadcast [2,1,3,4] @ [3,4,2]", in({2, 1, 3, 4}), in({3, 4, 2})));
  c.push_back(add("row x column [1,6] @ [4,6,1]", in({1, 6}), in({4, 6, 1})));
  c.push_back(add("shared matrix in a batch [2,3,4] @ [4,3]", in({2, 3, 4}), in({4, 3})));
  c.push_back(add("Linear [3,8,16] @ W^T", in({3, 8, 16}), tr({16, 12})));
  c.push_back(add("not a BLAS layout (copied): strided [6,5] @ narrowed [5,4]", strided({6, 5}), nar({5, 4})));
  c.push_back(add("odd sizes [33,17] @ [17,65]", in({33, 17}), in({17, 65}), 5e-5));
  c.push_back(add("256x300x200", in({256, 300}), in({300, 200}), 1e-4));
  c.push_back(add("attention-like batched [8,64,32] @ [8,32,64]", in({8, 64, 32}), in({8, 32, 64}), 5e-5));
  c.push_back(add("k = 0 gives zeros", in({4, 0}), in({0, 5})));
  // Sizes from 1x1x1 to tall-skinny; shared, expanded and permuted batches; many small batches in parallel.
  for (auto [m, k, n] : {std::array<int64_t, 3>{1, 1, 1}, {7, 5, 3}, {33, 17, 29}, {64, 128, 1}}) {
    OpCase s = add("[" + std::to_string(m) + "," + std::to_string(k) + "] @ [" + std::to_string(k) + "," +
                       std::to_string(n) + "]",
                   in({m, k}), in({k, n}), 1e-5);
    s.tol64 = 1e-12;
    c.push_back(s);
  }
  OpCase sl = add("shared left operand [3,4] @ [4,4,5] (batch stride 0)", in({3, 4}), in({4, 4, 5}));
  sl.tol64 = 1e-12;
  c.push_back(sl);
  OpCase ex = add("expanded batch of a: [4,3,4] (stride 0) @ [4,4,5]", bc({1, 3, 4}, {4, 3, 4}), in({4, 4, 5}));
  ex.tol64 = 1e-12;
  c.push_back(ex);
  OpCase pb{"Matmul", "permuted batch dims (not one stride, copied) [2,3,3,4] @ [2,3,4,5]", {in({3, 2, 3, 4}), in({2, 3, 4, 5})},
            [](V x) { return ops::matmul(ops::permute(x[0], {1, 0, 2, 3}), x[1]); },
            [](V x) { return ref_matmul(ops::permute(x[0], {1, 0, 2, 3}), x[1]); }};
  pb.tol64 = 1e-12;
  c.push_back(pb);
  c.push_back(add("many small batches [37,8,16] @ [37,16,8]", in({37, 8, 16}), in({37, 16, 8}), 1e-5));
  // Float32 through the fast GEMM against float64: attention-shaped batches
  // with transposed operands, one product split over threads, x @ W^T (within 1e-5 sqrt(K)).
  struct T { Shape a, b; bool ta, tb; };
  for (const T& t : {T{{6, 70, 50}, {6, 50, 90}, false, false}, T{{6, 70, 50}, {6, 50, 90}, true, false},
                     T{{6, 70, 50}, {6, 50, 90}, false, true}, T{{1, 100, 60}, {1, 60, 200}, false, false},
                     T{{1, 100, 60}, {1, 60, 200}, true, true}, T{{1, 16, 256}, {1, 256, 130}, false, true}}) {
    OpCase g = add(std::string("fast GEMM ") + shape_str(t.a) + " @ " + shape_str(t.b) + (t.ta ? " a^T" : "") +
                       (t.tb ? " b^T" : ""),
                   t.ta ? tr(t.a) : in(t.a), t.tb ? tr(t.b) : in(t.b), 1e-5 * std::sqrt(double(t.a[2])));
    c.push_back(g);
  }
  OpCase big = add("512x512x512", in({512, 512}), in({512, 512}), 2e-4);
  big.perf_only = true;
  c.push_back(big);
}

DRIFT_OP_CASES(conv) {
  const Conv convs[] = {
      {{2, 3, 8, 8}, {4, 3, 3, 3}, 1, 1, true},  {{2, 3, 9, 7}, {5, 3, 3, 3}, 2, 1, false},
      {{1, 4, 6, 6}, {2, 4, 1, 1}, 1, 0, true},  {{3, 2, 7, 8}, {3, 2, 3, 2}, 2, 0, true},
      {{2, 8, 16, 16}, {8, 8, 3, 3}, 1, 1, true}, {{1, 1, 5, 5}, {1, 1, 5, 5}, 1, 2, false},
      {{2, 3, 5, 7}, {4, 3, 3, 5}, 2, 1, true},  {{1, 16, 14, 13}, {12, 16, 3, 3}, 1, 1, true},
      // the float32 paths of tensor/cpu/conv_fast.h: stride-1 outputs wider than
      // kShiftedMinWo (shifted windows), small images several per GEMM chunk
      {{2, 3, 13, 17}, {5, 3, 3, 5}, 1, 2, true}, {{3, 4, 28, 28}, {8, 4, 3, 3}, 1, 1, true},
      {{9, 3, 7, 7}, {4, 3, 3, 3}, 1, 1, false},
  };
  // Odd sizes: non-square kernels and images, strides 1-2, padding 0-2, C = 1
  // and 7, batches that take both the threaded-chunk and the serial paths.
  std::vector<Conv> all(std::begin(convs), std::end(convs));
  const int64_t odd[][9] = {  // N, C, H, W, O, kh, kw, stride, pad
      {2, 1, 5, 7, 3, 3, 5, 1, 0},    // C = 1, 3x5 kernel
      {3, 7, 9, 6, 4, 3, 5, 2, 1},    // stride 2, pad 1
      {1, 7, 8, 11, 5, 3, 3, 2, 2},   // N = 1 (serial, threaded BLAS), pad 2
      {5, 3, 4, 4, 2, 1, 1, 1, 0},    // 1x1 stride 1: plain GEMM
      {4, 2, 6, 5, 3, 1, 1, 2, 1},    // 1x1 with stride and padding: im2col path
      {9, 3, 7, 7, 4, 3, 3, 1, 1},    // small images: several per GEMM chunk
      {6, 4, 28, 28, 8, 3, 3, 1, 1},  // one image per chunk
      {3, 2, 5, 5, 3, 5, 5, 1, 2},    // kernel as large as the image
      {1, 5, 3, 4, 6, 1, 1, 1, 0},    // 1x1, N = 1
      {2, 3, 13, 17, 5, 3, 5, 1, 2},  // stride 1, wide output: padded-window (no im2col) path
      {5, 2, 12, 14, 4, 5, 3, 1, 0},  // same, no padding, threads over images
      {1, 3, 9, 20, 2, 3, 3, 1, 1},   // same, N = 1 (threads over columns)
  };
  for (const auto& o : odd)
    for (bool bias : {true, false}) all.push_back({{o[0], o[1], o[2], o[3]}, {o[4], o[1], o[5], o[6]}, o[7], o[8], bias});
  for (const Conv& k : all) {
    const std::string tag = "x " + shape_str(k.x) + " w " + shape_str(k.w) + " stride " + std::to_string(k.stride) +
                            " pad " + std::to_string(k.pad) + (k.bias ? " bias" : "");
    const int64_t s = k.stride, p = k.pad;
    const Shape xs = k.x, ws = k.w;
    const int64_t ho = (k.x[2] + 2 * p - k.w[2]) / s + 1, wo = (k.x[3] + 2 * p - k.w[3]) / s + 1;
    const Shape ys = {k.x[0], k.w[0], ho, wo};
    const double flops = 2.0 * shape_numel(ys) * k.w[1] * k.w[2] * k.w[3];
    std::vector<Arg> args = {in(k.x), in(k.w)};
    if (k.bias) args.push_back(in({k.w[0]}));
    OpCase f{"Conv2d", tag, args,
             [s, p](V x) { return ops::conv2d(x[0], x[1], x.size() > 2 ? x[2] : Tensor(), s, p); },
             [s, p](V x) { return ref_conv(x[0], x[1], x.size() > 2 ? x[2] : Tensor(), s, p); }};
    f.flops = flops;
    f.tol32 = 2e-5;
    f.tol64 = 1e-12;
    c.push_back(f);
    // a channels-last input permuted back (non-contiguous)
    OpCase fs = f;
    fs.what = tag + ", channels-last input";
    fs.args[0] = in({k.x[0], k.x[2], k.x[3], k.x[1]});
    fs.fn = [s, p](V x) { return ops::conv2d(ops::permute(x[0], {0, 3, 1, 2}), x[1], x.size() > 2 ? x[2] : Tensor(), s, p); };
    fs.ref = [s, p](V x) { return ref_conv(ops::permute(x[0], {0, 3, 1, 2}), x[1], x.size() > 2 ? x[2] : Tensor(), s, p); };
    c.push_back(fs);
    // The backward passes are the adjoints of the forward map in x and in w.
    OpCase bi{"Conv2dBackwardInput", tag, {in(ys), in(k.w)},
              [s, p, xs](V x) { return ops::conv2d_backward_input(x[0], x[1], xs, s, p); },
              [s, p, xs](V x) { return ref_conv_adjoint(x[0], x[1], xs, s, p, 0); }};
    bi.flops = flops;
    bi.tol32 = 2e-5;
    bi.tol64 = 1e-12;
    c.push_back(bi);
    OpCase bw{"Conv2dBackwardWeight", tag, {in(ys), in(k.x)},
              [s, p, ws](V x) { return ops::conv2d_backward_weight(x[0], x[1], ws, s, p); },
              [s, p, ws](V x) { return ref_conv_adjoint(x[0], x[1], ws, s, p, 1); }};
    bw.flops = flops;
    bw.tol32 = 2e-5;
    bw.tol64 = 1e-12;
    c.push_back(bw);
  }
}

DRIFT_OP_CASES(pool) {
  // Windows that drop the last row / column (floor), float32 3x3 windows.
  c.push_back({"AvgPool2d", "k 2 on [2,3,7,5] (last row and column dropped)", {in({2, 3, 7, 5})},
               [](V x) { return ops::avg_pool2d(x[0], 2); }, [](V x) { return ref_avg_pool(x[0], 2); }});
  c.push_back({"AvgPool2d", "k 3 on [1,2,6,9]", {in({1, 2, 6, 9})}, [](V x) { return ops::avg_pool2d(x[0], 3); },
               [](V x) { return ref_avg_pool(x[0], 3); }});
  // The backward passes are the adjoints, for k = 1, 2, 3 on [2,3,7,8].
  for (int64_t k : {1, 2, 3}) {
    const Shape xs = {2, 3, 7, 8};
    OpCase pb{"AvgPool2dBackward", "k " + std::to_string(k) + " on [2,3,7,8]", {in({2, 3, 7 / k, 8 / k})},
              [k, xs](V g) { return ops::avg_pool2d_backward(g[0], xs, k); },
              [k, xs](V g) { return ref_adjoint([k](const Tensor& e) { return ref_avg_pool(e, k); }, xs, g[0]); }};
    pb.tol64 = 1e-12;
    c.push_back(pb);
    OpCase ub{"UpsampleNearest2dBackward", "x" + std::to_string(k) + " on [2,3,7,8]", {in({2, 3, 7 * k, 8 * k})},
              [k, xs](V g) { return ops::upsample_nearest2d_backward(g[0], xs, k); },
              [k, xs](V g) { return ref_adjoint([k](const Tensor& e) { return ref_upsample(e, k); }, xs, g[0]); }};
    ub.tol64 = 1e-12;
    c.push_back(ub);
  }
  for (int64_t k : {2, 4}) {
    OpCase a{"AvgPool2d", "k " + std::to_string(k) + " on [2,3,8,12]", {in({2, 3, 8, 12})},
             [k](V x) { return ops::avg_pool2d(x[0], k); }, [k](V x) { return ref_avg_pool(x[0], k); }};
    a.bytes = 4.0 * 2 * 3 * 8 * 12 * (1 + 1.0 / (k * k));
    c.push_back(a);
    OpCase at = a;
    at.what += ", transposed";
    at.args = {tr({2, 3, 8, 12})};
    c.push_back(at);
    const Shape xs = {2, 3, 8, 12};
    c.push_back({"AvgPool2dBackward", "k " + std::to_string(k), {in({2, 3, 8 / k, 12 / k})},
                 [k, xs](V g) { return ops::avg_pool2d_backward(g[0], xs, k); },
                 [k, xs](V g) { return ref_adjoint([k](const Tensor& e) { return ref_avg_pool(e, k); }, xs, g[0]); }});
  }
  for (int64_t s : {2, 3}) {
    OpCase u{"UpsampleNearest2d", "x" + std::to_string(s) + " on [2,3,4,5]", {strided({2, 3, 4, 5})},
             [s](V x) { return ops::upsample_nearest2d(x[0], s); }, [s](V x) { return ref_upsample(x[0], s); }};
    u.exact = true;
    c.push_back(u);
    const Shape xs = {2, 3, 4, 5};
    c.push_back({"UpsampleNearest2dBackward", "x" + std::to_string(s), {in({2, 3, 4 * s, 5 * s})},
                 [s, xs](V g) { return ops::upsample_nearest2d_backward(g[0], xs, s); },
                 [s, xs](V g) { return ref_adjoint([s](const Tensor& e) { return ref_upsample(e, s); }, xs, g[0]); }});
  }
}

}  // namespace drift::optest
